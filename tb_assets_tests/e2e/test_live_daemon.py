"""The live layer with only the daemon running: new files in the source become signals, and a
source whose signal flipped raises the realized_decay alert and a retraining request."""

from __future__ import annotations

import os

import dagster as dg
import pandas as pd
import pytest
import yaml

from tb_assets.sources.synthetic import synthetic_bars
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import has_partition, read_partition
from tb_assets_tests.e2e.processes import daemon, wait_for
from tb_assets_tests.e2e.test_daemon import tb
from tb_assets_tests.servers import WebhookServer

pytestmark = pytest.mark.e2e
HISTORY, NEW = 2500, 1000
START = pd.Timestamp("2010-01-04")
FAST = {
    "ops": {
        "best_params": {"config": {"n_trials": 6, "min_auc": 0.0, "max_brier": 0.3}},
        "selected_features": {"config": {"max_features": 6}},
    }
}


def source_bars(signal: float) -> pd.DataFrame:
    bars = synthetic_bars("SYN1", "1d", HISTORY + NEW, 0, signal, START)
    bars["ts"] = pd.DatetimeIndex(bars["ts"]).tz_localize("UTC")
    return bars


def new_data_ticks(log) -> int:
    return log.read_text(errors="replace").count("Sensor tb_new_data skipped") if log.exists() else 0


@pytest.mark.cost(240)
def test_new_files_become_signals_and_a_flipped_source_alerts_realized_decay(dagster_home, tmp_path):
    raw = tmp_path / "raw" / "symbol=SYN1"
    raw.mkdir(parents=True)
    history = source_bars(0.35).iloc[:HISTORY]
    history.to_parquet(raw / "part-0000.parquet", index=False)
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(FAST))
    with WebhookServer() as hook:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
        env.update(
            DAGSTER_HOME=str(dagster_home),
            TB_DATA_DIR=os.environ["TB_DATA_DIR"],
            TB_SOURCE="parquet",
            TB_RAW_DIR=str(tmp_path / "raw"),
            TB_SYMBOLS="SYN1",
            TB_TIMEFRAMES="1d",
            TB_CONTEXT_SYMBOLS="none",
            TB_AUTOMATION="off",
            TB_ALERT_WEBHOOK=hook.url,
            TB_ALERT_INTERVAL="5",
            TB_NEW_DATA_INTERVAL="5",
            OMP_WAIT_POLICY="PASSIVE",
        )
        live_chain = "bars,features,targets,selected_features,best_params,production_model,signals,model_health"
        trained = tb(["run", "--select", live_chain, "--config", str(tmp_path / "fast.yaml")], env)
        assert trained.returncode == 0, trained.stdout + trained.stderr
        warehouse = storage_root(os.path.join(env["TB_DATA_DIR"], "warehouse"))
        assert not has_partition(warehouse, "signals", "SYN1", "1d")  # trained until the last bar: nothing new yet

        log = tmp_path / "daemon.log"
        with daemon(env, log) as proc:
            wait_for(lambda: new_data_ticks(log) >= 1, "the new-data sensor to record the files", alive=proc)
            # the market after training pays the other side of the planted momentum
            flipped = source_bars(-0.7).iloc[HISTORY:].copy()
            scale = history["close"].iloc[-1] / flipped["open"].iloc[0]
            for column in ("open", "high", "low", "close"):
                flipped[column] *= scale
            flipped.to_parquet(raw / "part-0001.parquet", index=False)
            wait_for(lambda: any("realized_decay" in body.get("text", "") for body in hook.bodies), "the realized_decay alert", alive=proc)
            instance = dg.DagsterInstance.get()
            wait_for(
                lambda: instance.get_runs(filters=dg.RunsFilter(tags={"tb/launched_by": "realized decay"})),
                "the retraining request",
                alive=proc,
            )
        signals = read_partition(warehouse, "signals", "SYN1", "1d")
        assert len(signals) == NEW and (signals["ts"] > history["ts"].iloc[-1]).all()  # every new bar, once
        live_runs = instance.get_runs(filters=dg.RunsFilter(tags={"tb/launched_by": "new-data sensor"}))
        assert len(live_runs) == 1 and live_runs[0].job_name == "tb_live"
        alert = next(body["text"] for body in hook.bodies if "realized_decay" in body["text"])
        assert "[tb ERROR] SYN1|1d model_health check realized_decay failed" in alert and "the model has decayed" in alert
