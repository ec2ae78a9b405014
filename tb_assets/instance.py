"""Instance plumbing that dagster.yaml cannot express on its own.

dagster.yaml can read TB_DATA_DIR but cannot join a sub-folder to it, and Dagster's local
compute-log manager writes one folder per run into its base directory. This keeps step logs
in TB_DATA_DIR/dagster_logs instead of scattering run folders over the data root.
"""

import os

from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster import Field, StringSource


class DataDirComputeLogManager(LocalComputeLogManager):
    """LocalComputeLogManager rooted at TB_DATA_DIR/<subdir>."""

    def __init__(self, subdir: str = "dagster_logs", inst_data: ConfigurableClassData | None = None):
        data_dir = os.environ.get("TB_DATA_DIR")
        if not data_dir:
            raise RuntimeError("TB_DATA_DIR is not set: start Dagster through `tb dev` or export TB_DATA_DIR")
        self._subdir = subdir
        super().__init__(base_dir=os.path.join(data_dir, subdir), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"subdir": Field(StringSource, is_required=False, default_value="dagster_logs")}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)
