"""Databases that several processes set up at once (Optuna's studies, the model registry).

Creating tables on first use races: two processes doing it on a fresh database collide ("table
already exists", a duplicate key in pg_type on PostgreSQL). `first_use` serialises that moment:
by a lock file beside a SQLite database, by an advisory lock on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

from filelock import FileLock


@contextlib.contextmanager
def first_use(url: str, key: int, *, name: str | None = None, timeout: float = 300) -> Iterator[None]:
    """Hold the database's lock `key` (an advisory lock id on PostgreSQL; for SQLite a file lock
    beside the database, `<database>.<name>.lock`, or its set-up lock without a name) while the body
    runs. `timeout` (seconds, -1 = wait as long as it takes) bounds the wait for the file lock."""
    import sqlalchemy  # here: the settings import this module for redact_url, and must load fast

    if url.startswith("sqlite"):
        database = sqlalchemy.engine.make_url(url).database
        if not database or database == ":memory:":
            yield
            return
        with FileLock(f"{database}.{name}.lock" if name else f"{database}.lock", timeout=timeout):
            create_with_umask(database)
            yield
        return
    if not url.startswith("postgresql"):
        yield
        return
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                con.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def create_with_umask(path: str) -> None:
    """Make an empty database file with the mode the umask allows, unless it exists. SQLite would
    make it 0644 whatever the umask (its default), so a group sharing the folder could not write it;
    it opens an empty file as a new database, and its journals copy the file's mode."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except FileExistsError:
        pass


def redact_url(url: str) -> str:
    """scheme://host[:port]/… with no user, password, path or query: enough to say which server."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{host}{port}/…" if parts.scheme else "<not a URL>"
