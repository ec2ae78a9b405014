"""The team profile's run launcher: dagster-celery's, with a health check that sees the two ways a
run used to stay STARTED for a day (issue 26).

Dagster's run monitoring (deploy/dagster.yaml, every 30 s) asks the launcher whether a STARTED
run's worker still runs it, and fails the run otherwise (then frees its pool slots, and
`run_retries` launches it again). dagster-celery answers from the Celery task's state alone, which
misses both:

- **The task ended but the run never did**: a run worker that lost the instance's PostgreSQL (a
  restart, a 60 s outage) exits, its task is stored as SUCCESS (or FAILURE), and the run stays
  STARTED until the result expires (24 h). Here a task that ended while its run is still STARTED
  is a failed run (monitoring re-reads the run before acting, so a run finishing at that moment
  is left alone).
- **The worker is gone but the task still says STARTED**: a Celery worker whose main process was
  killed (OOM, kill -9, a lost machine) never updates its task, and Redis would hand the
  unacknowledged task to another worker only after the 24 h visibility timeout. Here the worker
  that took the run (the `tb/worker` tag, cluster/celery_app.py) is pinged through the broker;
  one that has not answered for `worker_lost_after_seconds` (default 60, so two polls) is gone:
  the run is failed and its task revoked, so no worker runs it a second time.
"""

from __future__ import annotations

import time

import dagster as dg
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from tb_assets.cluster.settings import WORKER_TAGS
from tb_assets.runs.dagster_internals import CheckRunHealthResult, WorkerStatus

WORKER_LOST_AFTER_S = 60.0
PING_TIMEOUT_S = 3.0
ENDED = ("SUCCESS", "FAILURE", "REVOKED")


class TeamRunLauncher(CeleryRunLauncher):
    """CeleryRunLauncher whose health check fails runs whose task ended or whose worker is gone."""

    def __init__(self, *args, worker_lost_after_seconds: float = WORKER_LOST_AFTER_S, **kwargs):
        super().__init__(*args, **kwargs)
        self.worker_lost_after_seconds = worker_lost_after_seconds
        self._silent_since: dict[str, float] = {}  # worker name -> when it first did not answer

    @classmethod
    def config_type(cls):
        return {
            **super().config_type(),
            "worker_lost_after_seconds": dg.Field(
                float,
                is_required=False,
                default_value=WORKER_LOST_AFTER_S,
                description="A run whose Celery worker has not answered a ping for this long is failed (and retried by run_retries)",
            ),
        }

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id is None:
            return super().check_run_worker_health(run)
        state = self.celery.AsyncResult(task_id).state
        if state in ENDED:
            current = self._instance.get_run_by_id(run.run_id)
            if current is not None and current.status == dg.DagsterRunStatus.STARTED:
                return CheckRunHealthResult(
                    WorkerStatus.FAILED,
                    f"its Celery task {task_id} ended ({state}) but the run never recorded its end: the run worker "
                    "lost the instance database (a PostgreSQL restart or outage) or died before reporting",
                )
            return super().check_run_worker_health(run)
        worker = run.tags.get(WORKER_TAGS[0])
        if worker is None:  # not taken by a worker yet (PENDING in Redis): the start timeout judges it
            return super().check_run_worker_health(run)
        if self._answers(worker):
            self._silent_since.pop(worker, None)
            return super().check_run_worker_health(run)
        now = time.monotonic()
        silent = now - self._silent_since.setdefault(worker, now)
        if silent < self.worker_lost_after_seconds:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker {worker} has not answered a ping for {silent:.0f} s")
        self.celery.control.revoke(task_id)  # Redis would re-deliver it to another worker after the visibility timeout
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"its Celery worker {worker} has not answered a ping for {silent:.0f} s (killed, or its machine is gone) "
            f"while the task {task_id} still says {state}; the task is revoked",
        )

    def _answers(self, worker: str) -> bool:
        replies = self.celery.control.ping(destination=[worker], timeout=PING_TIMEOUT_S) or []
        return any(worker in reply for reply in replies)
