"""`tb dev`: `dagster dev` on the project's instance, stopped as one process group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def add_parser(sub) -> None:
    dev = sub.add_parser(
        "dev",
        help="open the Dagster UI and daemon (dagster dev) on the project's persistent instance",
        description=(
            "Run `dagster dev` (webserver and daemon) with DAGSTER_HOME set to the project root and TB_DATA_DIR "
            "defaulted, so runs persist across restarts and runs started by `tb run` show in the UI. Every other "
            "argument goes to dagster dev, e.g. `tb dev -p 3001 -h 0.0.0.0` (-h is dagster dev's host; --help "
            "is this help). Ctrl-C or SIGTERM stops the webserver, the daemon and their code servers."
        ),
        add_help=False,
    )
    dev.add_argument("--help", action="help", help="show this help message and exit")
    dev.set_defaults(func=cmd_dev, passes_unknown=True)  # every option it does not know goes to dagster dev


def cmd_dev(args) -> int:
    from tb_assets.settings import PROJECT_ROOT, apply_default_environment

    apply_default_environment()
    from tb_assets.cli.warehouse import preflight
    from tb_assets.runs.dead_runs import report_dead_runs
    from tb_assets.runs.instance import open_instance

    preflight("tb dev")

    with open_instance() as instance:
        report_dead_runs(instance, "tb dev")
    # the interpreter running `tb` has dagster installed, activated venv or not
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), *args.dagster_args]
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} TB_DATA_DIR={os.environ['TB_DATA_DIR']}", flush=True)
    server = _serve_reports()
    try:
        return run_process_group(cmd, cwd=PROJECT_ROOT)
    finally:
        if server is not None:
            server.shutdown()


def _serve_reports():
    """Local artifacts served on 127.0.0.1 where TB_REPORTS_URL (set by apply_default_environment)
    says, so the tearsheet links in run metadata open; nothing for remote artifacts or a URL that
    is not this machine's (someone serves them already)."""
    from urllib.parse import urlsplit

    from tb_assets.cli.report_server import serve_artifacts
    from tb_assets.settings import load_settings

    settings = load_settings()
    where = urlsplit(settings.reports_url or "")
    if settings.artifacts_url is not None or where.hostname != "127.0.0.1" or where.port is None:
        return None
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    server, url = serve_artifacts(settings.artifacts_dir, where.port)
    if url != settings.reports_url:  # the port was taken: runs started from here link to where they are now
        os.environ["TB_REPORTS_URL"] = url
    print(f"tb dev: tearsheets and plots at {url} (127.0.0.1 only; the UI links them)", flush=True)
    return server


def run_process_group(cmd: list[str], cwd: Path, grace_s: float = 20.0) -> int:
    """Run `cmd` in its own process group until it exits; Ctrl-C or SIGTERM stops the whole group
    (`dagster dev` alone leaves its webserver, daemon and code servers running on SIGTERM):
    SIGTERM to every member, SIGKILL to what is left after `grace_s` or at a second signal."""
    import signal
    import subprocess

    proc = subprocess.Popen(cmd, cwd=cwd, start_new_session=True)
    stopping = {"signal": None}

    def stop(signum, _frame):
        if stopping["signal"] is not None:  # a second Ctrl-C or SIGTERM while stopping: no more grace
            _signal_group(proc.pid, signal.SIGKILL)
            return
        stopping["signal"] = signum
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("\ntb dev: stopping the webserver, the daemon and their code servers ...", file=sys.stderr, flush=True)
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and process_group_alive(proc.pid):
            time.sleep(0.2)
        if process_group_alive(proc.pid):
            _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        return 128 + (stopping["signal"] or signal.SIGINT)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def process_table() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, from /proc."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        except OSError:
            continue  # gone meanwhile
        table.append((int(entry.name), fields[0], int(fields[1]), int(fields[2])))
    return table


def process_group_alive(pgid: int) -> bool:
    """Whether any process of the group is alive (zombies count as gone)."""
    return any(group == pgid and state != "Z" for _, state, _, group in process_table())
