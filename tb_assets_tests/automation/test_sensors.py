"""The refresh condition on every asset, the sensors' default states, the new-data sensor."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from tb_assets.automation.alert_sensor import ALERT_SENSOR
from tb_assets.automation.new_data import NEW_DATA_SENSOR
from tb_assets.automation.refresh import AUTOMATION_SENSOR
from tb_assets.automation.retrain import RETRAIN_SENSOR
from tb_assets.definitions import build_definitions
from tb_assets.resources import BarSourceResource
from tb_assets.runs.stranded_steps import STRANDED_SENSOR
from tb_assets.settings import AlertSettings
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import CHAIN


def test_every_asset_refreshes_on_the_cron_once_upstream_blocking_checks_pass(tmp_path):
    defs = build_definitions(make_settings(tmp_path, refresh_cron="15 3 * * *"))
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == sorted([*CHAIN, "model_experiments"])
    assert graph.get(dg.AssetKey("model_experiments")).automation_condition is None  # research runs when asked for
    for key in (dg.AssetKey(name) for name in CHAIN):
        condition = graph.get(key).automation_condition
        assert condition is not None and condition.get_label() == "refresh on 15 3 * * * (UTC) once upstream blocking checks pass"
        text = str(condition.get_snapshot())
        assert "15 3 * * *" in text and "blocking" in text.lower()


def test_sensors_are_declared_running_and_automation_can_be_declared_stopped(tmp_path):
    on = build_definitions(make_settings(tmp_path))
    status = {s.name: s.default_status for s in on.sensors}
    assert status == {
        AUTOMATION_SENSOR: dg.DefaultSensorStatus.RUNNING,
        NEW_DATA_SENSOR: dg.DefaultSensorStatus.RUNNING,
        ALERT_SENSOR: dg.DefaultSensorStatus.RUNNING,
        STRANDED_SENSOR: dg.DefaultSensorStatus.RUNNING,
        RETRAIN_SENSOR: dg.DefaultSensorStatus.RUNNING,
    }
    assert on.resolve_sensor_def(AUTOMATION_SENSOR).asset_selection == dg.AssetSelection.all()
    off = build_definitions(make_settings(tmp_path, automation=False))
    assert off.resolve_sensor_def(AUTOMATION_SENSOR).default_status == dg.DefaultSensorStatus.STOPPED
    assert on.resolve_sensor_def(ALERT_SENSOR).minimum_interval_seconds == 30
    quick = build_definitions(make_settings(tmp_path, alerts=AlertSettings(interval_s=5)))
    assert quick.resolve_sensor_def(ALERT_SENSOR).minimum_interval_seconds == 5  # TB_ALERT_INTERVAL


def test_a_cron_tick_requests_every_partition_of_the_roots_and_waits_for_checks(tmp_path):
    defs = build_definitions(make_settings(tmp_path, refresh_cron="30 22 * * 1-5"))
    with dg.instance_for_test() as instance:
        monday = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=monday)
        assert before.total_requested == 0
        after = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=before.cursor, evaluation_time=monday + timedelta(minutes=31)
        )
        bars = after.get_requested_partitions(dg.AssetKey("bars"))
        assert {str(k) for k in bars} == {"SPX|1d", "SPX|1w", "IXIC|1d", "IXIC|1w"}
        # nothing downstream before the bars (and their blocking check) exist
        assert after.total_requested == 4 and after.get_num_requested(dg.AssetKey("features")) == 0


def _csv(path, start="2024-01-01", n=30):
    ts = pd.bdate_range(start, periods=n, tz="UTC")
    pd.DataFrame({"ts": ts, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0}).to_csv(path, index=False)


def test_new_data_sensor_requests_the_partitions_of_the_symbol_whose_files_changed(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for symbol in ("AAA", "BBB", "CTX"):
        _csv(raw / f"{symbol}.csv")
    settings = make_settings(
        tmp_path / "data", source="csv", raw_dir=str(raw), symbols=("AAA", "BBB"), timeframes=("1d", "1w"), context_symbols=("CTX",)
    )
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(NEW_DATA_SENSOR)

    def tick(cursor):
        context = dg.build_sensor_context(
            cursor=cursor, definitions=defs, resources={"bar_source": BarSourceResource.from_settings(settings)}
        )
        return sensor.evaluate_tick(context)

    first = tick(None)  # records what is there
    assert first.run_requests == [] and "recorded the files of 3 symbol(s)" in first.skip_message
    same = tick(first.cursor)
    assert same.run_requests == [] and same.skip_message == "no symbol's files changed"

    _csv(raw / "AAA.csv", n=31)  # a new bar: size and mtime change
    changed = tick(same.cursor)
    keys = sorted(str(r.partition_key) for r in changed.run_requests)
    assert keys == ["AAA|1d", "AAA|1w"]
    assert all(r.job_name in (None, "tb_live") and r.tags["tb/launched_by"] == "new-data sensor" for r in changed.run_requests)
    assert tick(changed.cursor).run_requests == []

    stat = (raw / "CTX.csv").stat()
    os.utime(raw / "CTX.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the context symbol: every partition
    ctx = tick(changed.cursor)
    assert sorted(str(r.partition_key) for r in ctx.run_requests) == ["AAA|1d", "AAA|1w", "BBB|1d", "BBB|1w"]


def test_new_data_sensor_does_nothing_for_the_sample(tmp_path):
    settings = make_settings(tmp_path)
    context = dg.build_sensor_context(resources={"bar_source": BarSourceResource.from_settings(settings)})
    result = build_definitions(settings).resolve_sensor_def(NEW_DATA_SENSOR).evaluate_tick(context)
    assert result.run_requests == [] and "sample source has no files to watch" in result.skip_message
