"""`tb bench --only scale_out`: the chain for 8 partitions as one backfill on the team profile, with
one Celery worker, with two, and with two whose bar-source steps share one slot (a pool of one, as
the one-file DuckDB warehouse made every warehouse step wait for the previous one).

Each scenario gets a fresh throw-away PostgreSQL database set and Redis (tb_assets/cluster/trial_*),
`tb cluster up --workers N`, `tb backfill` of the chain (timed from queueing to the end), then
`tb cluster down`. Needs PostgreSQL's initdb/pg_ctl and redis-server installed; uses every core
(it measures how runs spread over workers, so it is not pinned to one core like the others).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYMBOLS = "SYN1,SYN2,SYN3,SYN4"
TIMEFRAMES = "4h,1d"  # 4 symbols x 2 timeframes = 8 partitions
QUICK = "ops:\n  best_params: {config: {n_trials: 4}}\n  shap_report: {config: {n_repeats: 2, top_dependence: 1}}\n"
SCENARIOS = (("one_worker", 1, False), ("two_workers", 2, False), ("two_workers_one_source_slot", 2, True))


def _tb(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    from tb_assets.settings import PROJECT_ROOT

    done = subprocess.run(
        [sys.executable, "-m", "tb_assets.cli", *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"tb {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


def _scenario(name: str, workers: int, one_slot: bool, postgres, broker: str, bars: int, progress) -> float:
    from tb_assets.assets.pools import SOURCE_POOL
    from tb_assets.cluster.trial_postgres import free_port
    from tb_assets.settings import PROJECT_ROOT

    work = Path(tempfile.mkdtemp(prefix=f"tb-scale-{name}-"))
    try:
        home = work / "dagster_home"
        shutil.copytree(PROJECT_ROOT / "deploy", home)
        yaml = home / "dagster.yaml"
        yaml.write_text(yaml.read_text().replace("max_concurrent_runs: 2", f"max_concurrent_runs: {workers}"))
        (work / "quick.yaml").write_text(QUICK)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TB_", "OMP_NUM", "NUMBA_NUM", "OPENBLAS_NUM", "MKL_NUM"))}
        env.update(
            DAGSTER_HOME=str(home),
            TB_PROFILE="team",
            TB_DATA_DIR=str(work / "data"),
            TB_CELERY_BROKER=broker,
            TB_DAGSTER_PG_URL=postgres.new_database(f"dagster_{name}"),
            TB_OPTUNA_STORAGE=postgres.new_database(f"optuna_{name}"),
            TB_REGISTRY_URL=postgres.new_database(f"registry_{name}"),
            TB_CODE_SERVER_PORT=str(free_port()),
            TB_SOURCE="synthetic",
            TB_SYMBOLS=SYMBOLS,
            TB_TIMEFRAMES=TIMEFRAMES,
            TB_SYNTHETIC_FREQ="1h",
            TB_SYNTHETIC_BARS=str(bars),
            TB_SYNTHETIC_SIGNAL="0.3",
            TB_CONTEXT_SYMBOLS="none",
            TB_AUTOMATION="off",
            OMP_WAIT_POLICY="PASSIVE",
            TB_EXECUTOR=os.environ.get("TB_EXECUTOR", "multiprocess"),  # the team default
        )
        _tb(["cluster", "up", "--workers", str(workers), "--port", str(free_port())], env, timeout=300)
        try:
            if one_slot:
                code = f"import dagster as dg; dg.DagsterInstance.get().event_log_storage.set_concurrency_slots({SOURCE_POOL!r}, 1)"
                subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
            progress(f"scale_out: {name}: backfill of {len(SYMBOLS.split(',')) * len(TIMEFRAMES.split(','))} partitions ...")
            start = time.perf_counter()
            _tb(["backfill", "--config", str(work / "quick.yaml")], env, timeout=3600)
            return time.perf_counter() - start
        finally:
            _tb(["cluster", "down"], env, timeout=120)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_scale_out(bars: int = 6000, progress=None) -> dict:
    from tb_assets.cluster.trial_postgres import PostgresServer, postgres_bin
    from tb_assets.cluster.trial_redis import RedisServer, redis_bin

    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    pg_bin, redis = postgres_bin(), redis_bin()
    if pg_bin is None or redis is None:
        raise RuntimeError("scale_out needs PostgreSQL (initdb, pg_ctl) and redis-server: apt-get install postgresql redis-server")
    postgres = PostgresServer(pg_bin).start()
    try:
        broker = RedisServer(redis).start()
        try:
            seconds = {
                name: _scenario(name, workers, one_slot, postgres, broker.url, bars, progress) for name, workers, one_slot in SCENARIOS
            }
        finally:
            broker.stop()
    finally:
        postgres.stop()
    return {
        "seconds": seconds["two_workers"],
        "baseline_seconds": seconds["one_worker"],  # the ratio: what a second worker buys
        "one_source_slot_seconds": seconds["two_workers_one_source_slot"],
        "partitions": len(SYMBOLS.split(",")) * len(TIMEFRAMES.split(",")),
        "bars_per_symbol": bars,
        "cores": os.cpu_count(),
    }
