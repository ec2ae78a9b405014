"""The team launcher's health check (issue 26, stuck runs) against a real Redis and a real Celery
worker of the project's app: a run whose task ended while the run did not is failed; a run whose
worker stopped answering (its main process killed) is failed once the grace has passed, and its
task revoked; a live worker's run and a finished run are left alone."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from tb_assets.cluster.launcher import TeamRunLauncher
from tb_assets.cluster.processes import WORKER_APP, workers_ready
from tb_assets.runs.dagster_internals import WorkerStatus
from tb_assets_tests.e2e.processes import BIN, Process

pytestmark = pytest.mark.e2e


def launcher(instance, broker: str, **kwargs) -> TeamRunLauncher:
    made = TeamRunLauncher(default_queue="dagster", broker=broker, backend=broker, **kwargs)
    made.register_instance(instance)
    return made


def run_with(instance, status=dg.DagsterRunStatus.STARTED, worker: str | None = None) -> tuple[dg.DagsterRun, str]:
    """A run of `status` and the id of its Celery task (the test stores the task's state)."""
    task_id = str(uuid.uuid4())
    tags = {DAGSTER_CELERY_TASK_ID_TAG: task_id, **({"tb/worker": worker} if worker else {})}
    run = instance.add_run(dg.DagsterRun(job_name="pipeline", run_id=str(uuid.uuid4()), status=status, tags=tags))
    return run, task_id


@pytest.mark.cost(40)
def test_runs_whose_task_ended_or_whose_worker_is_gone_are_failed(redis_server, tmp_path):
    name = f"tb-health-{uuid.uuid4().hex[:6]}"
    node = f"{name}@{socket.gethostname()}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TB_")}, "TB_CELERY_BROKER": redis_server.url}
    # the project's worker app, as `dagster-celery worker start` runs it (that wrapper also wants a DAGSTER_HOME)
    args = [str(BIN / "celery"), "-A", WORKER_APP, "worker", "-n", f"{name}@%h", "--concurrency", "1", "--loglevel", "INFO"]
    worker = Process(args, env, tmp_path / "worker.log").start()
    try:
        deadline = time.monotonic() + 300  # a worker answers within seconds; this only stops a hang
        while not workers_ready(redis_server.url, [name]):
            assert worker.proc.poll() is None and time.monotonic() < deadline, Path(tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
            patient, hasty = launcher(instance, redis_server.url), launcher(instance, redis_server.url, worker_lost_after_seconds=0)
            backend = patient.celery.backend

            # a running task on a worker that answers: running
            running, task = run_with(instance, worker=node)
            backend.store_result(task, None, "STARTED")
            assert hasty.check_run_worker_health(running).status == WorkerStatus.RUNNING

            # the task ended, the run did not (its worker lost PostgreSQL): failed, saying so
            stuck, task = run_with(instance, worker=node)
            backend.store_result(task, None, "SUCCESS")
            health = patient.check_run_worker_health(stuck)
            assert health.status == WorkerStatus.FAILED and "ended (SUCCESS) but the run never recorded its end" in health.msg
            # the same task state on a run that did end: nothing to do
            finished, task = run_with(instance, status=dg.DagsterRunStatus.SUCCESS, worker=node)
            backend.store_result(task, None, "SUCCESS")
            assert patient.check_run_worker_health(finished).status == WorkerStatus.SUCCESS

            # the worker's main process is killed: its task still says STARTED, forever
            os.kill(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait(timeout=60)
            orphan, task = run_with(instance, worker=node)
            backend.store_result(task, None, "STARTED")
            first = patient.check_run_worker_health(orphan)  # one silent ping is not yet a lost worker
            assert first.status == WorkerStatus.RUNNING and "has not answered a ping" in first.msg
            lost = hasty.check_run_worker_health(orphan)
            assert lost.status == WorkerStatus.FAILED and f"worker {node} has not answered a ping" in lost.msg
            assert "the task is revoked" in lost.msg
            # a run not yet taken by any worker (still queued in Redis) is the start timeout's to judge
            queued, _ = run_with(instance)
            assert hasty.check_run_worker_health(queued).status == WorkerStatus.UNKNOWN
    finally:
        worker.stop(signal.SIGKILL, grace_s=30)
