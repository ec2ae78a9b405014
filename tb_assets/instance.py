"""Instance plumbing that dagster.yaml cannot express on its own.

dagster.yaml can read TB_DATA_DIR but cannot join a sub-folder to it, and Dagster's local
compute-log manager writes one folder per run into its base directory: DataDirComputeLogManager
keeps step logs in TB_DATA_DIR/dagster_logs. open_instance() makes first use safe for
concurrent processes.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster import Field, StringSource
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from filelock import FileLock

from tb_assets.assets.common import DUCKDB_POOL


class DataDirComputeLogManager(LocalComputeLogManager):
    """LocalComputeLogManager rooted at TB_DATA_DIR/<subdir>."""

    def __init__(self, subdir: str = "dagster_logs", inst_data: ConfigurableClassData | None = None):
        data_dir = os.environ.get("TB_DATA_DIR")
        if not data_dir:
            raise RuntimeError("TB_DATA_DIR is not set: start Dagster through `tb dev` or export TB_DATA_DIR")
        super().__init__(base_dir=os.path.join(data_dir, subdir), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"subdir": Field(StringSource, is_required=False, default_value="dagster_logs")}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)


@contextmanager
def open_instance() -> Iterator[dg.DagsterInstance]:
    """The persistent instance (DAGSTER_HOME), with its storage created under a file lock.

    Dagster's SQLite storages create their schema on first use; two processes doing that at
    once (two `tb run` started together on a fresh TB_DATA_DIR) fail with "table already
    exists" or a UNIQUE error on alembic_version. Serialising the first touch avoids it.
    """
    data_dir = Path(os.environ.get("TB_DATA_DIR", "."))
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / ".instance-init.lock"), timeout=300):
        instance = dg.DagsterInstance.get()
        for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
            _ = storage  # rehydrating each storage creates (or migrates) its tables
        instance.get_runs(limit=1)
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.initialize_concurrency_limit_to_default(DUCKDB_POOL)
    try:
        yield instance
    finally:
        instance.dispose()
