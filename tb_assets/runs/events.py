"""Reading what runs left in the instance: check executions, run failures, a run's own error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster import RunStatusChangeRecordsFilter

from tb_assets.runs.dagster_internals import AssetCheckExecutionRecordStatus


@dataclass
class CheckCursor:
    """Where the check reading stands: the highest execution id read, and the ids read while still
    planned (a check planned earlier can finish later than one planned after it)."""

    last_id: int | None = None
    pending: list[int] = field(default_factory=list)


def finished_checks_after(
    instance: dg.DagsterInstance, check_keys, cursor: CheckCursor, *, since: float | None = None, page: int = 100
) -> tuple[list, CheckCursor]:
    """Check executions that finished (passed or failed) and were not returned before, oldest first,
    and the cursor after them. Reads Dagster's asset-check execution table (ids are global there;
    the run-sharded SQLite event log has no cross-run ids for check evaluations)."""
    storage = instance.event_log_storage
    floor = min([cursor.last_id, *cursor.pending]) if cursor.last_id is not None else None
    seen = []
    for key in check_keys:
        before = None
        while True:
            records = storage.get_asset_check_execution_history(key, limit=page, cursor=before)
            fresh = [r for r in records if (floor is None or r.id >= floor) and (since is None or r.create_timestamp >= since)]
            seen += fresh
            if len(records) < page or len(fresh) < len(records):
                break
            before = records[-1].id
    new, pending = [], []
    for record in seen:
        if record.status == AssetCheckExecutionRecordStatus.PLANNED:
            run = instance.get_run_by_id(record.run_id)
            if run is not None and not run.is_finished:  # a run that died never evaluates its planned checks
                pending.append(record.id)
        elif cursor.last_id is None or record.id > cursor.last_id or record.id in cursor.pending:
            new.append(record)
    last = max([cursor.last_id or 0, *(r.id for r in seen)]) if (seen or cursor.last_id is not None) else None
    return sorted(new, key=lambda r: r.id), CheckCursor(last, sorted(pending))


def run_failures_after(instance: dg.DagsterInstance, after: int | None, *, limit: int, since: float | None = None) -> list:
    """RUN_FAILURE records with storage id > `after`, oldest first (run status changes are indexed
    across runs even on the run-sharded SQLite event log, so their ids are global)."""
    result = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(event_type=dg.DagsterEventType.RUN_FAILURE, after_storage_id=after, after_timestamp=since),
        limit=limit,
        ascending=True,
    )
    return list(result.records)


def lookback_start(hours: float) -> float:
    return (datetime.now(UTC) - timedelta(hours=hours)).timestamp()


def step_failure_reason(events) -> str:
    """The error behind a failed run, in the words of the code that raised it: the first error of
    the first step failure's chain that is not Dagster's own wrapper. Our errors name the file,
    symbol and setting, and the library error they wrap (their cause) would hide that.
    `events` are DagsterEvents (an in-process result's, or a stored run's)."""
    for event in events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            step = event.step_key
            while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
                error = error.cause
            if error is None:
                return f"step {step} failed"
            return f"{step}: {error.cls_name}: {first_line(error.message.split(': ', 1)[-1])}"
    for event in events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE and event.message:
            return first_line(event.message)
    return "run failed"


def check_failure(evaluation, width: int = 200) -> str:
    """'<check> failed: <what it found>' of a failed check's evaluation (its description, first line,
    at most `width` characters): the reason a user reads in `tb run` and `tb backfill`."""
    why = first_line(evaluation.description or "")
    if len(why) > width:
        why = why[: width - 3] + "..."
    return f"{evaluation.check_name} failed" + (f": {why}" if why else "")


def failure_reason(events) -> str:
    """Why a run failed: its blocking checks' findings when one blocked it, else the step's error."""
    blocked = [
        check_failure(e.event_specific_data)
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.event_specific_data.passed
        and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
        and e.event_specific_data.blocking
    ]
    return "; ".join(blocked) if blocked else step_failure_reason(events)


def failed_blocking_checks(events) -> list[str]:
    """Names of the ERROR checks that failed and blocked in these events: each one fails its run on
    purpose (the run's failure needs no other explanation)."""
    names = []
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR and evaluation.blocking:
                names.append(evaluation.check_name)
    return names


def stored_run_events(instance: dg.DagsterInstance, run_id: str) -> list:
    return [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event is not None]


def first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def freshness_changes_after(instance: dg.DagsterInstance, after: int | None, *, limit: int) -> list:
    """FRESHNESS_STATE_CHANGE records (the daemon's freshness evaluations, runless events) with storage
    id > `after`, oldest first. get_event_records is deprecated for 2.0 with no replacement yet (DESIGN §5):
    this is its one caller for these events."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        records = instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.FRESHNESS_STATE_CHANGE, after_cursor=after), ascending=True, limit=limit
        )
    return list(records)
