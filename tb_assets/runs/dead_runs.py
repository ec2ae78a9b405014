"""Runs whose worker process is gone: found, marked failed with the reason, their pool slots freed.

Every run worker writes its pid to the event log as it starts ("Started process for run (pid: N)",
an engine event; `dagster api execute_run` and the code server's launches both do). A run still
STARTING, STARTED or CANCELING whose worker is no longer alive died without a word (SIGKILL, the
OOM killer, a closed laptop): it would keep its pool slots forever, and every later run of the pool
would wait on it. A pid that is alive again but belongs to a process started after the run's
worker is a reused pid, not the worker.

Only runs of this machine are judged: those of a SQLite instance (local by construction) and those
`tb run` tagged with this host's name.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

import dagster as dg
import psutil

from tb_assets.runs.dagster_internals import SqliteRunStorage

HOST_TAG = "tb/host"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
PID_REUSE_SLACK_S = 2.0  # the pid event is written just after the worker starts; clocks are the same machine's


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    partition: str
    status: str
    pid: int
    pools: tuple[str, ...] = ()  # the pools whose slots it held

    @property
    def reason(self) -> str:
        return f"its worker process {self.pid} is gone (killed or crashed) while the run was {self.status}"

    @property
    def message(self) -> str:
        held = f"freed its slot(s) in pool {', '.join(self.pools)}" if self.pools else "it held no pool slot"
        return f"run {self.run_id} ({self.partition}): {self.reason}; marked failed, {held}"


def this_host() -> str:
    return socket.gethostname()


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when it was recorded) of the run's latest worker, from its engine events."""
    found = None
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None:
            found = (int(pid.value), record.timestamp)
    return found


def worker_alive(pid: int, recorded_at: float) -> bool:
    """The process `pid` exists, is not a zombie, and started no later than the run recorded it."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= recorded_at + PID_REUSE_SLACK_S
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _local(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    return isinstance(instance.run_storage, SqliteRunStorage) or run.tags.get(HOST_TAG) == this_host()


def held_pools(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    storage = instance.event_log_storage
    return tuple(
        sorted(
            key
            for key in storage.get_concurrency_keys()
            if any(slot.run_id == run_id for slot in storage.get_concurrency_info(key).claimed_slots)
        )
    )


def dead_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The pid of `run`'s worker when that process is gone; None while it lives, before it has
    started (no pid recorded yet) and for another machine's run (its processes are not ours to see)."""
    if not _local(instance, run):
        return None
    worker = worker_pid(instance, run.run_id)
    if worker is None or worker_alive(*worker):
        return None
    return worker[0]


def fail_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Mark every unfinished local run whose worker is gone as failed and free its pool slots."""
    dead = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        pid = dead_worker(instance, run)
        if pid is None:
            continue
        found = DeadRun(run.run_id, run.tags.get("dagster/partition", "-"), run.status.value, pid, held_pools(instance, run.run_id))
        instance.report_run_failed(run, f"tb: {found.reason}")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        dead.append(found)
    return dead


def report_dead_runs(instance: dg.DagsterInstance, command: str) -> None:
    """What `tb run` and `tb dev` do first: no run killed earlier may block this one."""
    for dead in fail_dead_runs(instance):
        print(f"{command}: {dead.message}", file=sys.stderr, flush=True)
