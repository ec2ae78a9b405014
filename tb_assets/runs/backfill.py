"""`tb backfill`: a real Dagster asset backfill, queued for the daemon exactly as the UI's
Materialize → backfill queues one, then followed until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from tb_assets.runs.dagster_internals import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus, PartitionBackfill, make_new_backfill_id
from tb_assets.runs.events import failure_reason, stored_run_events

BACKFILL_TAG = "dagster/backfill"
DAEMON_FRESH_S = 120  # a daemon heartbeat older than this means no daemon is running


def launch_backfill(
    instance: dg.DagsterInstance,
    asset_graph,
    partition_keys: list[str],
    assets: list[dg.AssetKey],
    *,
    run_config: dict | None = None,
    title: str | None = None,
) -> str:
    """Queue an asset backfill of `assets` × `partition_keys`; the daemon's backfill loop executes it."""
    backfill_id = make_new_backfill_id()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=asset_graph,
        partition_names=partition_keys,
        asset_selection=assets,
        backfill_timestamp=time.time(),
        tags={"tb/launched_by": "tb backfill"},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=title,
        description=None,
        run_config=run_config or None,
    )
    instance.add_backfill(backfill)
    return backfill_id


def daemon_running(instance: dg.DagsterInstance) -> bool:
    """Whether a daemon that executes backfills has beaten its heart recently on this instance."""
    beats = instance.get_daemon_heartbeats()
    beat = beats.get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < DAEMON_FRESH_S


@dataclass
class BackfillProgress:
    status: BulkActionStatus
    targeted: int
    materialized: int
    failed: int  # failed asset-partitions and those downstream of them (never run)
    runs_in_progress: int
    failed_partitions: dict[str, str] = field(default_factory=dict)  # partition -> why

    @property
    def done(self) -> bool:
        return self.status in BULK_ACTION_TERMINAL_STATUSES

    @property
    def ok(self) -> bool:
        return self.status == BulkActionStatus.COMPLETED_SUCCESS and not self.failed


def backfill_progress(instance: dg.DagsterInstance, backfill_id: str) -> BackfillProgress:
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise dg.DagsterInvariantViolationError(f"no backfill {backfill_id} in this instance")
    data = backfill.asset_backfill_data
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    in_progress = sum(not r.is_finished for r in runs)
    failed_partitions = {}
    for run in runs:
        if run.status == dg.DagsterRunStatus.FAILURE:
            key = run.tags.get("dagster/partition", "-")
            failed_partitions.setdefault(key, failure_reason(stored_run_events(instance, run.run_id)))
    return BackfillProgress(
        status=backfill.status,
        targeted=data.target_subset.num_partitions_and_non_partitioned_assets if data else 0,
        materialized=data.materialized_subset.num_partitions_and_non_partitioned_assets if data else 0,
        failed=data.failed_and_downstream_subset.num_partitions_and_non_partitioned_assets if data else 0,
        runs_in_progress=in_progress,
        failed_partitions=failed_partitions,
    )


def follow_backfill(
    instance: dg.DagsterInstance,
    backfill_id: str,
    on_progress: Callable[[BackfillProgress], None],
    *,
    poll_s: float = 2.0,
    timeout_s: float | None = None,
) -> BackfillProgress:
    """Poll until the backfill ends (or `timeout_s` passes), reporting each change."""
    start, last = time.monotonic(), None
    while True:
        progress = backfill_progress(instance, backfill_id)
        state = (progress.status, progress.materialized, progress.failed, progress.runs_in_progress)
        if state != last:
            on_progress(progress)
            last = state
        if progress.done or (timeout_s is not None and time.monotonic() - start > timeout_s):
            return progress
        time.sleep(poll_s)


def progress_line(p: BackfillProgress, width: int = 30) -> str:
    total = max(p.targeted, 1)
    filled = int(width * (p.materialized + p.failed) / total)
    bar = "#" * filled + "-" * (width - filled)
    return (
        f"[{bar}] {p.materialized}/{p.targeted} asset-partitions materialized, {p.failed} failed or skipped, "
        f"{p.runs_in_progress} run(s) in progress ({p.status.value.lower()})"
    )
