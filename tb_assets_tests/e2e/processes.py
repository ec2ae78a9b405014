"""Real Dagster processes for the end-to-end tests: started in their own session, stopped by pid
(their whole process group: the daemon's code server and run workers go with it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tb_assets.cli.dev import process_group_alive
from tb_assets.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent
HANG_GUARD_S = 1800  # only against a hang: tests wait for outcomes, never for a time budget


class Process:
    def __init__(self, args: list[str], env: dict, log: Path):
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self._out = open(self.log, "a")
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=PROJECT_ROOT, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 60) -> int | None:
        """Signal the process group, wait for the leader, then make sure nothing of the group survives."""
        if self.proc is None:
            return None
        pgid = self.proc.pid
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        try:
            code = self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            code = self.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while process_group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if process_group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
        self._out.close()
        self.proc = None
        return code

    def __enter__(self) -> Process:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc):
        self.stop()

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def daemon(env: dict, log: Path) -> Process:
    return Process([str(BIN / "dagster-daemon"), "run", "-w", str(PROJECT_ROOT / "workspace.yaml")], env, log)


def wait_for(
    predicate: Callable[[], object], what: str, *, poll_s: float = 2.0, guard_s: float = HANG_GUARD_S, alive: Process | None = None
):
    """Poll until `predicate` is truthy; fail only if the watched process died or after the hang guard."""
    deadline = time.monotonic() + guard_s
    while True:
        value = predicate()
        if value:
            return value
        if alive is not None and alive.proc is not None and alive.proc.poll() is not None:
            raise AssertionError(f"waiting for {what}: the process exited ({alive.proc.returncode}):\n{alive.text()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waiting for {what}: nothing after {guard_s:.0f}s (a hang)")
        time.sleep(poll_s)
