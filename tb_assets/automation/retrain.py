"""The retraining sensor: a partition whose champion decayed is retrained.

A failed `realized_decay` check (model_health's ERROR: the change detector fired and realized AUC
is below the holdout's bound) requests one run of the whole chain for that partition; the new
production model it trains then has to earn its place. One request per failed evaluation (its
execution id is the run key), read after a cursor in Dagster's storage like the alert sensor's.
"""

from __future__ import annotations

import json

import dagster as dg

from tb_assets.checks.model_health import DECAY_CHECK, HEALTH
from tb_assets.runs.events import CheckCursor, finished_checks_after, lookback_start

RETRAIN_SENSOR = "tb_retrain_on_decay"
LAUNCHED_BY = "realized decay"
FIRST_LOOKBACK_HOURS = 24


def build_retrain_sensor(job_name: str) -> dg.SensorDefinition:
    key = dg.AssetCheckKey(HEALTH, DECAY_CHECK)

    @dg.sensor(
        name=RETRAIN_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When realized_decay fails for a partition (its champion stopped working on the labels resolved "
        "after its training), runs the chain for that partition: a retraining, once per failed evaluation.",
    )
    def tb_retrain_on_decay(context: dg.SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {}
        since = None if cursor else lookback_start(FIRST_LOOKBACK_HOURS)
        records, after = finished_checks_after(
            context.instance, [key], CheckCursor(cursor.get("check"), cursor.get("pending", [])), since=since
        )
        context.update_cursor(json.dumps({"check": after.last_id, "pending": after.pending}))
        requests = []
        for record in records:
            evaluation = record.evaluation
            if evaluation is None or evaluation.passed or evaluation.partition is None:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"retrain:{record.id}",
                    partition_key=evaluation.partition,
                    tags={"tb/launched_by": LAUNCHED_BY, "tb/decay_run": record.run_id},
                )
            )
        if not requests:
            return dg.SkipReason(f"no failed {DECAY_CHECK} among {len(records)} new evaluation(s)")
        return requests

    return tb_retrain_on_decay
