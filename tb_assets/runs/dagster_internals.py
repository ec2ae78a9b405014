"""Every private Dagster name the project uses, in one place, each with why no public one serves.

Dagster's private modules (`dagster._...`) change without notice between releases; gathering them
here means an upgrade is checked in one file (verified on 1.13.27). Everything else imports them
from this module, never from `dagster._...` directly. Importing this module loads Dagster.
"""

# --- the instance under TB_DATA_DIR (runs/instance.py) --------------------------------------------
# dagster.yaml can read an environment variable but cannot default it or join a folder to it: the
# instance's storages are subclassed so they default to TB_DATA_DIR; the classes and their config
# plumbing are only importable from their private modules.
# --- `tb run`'s own runs (runs/launch.py) ------------------------------------------------------------
# `tb run` executes real runs without a daemon, exactly as Dagster's run launcher does: it creates
# the run with the code location's origin (so the UI files it under the job) and starts
# `dagster api execute_run` with its serialized arguments. None of these has a public API.
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import create_execution_plan

# --- `tb backfill` (runs/backfill.py) ----------------------------------------------------------------
# queueing an asset backfill from Python (what the UI's Materialize -> backfill does): the GraphQL
# API would need a running webserver, and `dg.BackfillRequest` does not exist (DESIGN §5)
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus, PartitionBackfill
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus  # run monitoring asks our launcher about a worker
from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

# --- check executions (runs/events.py) ----------------------------------------------------------------
# the alert sensor reads finished check executions by status; the status enum has no public export
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage

# --- dead runs (runs/dead_runs.py) ------------------------------------------------------------------
# a SQLite run storage is a per-machine one: only there can a worker's pid be judged from this host
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id

# --- the team profile (cluster/) -----------------------------------------------------------------------
# the Celery worker unpacks the task's arguments (dagster-celery packs them with the private serdes);
# `tb cluster up` pings the code server over gRPC to know it answers
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ExecuteRunArgs  # also: the Celery worker reads the run id of the task it takes
from dagster._serdes import ConfigurableClassData, unpack_value

# --- settings ----------------------------------------------------------------------------------------
# the cron check Dagster's own schedules and automation conditions apply
from dagster._utils.schedules import is_valid_cron_string

__all__ = [
    "BULK_ACTION_TERMINAL_STATUSES",
    "AssetCheckExecutionRecordStatus",
    "BulkActionStatus",
    "CheckRunHealthResult",
    "ConfigurableClassData",
    "DagsterGrpcClient",
    "DagsterSqliteStorage",
    "ExecuteRunArgs",
    "LoadableTargetOrigin",
    "LocalArtifactStorage",
    "LocalComputeLogManager",
    "ManagedGrpcPythonEnvCodeLocationOrigin",
    "PartitionBackfill",
    "ReconstructableRepository",
    "RemoteJobOrigin",
    "RemoteRepositoryOrigin",
    "SqliteRunStorage",
    "WorkerStatus",
    "create_execution_plan",
    "is_valid_cron_string",
    "make_new_backfill_id",
    "unpack_value",
]
