"""`tb cluster up|down|status`: the team deployment's processes on this machine (tb_assets/cluster)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """Start, for a trial on one machine, the processes a team runs on many: the code server (gRPC),
the webserver, the daemon and N Celery workers, each a process of its own, against the PostgreSQL
(TB_DAGSTER_PG_URL) and Redis (TB_CELERY_BROKER) the environment names. The instance is
deploy/dagster.yaml (TB_PROFILE=team). Pids and logs go to TB_DATA_DIR/cluster/; `tb cluster down`
stops exactly those processes. In production the same commands run under systemd or Kubernetes
(docs/team.md).

  tb cluster up [--workers N] [--port 3000]   start everything, wait until each answers
  tb cluster status                           what is running, with pids and logs
  tb cluster down                             stop them (SIGTERM, SIGKILL after 20 s)"""

EPILOG = """environment variables:
  TB_DAGSTER_PG_URL    postgresql+psycopg2://user:password@host:5432/dagster (required)
  TB_CELERY_BROKER     redis://host:6379/0 (required)
  TB_OPTUNA_STORAGE, TB_REGISTRY_URL   put Optuna and the registry on the same PostgreSQL
  TB_WAREHOUSE_URL, TB_DATA_DIR        shared storage when workers are on several machines
  TB_CODE_SERVER_HOST / _PORT          where the code server listens (default 127.0.0.1:4266)"""


def add_parser(sub) -> None:
    cluster = sub.add_parser(
        "cluster",
        help="start/stop the team deployment's processes on this machine (PostgreSQL + Celery)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster.add_argument("action", choices=("up", "down", "status"), help="what to do")
    cluster.add_argument("--workers", "-w", type=int, default=2, help="Celery workers to start (default 2), one run each at a time")
    cluster.add_argument("--port", "-p", type=int, default=3000, help="the webserver's port (default 3000)")
    cluster.add_argument("--host", default="127.0.0.1", help="the webserver's host (default 127.0.0.1; 0.0.0.0 for the network)")
    cluster.set_defaults(func=cmd_cluster)


def _cluster():
    from tb_assets.cluster.processes import Cluster
    from tb_assets.settings import data_dir

    return Cluster(data_dir() / "cluster")


def cmd_cluster(args) -> int:
    os.environ["TB_PROFILE"] = "team"  # the processes below are the team profile's, whatever the shell says
    from tb_assets.settings import apply_default_environment

    apply_default_environment()
    if args.action == "status":
        return _status()
    if args.action == "down":
        stopped = _cluster().stop(say=lambda line: print(line, file=sys.stderr))
        for started in stopped:
            print(f"tb cluster: stopped {started.name} (pid {started.pid})")
        if not stopped:
            print("tb cluster: nothing was running")
        return 0
    return _up(args)


def _status() -> int:
    from tb_assets.reporting.tables import text_table

    recorded = _cluster().recorded()
    if not recorded:
        print("tb cluster: nothing started (tb cluster up)")
        return 0
    print(text_table(("process", "pid", "state", "log"), [(s.name, s.pid, "running" if s.alive() else "gone", s.log) for s in recorded]))
    return 0 if all(s.alive() for s in recorded) else 1


def _up(args) -> int:
    from tb_assets.cli.warehouse import preflight
    from tb_assets.cluster import processes as p
    from tb_assets.cluster.settings import celery_broker, check_postgres, check_redis, code_server_address, dagster_pg_url
    from tb_assets.core.errors import ConfigError, TbError
    from tb_assets.settings import PROJECT_ROOT

    if args.workers < 1:
        print("tb cluster: --workers must be at least 1", file=sys.stderr)
        return 2
    cluster = _cluster()
    if running := cluster.running():
        print(
            f"tb cluster: already running ({', '.join(f'{s.name} pid {s.pid}' for s in running)}): tb cluster down first", file=sys.stderr
        )
        return 1
    pg_url, broker = dagster_pg_url(), celery_broker()
    check_postgres(pg_url)
    check_redis(broker)
    preflight("tb cluster")
    from tb_assets.runs.instance import open_instance

    home = Path(os.environ["DAGSTER_HOME"])
    from dagster_celery.launcher import CeleryRunLauncher

    with open_instance() as instance:  # the instance's tables made once here, not raced by five processes starting at once
        launcher = type(instance.run_launcher).__name__
        celery = isinstance(instance.run_launcher, CeleryRunLauncher)
    if not celery:
        raise ConfigError(
            f"DAGSTER_HOME={home} is not a team instance (its run launcher is {launcher}): unset DAGSTER_HOME "
            "or point it at deploy/ (or a copy of it)"
        )
    code_host, code_port = code_server_address()
    # dagster-celery starts `celery` from PATH: this environment's scripts first, activated or not
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    started: list = []
    try:
        for name, cmd in p.planned(args.workers, home, code_host, code_port, args.host, args.port):
            started.append(cluster.start(name, cmd, env, PROJECT_ROOT))
            print(f"tb cluster: started {name} (pid {started[-1].pid})", flush=True)
            if name == "code_server":
                p.wait_until(lambda: p.code_server_ready(code_host, code_port), "the code server", started)
        ui_host = "127.0.0.1" if args.host == "0.0.0.0" else args.host
        p.wait_until(lambda: p.webserver_ready(ui_host, args.port), "the webserver", started)
        workers = [f"tb-worker-{i}" for i in range(1, args.workers + 1)]
        p.wait_until(lambda: p.workers_ready(broker, workers), f"{args.workers} Celery worker(s)", started)
    except (TbError, KeyboardInterrupt):
        cluster.stop(say=lambda line: print(line, file=sys.stderr))
        raise
    print(
        f"tb cluster: up: UI http://{ui_host}:{args.port}, {args.workers} worker(s); pids and logs in {cluster.folder}; "
        "`tb backfill` queues work for them, `tb cluster down` stops everything"
    )
    return 0
