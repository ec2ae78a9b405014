"""Files replaced whole: a reader (or a process killed mid-write) sees the old bytes or the new.

Writers on many machines share one root: each file is replaced whole, so no process ever needs to
hold a lock on another's data. Every file gets the mode the umask allows (a team's shared storage
must let the group read it)."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from upath import UPath

from tb_assets.storage.urls import is_local


def current_umask() -> int:
    """The process's umask, read without changing it (Linux's /proc; elsewhere set and put back)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


TEMP_MARK = ".tbtmp-"  # .<name>.tbtmp-<host>-<pid>-<random>: whose temp file it is, so a sweep spares live writers
_TEMP_NAME = re.compile(r"^\..+\.tbtmp-(?P<host>[^/]+)-(?P<pid>\d+)-[^-/]+$")
_OLD_TEMP_NAME = re.compile(r"^\..+\.(?:[a-z0-9_]{8}|[0-9a-f]{32}\.tmp)$")  # mkstemp's, and uuid .tmp, of earlier versions
STALE_SECONDS = 6 * 3600  # another machine's temp file, or an unmarked one, this old has no live writer


def temp_prefix(name: str) -> str:
    return f".{name}{TEMP_MARK}{socket.gethostname().replace('-', '_')}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_temp_files(root: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temp files writers killed mid-write left under `root` (a local folder): this
    machine's whose process is gone, any other's (or an earlier version's unmarked one) older than
    STALE_SECONDS. A live writer's temp file is never touched. Returns what was removed."""
    root, now = Path(root), time.time() if now is None else now
    host = socket.gethostname().replace("-", "_")
    removed = []
    if not root.is_dir():
        return removed
    for path in root.rglob(".*"):
        if not path.is_file():
            continue
        marked = _TEMP_NAME.match(path.name)
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:  # its writer finished meanwhile
            continue
        if marked:
            dead = not _alive(int(marked["pid"])) if marked["host"] == host else age > STALE_SECONDS
        else:
            dead = bool(_OLD_TEMP_NAME.match(path.name)) and age > STALE_SECONDS
        if dead:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def replace_atomically(path: UPath, data: bytes, before_replace: Callable[[], None] | None = None) -> UPath:
    """Write `data` to `path`: a reader (or a process killed mid-write) leaves the old file or the new.

    Locally: a temp file beside it, fsynced, then rename(2). Elsewhere: a temp object, then a move;
    object stores make a single object's write atomic, so the move's final copy is all-or-nothing.
    `before_replace` runs once the new bytes are safely written, just before they take the name
    (a failed write never calls it).
    """
    if is_local(path):
        folder = os.path.dirname(path.path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=folder)
        try:
            # mkstemp makes the file 0600 whatever the umask: a team's shared storage needs the mode
            # every other file of this user gets (0644 under umask 022, 0664 under 002)
            os.fchmod(fd, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if before_replace is not None:
                before_replace()
            os.replace(tmp, path.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{temp_prefix(path.name)}{uuid.uuid4().hex}")
    try:
        tmp.write_bytes(data)
        if before_replace is not None:
            before_replace()
        path.fs.mv(tmp.path, path.path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path
