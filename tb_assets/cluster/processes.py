"""`tb cluster up` / `down`: the team deployment's processes on one machine, for a trial.

The code server (`dagster code-server start`, gRPC), the webserver, the daemon and N Celery workers
(`dagster-celery worker start`) each start in a session of their own, against the PostgreSQL and
Redis the settings name. Each one's pid, start time and log go to TB_DATA_DIR/cluster/<name>.json,
and `down` stops exactly those process groups (a pid that now belongs to a newer process is not
ours and is left alone). Production runs the same commands under systemd or Kubernetes (docs/team.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from tb_assets.core.errors import TbError

WORKER_APP = "tb_assets.cluster.celery_app"
READY_TIMEOUT_S = 180.0
STOP_GRACE_S = 20.0


@dataclass
class Started:
    """One process of the cluster, as its pid file records it."""

    name: str
    pid: int
    create_time: float
    log: str
    cmd: list[str]

    def alive(self) -> bool:
        """Still running, and still the process we started (not a reused pid)."""
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.create_time) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


def _bin(name: str) -> str:
    """A console script of this environment (dagster-webserver, dagster-daemon, dagster-celery)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def planned(workers: int, dagster_home: Path, code_host: str, code_port: int, ui_host: str, ui_port: int) -> list[tuple[str, list[str]]]:
    """(name, command) of every process, in start order."""
    workspace = str(dagster_home / "workspace.yaml")
    commands = [
        (
            "code_server",
            [
                _bin("dagster"),
                "code-server",
                "start",
                "-m",
                "tb_assets.definitions",
                "-h",
                code_host,
                "-p",
                str(code_port),
                "--location-name",
                "tb_assets",
            ],
        ),
        ("webserver", [_bin("dagster-webserver"), "-w", workspace, "-h", ui_host, "-p", str(ui_port)]),
        ("daemon", [_bin("dagster-daemon"), "run", "-w", workspace]),
    ]
    for i in range(1, workers + 1):
        # one run at a time per worker: a run is a whole partition's chain and uses the machine's cores
        commands.append(
            (
                f"worker_{i}",
                [_bin("dagster-celery"), "worker", "start", "-A", WORKER_APP, "-n", f"tb-worker-{i}", "--", "--concurrency", "1"],
            )
        )
    return commands


class Cluster:
    """The pid files under TB_DATA_DIR/cluster/ and the processes they name."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def recorded(self) -> list[Started]:
        if not self.folder.is_dir():
            return []
        return [Started(**json.loads(p.read_text())) for p in sorted(self.folder.glob("*.json"))]

    def running(self) -> list[Started]:
        return [s for s in self.recorded() if s.alive()]

    def start(self, name: str, cmd: list[str], env: dict, cwd: Path) -> Started:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        started = Started(name=name, pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(), log=str(log), cmd=cmd)
        (self.folder / f"{name}.json").write_text(json.dumps(asdict(started), indent=2))
        return started

    def stop(self, grace_s: float = STOP_GRACE_S, say: Callable[[str], None] = print) -> list[Started]:
        """SIGTERM to each recorded process group still ours, SIGKILL to what is left after `grace_s`;
        the pid files removed. Returns what was running."""
        stopped = []
        for started in self.recorded():
            if started.alive():
                _signal_group(started.pid, signal.SIGTERM)
                stopped.append(started)
        deadline = time.monotonic() + grace_s
        while any(s.alive() for s in stopped) and time.monotonic() < deadline:
            time.sleep(0.2)
        for started in stopped:
            if started.alive():
                say(f"tb cluster: {started.name} (pid {started.pid}) did not stop in {grace_s:.0f}s: killed")
            _signal_group(started.pid, signal.SIGKILL)  # its children too (a worker's pool, a code server's)
        for path in self.folder.glob("*.json"):
            path.unlink()
        return stopped


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # started with start_new_session: the group id is the pid
    except ProcessLookupError:
        pass


def wait_until(ready: Callable[[], bool], what: str, processes: list[Started], timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `ready` until it holds; a TbError naming the process (and its log) that died meanwhile or the wait."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for started in processes:
            if not started.alive():
                raise TbError(f"{started.name} exited while starting; its log: {started.log}\n{_tail(started.log)}")
        try:
            if ready():
                return
        except Exception:  # not listening yet
            pass
        time.sleep(0.5)
    raise TbError(f"{what} not ready after {timeout_s:.0f}s; logs in {processes[0].log if processes else '?'}")


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def code_server_ready(host: str, port: int) -> bool:
    from tb_assets.runs.dagster_internals import DagsterGrpcClient

    DagsterGrpcClient(port=port, host=host).ping("tb")
    return True


def webserver_ready(host: str, port: int) -> bool:
    with urllib.request.urlopen(f"http://{host}:{port}/server_info", timeout=5) as answer:
        return answer.status == 200


def workers_ready(broker: str, names: list[str]) -> bool:
    """Every named worker answers a Celery ping through the broker."""
    from celery import Celery

    app = Celery("tb-ping", broker=broker)
    try:
        replies = app.control.ping(timeout=2.0) or []
    finally:
        app.close()
    answered = {name.split("@", 1)[0] for reply in replies for name in reply}
    return set(names) <= answered
