"""Who a waiting step waits for: the runs holding its pool's slots.

A step of a capped pool (e.g. `bar_source` limited by a team) waits while other runs hold its slots. Waiting is
normal; waiting without a word is not: after a while `tb run` names the holder (its run, partition,
status and step), so a user can tell a long write from a run that will never give the slot back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

NOTICE_AFTER_S = 15.0  # a hand-over takes milliseconds and a write seconds; past this, say who holds the slot


@dataclass(frozen=True)
class PoolWait:
    run_id: str
    step_key: str
    pool: str
    holders: tuple[tuple[str, str], ...]  # (run id, step key) holding the pool's slots
    waited_s: float


def pool_waits(instance: dg.DagsterInstance, run_ids: set[str]) -> list[PoolWait]:
    """The steps of `run_ids` waiting for a pool slot, with who holds the pool's slots."""
    storage = instance.event_log_storage
    if not run_ids or not storage.supports_global_concurrency_limits:
        return []
    waits = []
    now = time.time()
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        holders = tuple(sorted({(slot.run_id, slot.step_key) for slot in info.claimed_slots}))
        for step in info.pending_steps:
            if step.run_id in run_ids and step.assigned_timestamp is None:
                waits.append(PoolWait(step.run_id, step.step_key, pool, holders, now - _epoch(step.enqueued_timestamp)))
    return waits


def _epoch(moment: datetime) -> float:
    # the SQL storages write UTC without a zone; read as local time it would be hours off
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def describe_holder(instance: dg.DagsterInstance, run_id: str, step_key: str) -> str:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} (step {step_key}; not a run of this instance)"
    partition = run.tags.get("dagster/partition", "-")
    return f"run {run_id} ({partition}, {run.status.value}, step {step_key})"


@dataclass
class SlotWaitNotices:
    """One line per waiting step once it has waited NOTICE_AFTER_S, naming the holders."""

    instance: dg.DagsterInstance
    told: set[tuple[str, str]] = field(default_factory=set)

    def look(self, run_ids: set[str]) -> list[PoolWait]:
        due = [w for w in pool_waits(self.instance, run_ids) if w.waited_s >= NOTICE_AFTER_S and (w.run_id, w.step_key) not in self.told]
        self.told |= {(w.run_id, w.step_key) for w in due}
        return due

    def line(self, wait: PoolWait, partition: str) -> str:
        held = "; ".join(describe_holder(self.instance, run_id, step) for run_id, step in wait.holders) or "nobody (being handed over)"
        return f"{partition}: step {wait.step_key} has waited {wait.waited_s:.0f}s for the {wait.pool} pool slot, held by {held}"
