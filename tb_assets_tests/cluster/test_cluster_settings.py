"""The team profile's settings: form checked when read, servers reached before processes start,
every message naming the setting and never the password; `tb cluster down` stops only its own."""

import json
import subprocess
import sys

import pytest

from tb_assets.cluster.processes import Cluster
from tb_assets.cluster.settings import apply_team_defaults, celery_broker, check_postgres, check_redis, dagster_pg_url, profile
from tb_assets.core.errors import ConfigError
from tb_assets_tests.servers import free_port

SECRET = "Sup3r-s3cret"


def test_the_profile_and_its_urls_are_checked_for_form(monkeypatch):
    monkeypatch.delenv("TB_PROFILE", raising=False)
    assert profile() == "local"
    monkeypatch.setenv("TB_PROFILE", "cluster")
    with pytest.raises(ConfigError, match="TB_PROFILE='cluster': choose from local, team"):
        profile()
    monkeypatch.delenv("TB_DAGSTER_PG_URL", raising=False)
    with pytest.raises(ConfigError, match="TB_DAGSTER_PG_URL is not set"):
        apply_team_defaults()
    monkeypatch.setenv("TB_DAGSTER_PG_URL", f"postgresql://tb:{SECRET}@db:5432/dagster")
    with pytest.raises(ConfigError, match=r"must start with postgresql\+psycopg2://") as bad:
        dagster_pg_url()
    assert SECRET not in str(bad.value)
    monkeypatch.setenv("TB_CELERY_BROKER", f"amqp://tb:{SECRET}@mq:5672//")
    with pytest.raises(ConfigError, match="TB_CELERY_BROKER .* must be a redis:// or rediss:// URL") as bad:
        celery_broker()
    assert SECRET not in str(bad.value)


def test_unreachable_servers_are_named_by_their_setting_without_the_password():
    port = free_port()  # nothing listens there
    with pytest.raises(ConfigError, match=rf"TB_DAGSTER_PG_URL: cannot reach PostgreSQL at postgresql\+psycopg2://127.0.0.1:{port}/") as pg:
        check_postgres(f"postgresql+psycopg2://tb:{SECRET}@127.0.0.1:{port}/dagster", timeout_s=2)
    with pytest.raises(ConfigError, match=rf"TB_CELERY_BROKER: cannot reach Redis at redis://127.0.0.1:{port}/") as rd:
        check_redis(f"redis://:{SECRET}@127.0.0.1:{port}/0", timeout_s=2)
    assert SECRET not in str(pg.value) + str(rd.value)


def test_reachable_servers_pass(postgres, redis_server):
    check_postgres(postgres.new_database("reach"))
    check_redis(redis_server.url)


def test_down_stops_its_own_process_group_and_never_a_reused_pid(tmp_path):
    cluster = Cluster(tmp_path / "cluster")
    ours = cluster.start(
        "sleeper",
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)",
        ],
        env={},
        cwd=tmp_path,
    )
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        # a record whose pid now belongs to another, newer process (the pid was reused)
        (cluster.folder / "old.json").write_text(json.dumps({"name": "old", "pid": stranger.pid, "create_time": 1.0, "log": "", "cmd": []}))
        assert [s.name for s in cluster.running()] == ["sleeper"]
        stopped = cluster.stop(grace_s=10)
        assert [s.name for s in stopped] == ["sleeper"] and not ours.alive()
        assert stranger.poll() is None  # not ours: left alone
        assert cluster.recorded() == []
    finally:
        stranger.kill()
        stranger.wait()
