"""The team profile's settings: TB_PROFILE, TB_DAGSTER_PG_URL, TB_CELERY_BROKER and the code
server's address, checked for form when read and for reachability before processes start.
Messages name the setting and the server, never the password."""

from __future__ import annotations

import os
from pathlib import Path

from tb_assets.core.errors import ConfigError
from tb_assets.storage.databases import redact_url

PROFILES = ("local", "team")
DEFAULT_CODE_SERVER_HOST = "127.0.0.1"
DEFAULT_CODE_SERVER_PORT = "4266"
BROKER_SCHEMES = ("redis", "rediss")
# run tags naming the Celery worker that took a run (set by cluster/celery_app, read by cluster/launcher)
WORKER_TAGS = ("tb/worker", "tb/worker_host", "tb/worker_pid")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def profile() -> str:
    """TB_PROFILE: `local` (SQLite instance, runs on this machine) or `team` (deploy/: PostgreSQL, Celery)."""
    text = (_env("TB_PROFILE") or "local").lower()
    if text not in PROFILES:
        raise ConfigError(f"TB_PROFILE={text!r}: choose from {', '.join(PROFILES)}")
    return text


def deploy_dir(project_root: Path) -> Path:
    """The team profile's DAGSTER_HOME: deploy/dagster.yaml and deploy/workspace.yaml."""
    return project_root / "deploy"


def dagster_pg_url() -> str:
    """TB_DAGSTER_PG_URL: the instance's PostgreSQL (runs, events, schedules), a postgresql+psycopg2:// URL."""
    text = _env("TB_DAGSTER_PG_URL")
    if text is None:
        raise ConfigError(
            "TB_DAGSTER_PG_URL is not set: the team profile keeps the Dagster instance on PostgreSQL, "
            "e.g. postgresql+psycopg2://dagster:password@db-host:5432/dagster"
        )
    if not text.startswith("postgresql+psycopg2://"):
        raise ConfigError(
            f"TB_DAGSTER_PG_URL ({redact_url(text)}) must start with postgresql+psycopg2:// (SQLAlchemy 2.1 "
            "reads a bare postgresql:// as psycopg 3, which is not installed)"
        )
    return text


def celery_broker() -> str:
    """TB_CELERY_BROKER: the Redis URL runs are queued on (also the result backend), e.g. redis://host:6379/0."""
    text = _env("TB_CELERY_BROKER")
    if text is None:
        raise ConfigError(
            "TB_CELERY_BROKER is not set: the team profile queues runs for the Celery workers on Redis, e.g. redis://redis-host:6379/0"
        )
    if text.split("://", 1)[0] not in BROKER_SCHEMES:
        raise ConfigError(f"TB_CELERY_BROKER ({redact_url(text)}) must be a redis:// or rediss:// URL")
    return text


def code_server_address() -> tuple[str, int]:
    """TB_CODE_SERVER_HOST / TB_CODE_SERVER_PORT: where `dagster code-server start` serves the definitions."""
    host = _env("TB_CODE_SERVER_HOST") or DEFAULT_CODE_SERVER_HOST
    port = _env("TB_CODE_SERVER_PORT") or DEFAULT_CODE_SERVER_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"TB_CODE_SERVER_PORT={port!r} is not a port number")
    return host, int(port)


def apply_team_defaults() -> None:
    """The team profile's settings checked for form (a ConfigError naming the one that is wrong) and
    the code server's address defaulted, so deploy/workspace.yaml resolves for every process."""
    dagster_pg_url()
    celery_broker()
    host, port = code_server_address()
    os.environ.setdefault("TB_CODE_SERVER_HOST", host)
    os.environ.setdefault("TB_CODE_SERVER_PORT", str(port))


def check_postgres(url: str, timeout_s: int = 5) -> None:
    """Connect once; a ConfigError naming TB_DAGSTER_PG_URL and the server when that fails."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": timeout_s}, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", None) or exc).strip()
        reason = message.splitlines()[0] if message else type(exc).__name__
        raise ConfigError(f"TB_DAGSTER_PG_URL: cannot reach PostgreSQL at {redact_url(url)}: {_without(reason, url)}") from None
    finally:
        engine.dispose()


def check_redis(url: str, timeout_s: int = 5) -> None:
    """PING once; a ConfigError naming TB_CELERY_BROKER and the server when that fails."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"TB_CELERY_BROKER: cannot reach Redis at {redact_url(url)}: {_without(str(exc), url)}") from None
    finally:
        client.close()


def _without(text: str, url: str) -> str:
    """A driver's message with the URL's password cut out, should it quote it."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text
