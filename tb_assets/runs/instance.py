"""Instance plumbing that dagster.yaml cannot express on its own.

dagster.yaml can read an environment variable but cannot default it or join a sub-folder to it.
These classes put the instance's storage, artifacts and step logs under TB_DATA_DIR, defaulting
to the project's ./data exactly as the settings do, so plain `dagster dev` / `dg dev` /
`dagster definitions validate` run from the project root with nothing exported. open_instance()
makes first use safe for concurrent processes.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster import DefaultRunLauncher, Field, StringSource
from filelock import FileLock

from tb_assets.runs.dagster_internals import (
    CheckRunHealthResult,
    ConfigurableClassData,
    DagsterSqliteStorage,
    LocalArtifactStorage,
    LocalComputeLogManager,
    WorkerStatus,
)
from tb_assets.settings import data_dir


def _under_data_dir(subdir: str) -> str:
    folder = data_dir() / subdir if subdir else data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


class DataDirSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite run, event-log and schedule storage under TB_DATA_DIR/<subdir>."""

    @classmethod
    def config_type(cls):
        return {"subdir": Field(StringSource, is_required=False, default_value="")}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(_under_data_dir(config_value.get("subdir", "")), inst_data=inst_data)


class DataDirArtifactStorage(LocalArtifactStorage):
    """Dagster's local artifact storage (run files, schedule state) under TB_DATA_DIR/<subdir>."""

    @classmethod
    def config_type(cls):
        return {"subdir": Field(StringSource, is_required=False, default_value="")}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(base_dir=_under_data_dir(config_value.get("subdir", "")), inst_data=inst_data)


class DataDirComputeLogManager(LocalComputeLogManager):
    """LocalComputeLogManager rooted at TB_DATA_DIR/<subdir>."""

    def __init__(self, subdir: str = "dagster_logs", inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir=_under_data_dir(subdir), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"subdir": Field(StringSource, is_required=False, default_value="dagster_logs")}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)


class WorkerWatchingRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher (each run in a process of the code server) that the daemon's run
    monitoring can ask whether a run's worker still lives: by the pid the worker recorded when it
    started, as `tb run` and `tb dev` judge at start (runs/dead_runs.py). A run whose worker
    was killed is failed by the daemon within a poll, and its pool slots freed after
    `free_slots_after_run_end_seconds`, with nobody starting `tb run`."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        from tb_assets.runs.dead_runs import dead_worker

        pid = dead_worker(self._instance, run)
        if pid is None:  # alive, not started yet, or another machine's: nothing to judge here
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"tb: its worker process {pid} is gone (killed or crashed)")


@contextmanager
def open_instance() -> Iterator[dg.DagsterInstance]:
    """The persistent instance (DAGSTER_HOME), with its storage created under a file lock.

    Dagster's SQLite storages create their schema on first use; two processes doing that at
    once (two `tb run` started together on a fresh TB_DATA_DIR) fail with "table already
    exists" or a UNIQUE error on alembic_version. Serialising the first touch avoids it.
    """
    folder = Path(_under_data_dir(""))
    with FileLock(str(folder / ".instance-init.lock"), timeout=300):
        instance = dg.DagsterInstance.get()
        for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
            _ = storage  # rehydrating each storage creates (or migrates) its tables
        instance.get_runs(limit=1)
    try:
        yield instance
    finally:
        instance.dispose()
