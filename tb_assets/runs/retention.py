"""What is kept of finished runs' history (the UI's Runs page, the event log): bounded by age (`tb prune`).

Each run keeps its events in the instance, about 0.95 MB per chain re-run of one partition. Running
and queued runs are never touched.
"""

from __future__ import annotations

import time

import dagster as dg


def old_finished_runs(instance, days: float) -> list[str]:
    """Ids of finished runs (success, failure, canceled) that ended more than `days` days ago."""
    cutoff = time.time() - days * 86400
    finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=finished))
    return [r.dagster_run.run_id for r in records if (r.end_time or r.create_timestamp.timestamp()) < cutoff]


def prune_runs(instance, days: float, *, dry_run: bool = False) -> list[str]:
    ids = old_finished_runs(instance, days)
    if not dry_run:
        for run_id in ids:
            instance.delete_run(run_id)
    return ids
