"""The Celery app the team's workers run (`dagster-celery worker start -A tb_assets.cluster.celery_app`).

dagster-celery's own `dagster_celery.app` reads its broker from a generated config module (the
URL, password included, written under DAGSTER_HOME); this one takes TB_CELERY_BROKER from the
environment, the same variable deploy/dagster.yaml gives the run launcher, and keeps the two in
step: same queue, same task names (`execute_job`), Redis as broker and result backend.

Each run is one long task (a whole partition's chain), so a worker takes one at a time and
acknowledges it at the end (`task_acks_late` with prefetch 1): an idle worker is never left
waiting while a busy one holds a second run in reserve. The run records which worker ran it
(`tb/worker`, `tb/worker_host`, `tb/worker_pid` tags, shown in the UI). A run that could not
record its end (PostgreSQL restarted under it) is failed by its worker once the database is back,
so run_retries launches it again instead of it staying STARTING or STARTED for a day.
"""

from __future__ import annotations

import os
import socket

from celery.signals import task_postrun, task_prerun, worker_process_init
from dagster_celery.config import DEFAULT_CONFIG, TASK_EXECUTE_JOB_NAME
from dagster_celery.defaults import task_default_queue
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from tb_assets.cluster.settings import WORKER_TAGS, celery_broker

# a worker whose run could not record its end (the instance's database away) keeps trying this long
RECORD_END_FOR_S = 15 * 60
# a run longer than the broker's visibility timeout would be handed to a second worker (Redis
# re-delivers unacknowledged tasks): a day covers a year of minute bars through the chain
VISIBILITY_TIMEOUT_S = 24 * 3600

_broker = celery_broker()
app = make_app(
    app_args={
        "broker": _broker,
        "backend": _broker,
        "include": [],
        "config_source": {
            **DEFAULT_CONFIG,
            "task_acks_late": True,
            "worker_prefetch_multiplier": 1,
            "broker_transport_options": {**DEFAULT_CONFIG["broker_transport_options"], "visibility_timeout": VISIBILITY_TIMEOUT_S},
            "result_backend_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_S},
        },
        "task_default_queue": task_default_queue,
    }
)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)


@worker_process_init.connect
def allow_step_processes(**_) -> None:
    """Let the run a pool process executes start its own step processes (the multiprocess executor,
    TB_EXECUTOR=multiprocess, the team default). Celery's pool processes are daemonic, and Python
    refuses children to a daemonic process ("daemonic processes are not allowed to have children");
    the pool still ends its processes itself, and a run's step processes end with their run."""
    import multiprocessing

    process = multiprocessing.current_process()  # billiard's process object (Celery's pool)
    process._config["daemon"] = False
    # its authentication key is billiard's AuthenticationString, which only billiard may pickle; the
    # standard library's spawn then fails ("Pickling an AuthenticationString object is disallowed")
    process._config["authkey"] = multiprocessing.process.AuthenticationString(os.urandom(32))


@task_prerun.connect
def record_worker(task_id=None, task=None, args=None, kwargs=None, **_) -> None:
    """Tag the run with the worker that took it, before it starts."""
    if task is None or task.name != TASK_EXECUTE_JOB_NAME:
        return
    import dagster as dg

    from tb_assets.runs.dagster_internals import ExecuteRunArgs, unpack_value

    run_id = unpack_value((kwargs or {})["execute_job_args_packed"], as_type=ExecuteRunArgs).run_id
    with dg.DagsterInstance.get() as instance:
        instance.add_run_tags(run_id, dict(zip(WORKER_TAGS, (task.request.hostname or "?", socket.gethostname(), str(os.getpid())))))


@task_postrun.connect
def fail_a_run_that_did_not_record_its_end(task_id=None, task=None, kwargs=None, **_) -> None:
    """The task executed the run to its end: a run still unfinished lost the instance's database on
    the way (a PostgreSQL restart or outage; Dagster's own retries last seconds). Fail it, waiting
    for the database to come back, so its slots are freed and run_retries launches it again."""
    if task is None or task.name != TASK_EXECUTE_JOB_NAME:
        return
    import time

    import dagster as dg

    from tb_assets.runs.dagster_internals import ExecuteRunArgs, unpack_value

    run_id = unpack_value((kwargs or {})["execute_job_args_packed"], as_type=ExecuteRunArgs).run_id
    deadline = time.monotonic() + RECORD_END_FOR_S
    while True:
        try:
            with dg.DagsterInstance.get() as instance:
                run = instance.get_run_by_id(run_id)
                if run is not None and not run.is_finished:
                    instance.report_run_failed(
                        run,
                        f"the run's worker {task.request.hostname} ended its task while the run was {run.status.value}: "
                        "it could not record its end (the instance's database was unreachable)",
                    )
            return
        except Exception:  # the database is still away (psycopg2 and SQLAlchemy raise several kinds)
            if time.monotonic() > deadline:
                raise
            time.sleep(5)
