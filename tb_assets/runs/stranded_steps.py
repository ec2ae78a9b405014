"""Steps left waiting beside a free pool slot: handed the slot.

Dagster's SQL storage gives a waiting step a pool slot at two moments only: when the step
registers and sees a free slot, or when another step frees its slot and finds the waiting one.
A step that registers in between (it saw the slot taken; the holder freed it before the step's
row was written) waits forever beside a free slot, and its run worker spins a core meanwhile
(`interval_to_next_pending_claim_check` returns min(0, ...), so it never sleeps). Seen in our own
test suite: a 6-partition `tb run --select bars` whose last run never finished, its `bars` step
pending, the slot free (then the `duckdb` pool of one, before the warehouse became one Parquet file per partition).

A step counts as stranded when it is still unassigned while its pool has a free slot on two
looks in a row; a normal hand-over takes milliseconds, so it is never mistaken for one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

STRANDED_SENSOR = "tb_stranded_steps"
SENSOR_INTERVAL_S = 15  # two looks in a row, 15 s apart: a normal hand-over takes milliseconds


def stranded_now(instance: dg.DagsterInstance) -> set[tuple[str, str, str]]:
    """(pool, run id, step key) of unassigned steps that a free slot of their pool could take."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return set()
    found = set()
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        waiting = sorted((p for p in info.pending_steps if p.assigned_timestamp is None), key=lambda p: (-p.priority, p.enqueued_timestamp))
        free = info.slot_count - sum(p.assigned_timestamp is not None for p in info.pending_steps)
        found |= {(pool, p.run_id, p.step_key) for p in waiting[: max(0, free)]}
    return found


@dataclass
class StrandedSteps:
    """Looks now and then; hands a free slot to a step found stranded on two looks in a row."""

    instance: dg.DagsterInstance
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def look(self) -> list[tuple[str, str, str]]:
        now = stranded_now(self.instance)
        stuck = sorted(now & self.seen)
        for pool, _, _ in stuck:
            # the storage's own hand-over: the oldest, highest-priority waiting step of the pool
            self.instance.event_log_storage.assign_pending_steps([pool])
        self.seen = now - set(stuck)
        return stuck


def build_stranded_steps_sensor() -> dg.SensorDefinition:
    """The same repair for runs no `tb run` watches (launched by the daemon or the UI): the
    steps seen on the previous look travel in the sensor's cursor."""

    @dg.sensor(
        name=STRANDED_SENSOR,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A step left waiting beside a free pool slot (a Dagster race: it waits forever) is handed the "
        "slot when found so on two looks in a row.",
    )
    def tb_stranded_steps(context: dg.SensorEvaluationContext):
        looks = StrandedSteps(context.instance, seen={tuple(s) for s in json.loads(context.cursor or "[]")})
        stuck = looks.look()
        for pool, run_id, step in stuck:
            context.log.warning(f"step {step} of run {run_id} waited beside a free {pool} pool slot: handed it the slot")
        context.update_cursor(json.dumps(sorted(looks.seen)))
        if stuck:
            return dg.SkipReason(f"handed {len(stuck)} stranded step(s) their slot")
        if looks.seen:
            return dg.SkipReason(f"{len(looks.seen)} step(s) wait beside a free slot: handed it if still so on the next look")
        return dg.SkipReason("no step waits beside a free slot")

    return tb_stranded_steps
