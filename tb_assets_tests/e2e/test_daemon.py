"""The daemon end to end: real `dagster-daemon` processes against a real instance in a temp dir,
a real webhook receiver and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus

from tb_assets.settings import PROJECT_ROOT
from tb_assets_tests.e2e.processes import daemon, wait_for
from tb_assets_tests.helpers import CHAIN, tamper_warehouse
from tb_assets_tests.servers import SmtpServer, WebhookServer

pytestmark = pytest.mark.e2e
TB = [sys.executable, "-m", "tb_assets.cli"]
PARTITIONS = {"SYN1|1d", "SYN2|1d"}


# the chain before what a test judges, quicker than the defaults (the tick's own runs keep the defaults)
QUICK = """ops:
  best_params: {config: {n_trials: 4}}
  selected_features: {config: {max_features: 6}}
  shap_report: {config: {n_repeats: 2, top_dependence: 1}}
"""


def quick(tmp_path) -> str:
    path = tmp_path / "quick.yaml"
    path.write_text(QUICK)
    return str(path)


def tb(args, env):
    done = subprocess.run([*TB, *args], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    return done


@pytest.fixture
def env(dagster_home):
    e = {k: v for k, v in os.environ.items() if not k.startswith("TB_") or k == "TB_REAL_DATA"}
    e.update(
        DAGSTER_HOME=str(dagster_home),
        TB_DATA_DIR=os.environ["TB_DATA_DIR"],
        TB_SOURCE="synthetic",
        TB_SYMBOLS="SYN1,SYN2",
        TB_TIMEFRAMES="1d",
        TB_SYNTHETIC_BARS="800",  # the chain through the strategy layer, two partitions, in as few seconds as it takes
        TB_SYNTHETIC_SIGNAL="0.3",
        TB_CONTEXT_SYMBOLS="none",
        OMP_WAIT_POLICY="PASSIVE",
    )
    return e


def latest_materializations(instance, asset: str) -> dict[str, float]:
    """partition -> timestamp of its latest materialization."""
    out = {}
    for key in PARTITIONS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
        ).records
        if records:
            out[key] = records[0].timestamp
    return out


AUTOMATION_EVALUATED = "Finished auto-materialization tick for tb_refresh"


def daemon_before_a_due_cron(env: dict, log_dir: Path, lead_s: float = 20):
    """A daemon whose refresh cron fires once, at the next whole minute at least `lead_s` away (UTC).

    on_cron fires when a tick passed between two evaluations of the automation sensor, so the
    daemon must evaluate once before the tick: it does so as it starts. A start slower than the
    lead (a loaded machine) would miss the tick, so then it is restarted with the next minute."""
    for attempt in range(10):
        at = (datetime.now(UTC) + timedelta(seconds=lead_s)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        env["TB_REFRESH_CRON"] = f"{at.minute} {at.hour} * * *"
        proc = daemon(env, log_dir / f"daemon-{attempt}.log").start()
        wait_for(lambda proc=proc: AUTOMATION_EVALUATED in proc.text(), "the first automation evaluation", alive=proc, poll_s=0.5)
        if datetime.now(UTC) < at:
            return proc
        proc.stop()
    raise AssertionError("the daemon never evaluated the automation sensor before its next cron tick")


@pytest.mark.cost(280)
def test_a_due_cron_tick_refreshes_every_partition_through_the_chain_as_backfills(env, tmp_path):
    first = tb(["run", "--config", quick(tmp_path)], env)  # the checks have passed once: the tick then requests the whole chain
    assert first.returncode == 0, first.stdout + first.stderr
    instance = dg.DagsterInstance.get()
    before = {asset: latest_materializations(instance, asset) for asset in CHAIN}
    assert all(set(b) == PARTITIONS for b in before.values())

    started = time.time()
    with daemon_before_a_due_cron(env, tmp_path) as proc:

        def refreshed():
            now = {asset: latest_materializations(instance, asset) for asset in CHAIN}
            return all(now[a].get(k, 0) > before[a][k] for a in CHAIN for k in PARTITIONS)

        wait_for(refreshed, "every asset of every partition to be materialized again", alive=proc, poll_s=5)
        wait_for(
            lambda: all(b.status in BULK_ACTION_TERMINAL_STATUSES for b in instance.get_backfills()), "the backfills to end", alive=proc
        )

    backfills = instance.get_backfills()
    assert backfills, "the tick launched no backfill"
    assert all(b.status == BulkActionStatus.COMPLETED_SUCCESS for b in backfills), [b.status for b in backfills]
    targeted = set()
    for backfill in backfills:
        subset = backfill.asset_backfill_data.target_subset
        for asset_key, partitions in subset.partitions_subsets_by_asset_key.items():
            targeted |= {(asset_key.to_user_string(), str(k)) for k in partitions.get_partition_keys()}
    assert targeted == {(a, k) for a in CHAIN for k in PARTITIONS}
    # every run the daemon launched belongs to one of those backfills (no run per partition on the side)
    runs = [r for r in instance.get_runs() if r.tags.get("tb/launched_by") != "tb run"]
    assert runs and all(r.tags.get("dagster/backfill") in {b.backfill_id for b in backfills} for r in runs)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert min(b.backfill_timestamp for b in backfills) > started


def tamper_with_the_label(data_dir: str, symbol: str) -> None:
    """Overwrite a stored feature of one partition with its own label: a leak the sentinels must catch."""
    tamper_warehouse(
        str(Path(data_dir) / "warehouse"),
        "UPDATE features f SET ret_5 = t.bin + 0.0 FROM targets t "
        f"WHERE f.symbol = '{symbol}' AND t.symbol = f.symbol AND t.timeframe = f.timeframe AND t.ts = f.ts",
    )


def alert_ticks(log: Path) -> int:
    return log.read_text(errors="replace").count("Sensor tb_alerts skipped") if log.exists() else 0


@pytest.mark.cost(200)
def test_a_leak_alerts_once_by_webhook_and_email_stops_downstream_and_a_restart_resends_nothing(env, tmp_path):
    with WebhookServer() as hook, SmtpServer() as smtp:
        env.update(
            TB_AUTOMATION="off",
            TB_ALERT_WEBHOOK=hook.url,
            TB_ALERT_SMTP=f"127.0.0.1:{smtp.port}",
            TB_ALERT_EMAIL_TO="quant@example.com",
            TB_UI_URL="http://ui.test:3000",
            TB_ALERT_INTERVAL="5",
        )
        upstream = tb(["run", "--select", "bars,features,targets"], env)
        assert upstream.returncode == 0, upstream.stdout + upstream.stderr
        tamper_with_the_label(env["TB_DATA_DIR"], "SYN1")

        first_log = tmp_path / "daemon-1.log"
        with daemon(env, first_log) as proc:
            done = tb(
                ["backfill", "--select", "selected_features,best_params,production_model,shap_report", "--config", quick(tmp_path)], env
            )
            # tb backfill followed the daemon's backfill to its end and names the partition that failed
            assert done.returncode == 1, done.stdout + done.stderr
            assert "SYN1|1d" in done.stderr and "SYN2|1d" not in done.stderr
            assert "production_model_leakage_sentinels" in done.stderr
            wait_for(lambda: hook.bodies and smtp.messages, "the alert to arrive", alive=proc)
            seen = alert_ticks(first_log)
            wait_for(lambda: alert_ticks(first_log) >= seen + 2, "two more alert-sensor ticks", alive=proc)

        assert len(hook.bodies) == 1 and len(smtp.messages) == 1
        text = hook.bodies[0]["text"]
        assert "[tb ERROR] SYN1|1d production_model check production_model_leakage_sentinels failed" in text
        assert "implausibly high" in text and "permuted_auc" in text and "plausible_ceiling 0.8" in text
        assert "http://ui.test:3000/runs/" in text
        assert smtp.messages[0]["Subject"].startswith("[tb ERROR] SYN1|1d") and smtp.messages[0]["To"] == "quant@example.com"
        instance = dg.DagsterInstance.get()
        # the blocking check stopped SYN1's shap_report; SYN2 went through
        assert set(latest_materializations(instance, "shap_report")) == {"SYN2|1d"}
        assert set(latest_materializations(instance, "production_model")) == PARTITIONS

        second_log = tmp_path / "daemon-2.log"
        with daemon(env, second_log) as proc:
            wait_for(lambda: alert_ticks(second_log) >= 2, "two alert-sensor ticks after the restart", alive=proc)
        assert len(hook.bodies) == 1 and len(smtp.messages) == 1  # nothing resent
        listed = tb(["alerts", "--json"], env)
        alerts = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(alerts) == 1 and {d["state"] for d in alerts[0]["deliveries"].values()} == {"sent"}
        assert math.isclose(alerts[0]["numbers"]["plausible_ceiling"], 0.8)
