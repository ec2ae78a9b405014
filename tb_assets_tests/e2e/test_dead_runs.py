"""A run whose process was killed never wedges the project: the next `tb run` finds it, marks it
failed with the reason and frees the pool slot it held (issue 11, point 1). The slots here are the
`bar_source` pool's, capped at 1 as a team with a rate-limited data vendor would cap it."""

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import psutil
import pytest
import sqlalchemy

from tb_assets.assets.pools import SOURCE_POOL
from tb_assets.runs.dead_runs import UNFINISHED, fail_dead_runs, worker_alive, worker_pid
from tb_assets.settings import PROJECT_ROOT
from tb_assets_tests.e2e.processes import HANG_GUARD_S, daemon, wait_for
from tb_assets_tests.helpers import stored_partition

TB = [sys.executable, "-m", "tb_assets.cli"]


def test_a_worker_is_alive_only_while_its_own_process_runs():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(proc.pid).create_time()
        assert worker_alive(proc.pid, recorded_at=started + 1)
        # the run recorded this pid before the process existed: a reused pid, not the run's worker
        assert not worker_alive(proc.pid, recorded_at=started - 60)
    finally:
        proc.kill()
        proc.wait()
    assert not worker_alive(proc.pid, recorded_at=started + 1)


def capped_instance() -> dg.DagsterInstance:
    """The test's instance with the bar_source pool capped at one slot (`dagster instance concurrency set bar_source 1`)."""
    instance = dg.DagsterInstance.get()
    instance.event_log_storage.set_concurrency_slots(SOURCE_POOL, 1)
    return instance


def claimed_slot(instance: dg.DagsterInstance) -> str | None:
    try:
        slots = instance.event_log_storage.get_concurrency_info(SOURCE_POOL).claimed_slots
    except sqlalchemy.exc.OperationalError:  # the run is writing this very moment: look again
        return None
    return slots[0].run_id if slots else None


def synthetic_env(dagster_home, *, bars: int) -> dict:
    """`tb`'s environment for one synthetic daily partition (SYN1|1d) in the test's instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    env.update(
        DAGSTER_HOME=str(dagster_home),
        TB_DATA_DIR=os.environ["TB_DATA_DIR"],
        TB_SOURCE="synthetic",
        TB_SYMBOLS="SYN1",
        TB_TIMEFRAMES="1d",
        TB_SYNTHETIC_BARS=str(bars),
        TB_CONTEXT_SYMBOLS="none",
    )
    return env


def killed_while_holding_the_slot(env: dict, tmp_path, instance: dg.DagsterInstance) -> tuple[str, int]:
    """`tb run` SIGKILLed with its worker (the terminal died: no clean-up) the moment one of its
    steps holds the bar_source slot; the killed run's id and its worker's pid."""
    log = tmp_path / "killed.log"
    with open(log, "w") as out:
        first = subprocess.Popen(
            [*TB, "run", "--select", "bars,features,targets"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        holder = wait_for(lambda: claimed_slot(instance) or first.poll() is not None, "a step holding the bar_source slot", poll_s=0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert isinstance(holder, str), f"the run ended before a step took the slot:\n{log.read_text()[-3000:]}"
    pid, _ = worker_pid(instance, holder)
    return holder, pid


@pytest.mark.e2e
@pytest.mark.cost(45)
def test_a_run_killed_while_holding_a_pool_slot_does_not_block_the_next_run(dagster_home, tmp_path):
    env = synthetic_env(dagster_home, bars=4000)
    instance = capped_instance()
    holder, pid = killed_while_holding_the_slot(env, tmp_path, instance)
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, "the worker to die")
    assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.STARTED  # what wedged every later run

    second = subprocess.run(
        [*TB, "run", "--select", "bars"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert (
        f"tb run: run {holder} (SYN1|1d): its worker process {pid} is gone (killed or crashed) while the run was "
        "STARTED; marked failed, freed its slot(s) in pool bar_source"
    ) in second.stderr
    killed = instance.get_run_by_id(holder)
    assert killed.status == dg.DagsterRunStatus.FAILURE
    failure = instance.all_logs(holder, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].dagster_event.message
    assert f"worker process {pid} is gone" in failure
    assert claimed_slot(instance) is None
    assert fail_dead_runs(instance) == []  # judged once: nothing left to fail


@pytest.mark.e2e
@pytest.mark.cost(40)
def test_a_run_waiting_for_a_slot_names_the_holder_and_sigterm_takes_its_worker_with_it(dagster_home, tmp_path):
    """Another process holds the only bar_source slot: tb run says who, after a while; SIGTERM (to tb run
    alone, as `kill` or `timeout` send it) stops tb run and its worker, cancels the run and frees its
    place; the next run succeeds once the slot is back."""
    env = synthetic_env(dagster_home, bars=500)
    instance = capped_instance()
    # the holder: a step of another instance's process (a run this instance does not know), slot claimed
    assert instance.event_log_storage.claim_concurrency_slot(SOURCE_POOL, "elsewhere-run", "bars").is_claimed
    log = tmp_path / "waiting.log"
    with open(log, "w") as out:
        waiting = subprocess.Popen(
            [*TB, "run", "--select", "bars"], env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(
            lambda: "held by run elsewhere-run" in log.read_text() or waiting.poll() is not None,
            "tb run to name the slot's holder",
            poll_s=0.5,
        )
        assert waiting.poll() is None, log.read_text()
        said = re.search(r"SYN1\|1d: step bars has waited (\d+)s for the bar_source pool slot, held by run elsewhere-run", log.read_text())
        assert said and int(said[1]) < HANG_GUARD_S, log.read_text()  # seconds, not a time zone's hours off
        workers = psutil.Process(waiting.pid).children(recursive=True)
        assert workers, "tb run has a run worker"
        waiting.send_signal(signal.SIGTERM)  # to tb run only: it must take its worker with it
        assert waiting.wait(timeout=HANG_GUARD_S) == 130
    finally:
        if waiting.poll() is None:
            os.killpg(waiting.pid, signal.SIGKILL)
    survivors = [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    assert not survivors, f"outlived tb run: {[' '.join(w.cmdline())[:200] for w in survivors]}"
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.CANCELED
    info = instance.event_log_storage.get_concurrency_info(SOURCE_POOL)
    assert [s.run_id for s in info.claimed_slots] == ["elsewhere-run"] and info.pending_step_count == 0  # nothing of ours left

    instance.event_log_storage.free_concurrency_slots_for_run("elsewhere-run")
    again = subprocess.run(
        [*TB, "run", "--select", "bars"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S
    )
    assert again.returncode == 0, again.stdout + again.stderr


def partition_tables(data_dir: str) -> dict:
    return {t: stored_partition(str(Path(data_dir) / "warehouse"), "SYN1", "1d", t) for t in ("bars", "features", "targets")}


@pytest.mark.e2e
@pytest.mark.cost(100)
def test_kill_9_at_random_points_then_a_rerun_and_two_runs_at_once_give_the_clean_result(dagster_home, tmp_path):
    """The reliability suite's crash rows: `tb run` (bars, features, targets) SIGKILLed with its
    worker at a random moment (seeded; the delay is printed), followed by a re-run that must
    succeed without a word from us and store exactly what an uninterrupted run stored; then two
    `tb run` of the same partition at once: both succeed (they write the same files side by side,
    each replaced whole), same tables."""
    env = synthetic_env(dagster_home, bars=800)
    select = [*TB, "run", "--select", "bars,features,targets"]
    began = time.monotonic()
    clean = subprocess.run(select, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S)
    took = time.monotonic() - began
    assert clean.returncode == 0, clean.stdout + clean.stderr
    expected = partition_tables(env["TB_DATA_DIR"])
    rng = random.Random(int(os.environ.get("TB_KILL_SEED", "11")))
    # one kill here (tables equal to an uninterrupted run's); reliability/test_fault_sweep.py kills the whole chain
    for delay in (rng.uniform(0.3, took),):
        print(f"kill -9 after {delay:.2f}s of a {took:.1f}s run")
        victim = subprocess.Popen(
            select, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(delay)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        again = subprocess.run(select, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert again.returncode == 0, f"after a kill at {delay:.2f}s:\n{again.stdout}{again.stderr}"
        for table, frame in partition_tables(env["TB_DATA_DIR"]).items():
            pd.testing.assert_frame_equal(frame, expected[table], obj=f"{table} after a kill at {delay:.2f}s")

    both = [
        subprocess.Popen(select, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=HANG_GUARD_S)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], "\n".join(outputs)
    for table, frame in partition_tables(env["TB_DATA_DIR"]).items():
        pd.testing.assert_frame_equal(frame, expected[table], obj=f"{table} after two runs at once")
    instance = dg.DagsterInstance.get()
    assert claimed_slot(instance) is None and not instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))


@pytest.mark.e2e
@pytest.mark.cost(60)
def test_the_daemon_fails_a_killed_run_and_frees_its_slot_with_no_tb_command(dagster_home, tmp_path):
    """Run monitoring (dagster.yaml) asks WorkerWatchingRunLauncher whether the worker lives: a run
    killed while holding a pool slot is failed by the daemon alone and its slot freed."""
    config = (dagster_home / "dagster.yaml").read_text()
    faster = config.replace("poll_interval_seconds: 30", "poll_interval_seconds: 5").replace(
        "free_slots_after_run_end_seconds: 30", "free_slots_after_run_end_seconds: 5"
    )
    assert faster != config
    (dagster_home / "dagster.yaml").write_text(faster)
    env = synthetic_env(dagster_home, bars=4000)
    instance = capped_instance()
    holder, pid = killed_while_holding_the_slot(env, tmp_path, instance)
    with daemon(env, tmp_path / "daemon.log") as d:
        run = wait_for(lambda: (r := instance.get_run_by_id(holder)).is_finished and r, "the daemon to fail the run", alive=d)
        wait_for(lambda: claimed_slot(instance) is None, "the daemon to free the slot", alive=d)
    assert run.status == dg.DagsterRunStatus.FAILURE
    failure = instance.all_logs(holder, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].dagster_event.message
    assert f"tb: its worker process {pid} is gone (killed or crashed)" in failure, failure
