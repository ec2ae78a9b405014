"""A throw-away PostgreSQL server on 127.0.0.1 (initdb + pg_ctl, trust auth): for the tests and
`tb bench --only scale_out`, never for real data (fsync off, removed when stopped)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2


def postgres_bin() -> Path | None:
    """Folder of initdb/pg_ctl: on PATH, or where Debian/Ubuntu install them (not on PATH there)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="tb-postgres-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]
        self.data = self.root / "db"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self._start()
        return self

    def _start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def restart(self, down_s: float) -> None:
        """Stop the server (every connection cut), wait `down_s`, start it again on the same port and data."""
        import time

        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(down_s)
        self._start()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, name: str) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        con = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        try:
            con.autocommit = True
            con.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"
