"""The alert sensor: failed checks and failed runs become alerts, delivered exactly once.

Each tick reads the check executions that finished and the RUN_FAILURE records after its cursor,
oldest first, adds the alerts the policy asks for to the outbox, then delivers whatever is
undelivered (this tick's and earlier failures'). The cursor lives in Dagster's storage and the
outbox dedupes by id, so a daemon restart neither skips nor repeats an alert.
"""

from __future__ import annotations

import json

import dagster as dg

from tb_assets.automation.alerts import check_alert, freshness_alert, run_failure_alert, should_alert
from tb_assets.automation.notifier import AlertNotifier
from tb_assets.runs.events import (
    CheckCursor,
    failed_blocking_checks,
    finished_checks_after,
    freshness_changes_after,
    lookback_start,
    run_failures_after,
    step_failure_reason,
    stored_run_events,
)

ALERT_SENSOR = "tb_alerts"
BATCH = 200  # records per event type and tick; a backlog drains over several ticks
FIRST_LOOKBACK_HOURS = 24  # a brand-new sensor alerts on the last day's failures, not on all history


def collect_alerts(instance: dg.DagsterInstance, check_keys, cursor: dict, notifier: AlertNotifier) -> tuple[list[dict], dict]:
    """The alerts for what finished after `cursor`, and the cursor after it."""
    channels = notifier.channels()
    since = None if cursor else lookback_start(FIRST_LOOKBACK_HOURS)
    alerts: list[dict] = []
    checks, check_cursor = finished_checks_after(
        instance, check_keys, CheckCursor(cursor.get("check"), cursor.get("pending", [])), since=since
    )
    for record in checks:
        evaluation = record.evaluation
        if evaluation is None or not should_alert(evaluation, warn=notifier.warn):
            continue
        run = instance.get_run_by_id(record.run_id)
        root = (run.root_run_id or run.run_id) if run else record.run_id
        alerts.append(check_alert(record.id, evaluation, record.run_id, root, ui_url=notifier.ui_url, channels=channels))
    last_run = cursor.get("run")
    for record in run_failures_after(instance, last_run, limit=BATCH, since=since if last_run is None else None):
        last_run = record.storage_id
        run = instance.get_run_by_id(record.run_id)
        if run is None:
            continue
        events = stored_run_events(instance, run.run_id)
        if failed_blocking_checks(events):
            continue  # the check's own alert says it, with its numbers
        alerts.append(run_failure_alert(record.storage_id, run, step_failure_reason(events), ui_url=notifier.ui_url, channels=channels))
    last_fresh = cursor.get("freshness")
    for record in freshness_changes_after(instance, last_fresh, limit=BATCH):
        last_fresh = record.storage_id
        change = record.event_log_entry.dagster_event.event_specific_data
        state = change.new_state.value
        if (state == "FAIL" or (state == "WARN" and notifier.warn)) and (since is None or record.timestamp >= since):
            alerts.append(freshness_alert(record.storage_id, change, ui_url=notifier.ui_url, channels=channels))
    return alerts, {"check": check_cursor.last_id, "pending": check_cursor.pending, "run": last_run, "freshness": last_fresh}


def build_alert_sensor(check_keys, *, interval_s: int) -> dg.SensorDefinition:
    check_keys = sorted(check_keys, key=lambda k: k.to_user_string())

    @dg.sensor(
        name=ALERT_SENSOR,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Failed ERROR checks (and WARN ones with TB_ALERT_WARN) and failed runs become alerts in "
        "TB_DATA_DIR/alerts.jsonl, sent to TB_ALERT_WEBHOOK and by e-mail (TB_ALERT_SMTP); failed deliveries retry.",
    )
    def tb_alerts(context: dg.SensorEvaluationContext, notifier: AlertNotifier):
        cursor = json.loads(context.cursor) if context.cursor else {}
        alerts, cursor = collect_alerts(context.instance, check_keys, cursor, notifier)
        added = notifier.store().add(alerts)
        context.update_cursor(json.dumps(cursor))
        for alert in added:
            context.log.info(f"alert {alert['id']}: {alert['partition']} {alert['asset']} {alert['check']}: {alert['summary']}")
        counts = notifier.deliver_pending(log=context.log)
        return dg.SkipReason(
            f"{len(added)} new alert(s); delivered {counts['sent']}, failed {counts['failed']} "
            f"(channels: {', '.join(notifier.channels()) or 'outbox only'})"
        )

    return tb_alerts
