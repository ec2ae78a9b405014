"""`signals` and `model_health` on the planted chain fed by a growing parquet source, and their checks."""

import dataclasses

import dagster as dg
import numpy as np
import pandas as pd

from tb_assets.automation.retrain import RETRAIN_SENSOR
from tb_assets.core.features.matrix import build_feature_matrix
from tb_assets.core.live.tail import EVERY_FEATURE
from tb_assets.core.strategy.bet_sizing import bet_size
from tb_assets.definitions import LIVE_JOB, build_definitions
from tb_assets.sources.synthetic import synthetic_bars
from tb_assets.storage.records import ModelCard, ModelHealth
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import partition_file
from tb_assets_tests.assets.conftest import FAST, PLANTED, pristine_copy
from tb_assets_tests.helpers import QUIET, checks, failure_text, metadata, published, run, stored, tamper, upto

KEY = "SYN1|1d"


def fed_by_files(planted, tmp_path):
    """The planted chain's data with a parquet source holding the bars it was trained on."""
    settings, _ = pristine_copy(planted, tmp_path)
    raw = tmp_path / "raw" / "symbol=SYN1"
    raw.mkdir(parents=True)
    history = stored(settings, "SYN1", "1d")[["ts", "open", "high", "low", "close", "volume"]]
    history.to_parquet(raw / "part-0000.parquet", index=False)
    settings = dataclasses.replace(settings, source="parquet", raw_dir=str(tmp_path / "raw"))
    return settings, build_definitions(settings), history


def append_bars(settings, history, n, part, signal=0.35, trend=0.0):
    """`n` more daily bars after the last one in the source, continuing its price level; a negative
    `signal` reverses the planted momentum (the concept flips), a `trend` adds that log return a bar."""
    more = synthetic_bars("SYN1", "1d", len(history) + n, 9, signal, pd.Timestamp(history["ts"].iloc[0]).tz_localize(None))
    more = more.iloc[len(history) :].reset_index(drop=True)
    more["ts"] = pd.DatetimeIndex(more["ts"]).tz_localize("UTC") if more["ts"].dt.tz is None else more["ts"]
    scale = history["close"].iloc[-1] / more["open"].iloc[0]
    for col in ("open", "high", "low", "close"):
        more[col] *= scale * np.exp(trend * np.arange(1, n + 1))
    more.to_parquet(f"{settings.raw_dir}/symbol=SYN1/part-{part:04d}.parquet", index=False)
    return pd.concat([history, more], ignore_index=True)


def live(defs, instance):
    return defs.resolve_job_def(LIVE_JOB).execute_in_process(partition_key=KEY, instance=instance, raise_on_error=False, run_config=QUIET)


def signals_table(settings):
    return stored(settings, "SYN1", "1d", table="signals")


@PLANTED
def test_new_bars_get_signals_once_equal_to_a_full_recompute(planted, tmp_path):
    settings, defs, history = fed_by_files(planted, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    first = live(defs, instance)
    assert first.success, failure_text(first)
    assert metadata(first, "signals")["new_signals"] == 0  # trained until the last bar: nothing new

    bars = append_bars(settings, history, 7, 1)
    second = live(defs, instance)
    assert second.success, failure_text(second)
    table = signals_table(settings)
    card = ModelCard.load(settings.artifacts_dir, "SYN1", "1d")
    assert len(table) == 7 and table["model_id"].eq(card.version).all()
    assert table["model_sha256"].eq(card.artifact_sha256[ModelCard.MODEL]).all()
    assert list(table["ts"]) == list(pd.DatetimeIndex(bars["ts"].iloc[-7:]))
    parity = checks(second)["training_serving_parity"]
    assert parity.passed and parity.metadata["compared"].value == 7

    # the stored probabilities are the production model's on a full recompute of the features
    full = build_feature_matrix(bars, {}, timeframe="1d", options=EVERY_FEATURE).frame.iloc[-7:]
    expected = card.model(settings.artifacts_dir, "SYN1", "1d").predict_proba(full[card.features])[:, 1]
    assert np.abs(table["proba"].to_numpy() - expected).max() <= 1e-9
    np.testing.assert_allclose(table["size"] * table["side"], bet_size(expected), atol=1e-12)

    path = partition_file(storage_root(settings.warehouse), "signals", "SYN1", "1d")
    before = path.read_bytes()
    again = live(defs, instance)
    assert again.success and metadata(again, "signals")["new_signals"] == 0
    assert path.read_bytes() == before  # re-running adds nothing, not even a rewrite

    append_bars(settings, bars, 3, 2)
    third = live(defs, instance)
    assert metadata(third, "signals")["new_signals"] == 3 and len(signals_table(settings)) == 10


@PLANTED
def test_a_stored_signal_that_a_full_recompute_does_not_give_fails_parity(planted, tmp_path):
    settings, defs, history = fed_by_files(planted, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    append_bars(settings, history, 5, 1)
    assert live(defs, instance).success
    tamper(settings, "UPDATE signals SET proba = proba + 1e-6 WHERE ts = (SELECT max(ts) FROM signals)")
    result = live(defs, instance)
    parity = checks(result)["training_serving_parity"]
    assert not parity.passed and parity.severity == dg.AssetCheckSeverity.ERROR
    assert parity.metadata["mismatched"].value == 1
    assert "1 of 5 stored probabilities differ" in parity.description


@PLANTED
def test_model_health_calls_a_flipped_concept_decay_and_requests_a_retraining(planted, tmp_path):
    settings, defs, history = fed_by_files(planted, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    append_bars(settings, history, 1000, 1, signal=-0.7)
    result = live(defs, instance)
    assert result.success, failure_text(result)
    health = checks(result)
    decay = health["realized_decay"]
    assert not decay.passed and decay.severity == dg.AssetCheckSeverity.ERROR, decay.description
    assert decay.metadata["change_fired"].value and decay.metadata["resolved_events"].value >= 300
    assert decay.metadata["realized_auc_upper"].value < decay.metadata["holdout_auc_lower"].value
    assert decay.description.startswith("the model has decayed")
    record = ModelHealth.load(settings.artifacts_dir, "SYN1", "1d")
    assert {"realized", "change", "drift"} <= set(record.plots) and all(record.file(f).exists() for f in record.plots.values())
    events = record.table(ModelHealth.EVENTS)
    assert len(events) == record.resolved_events and (events["ts"] > pd.Timestamp(record.trained_until)).all()

    # the partition's tearsheet shows it: its live section holds the verdict and the three pictures
    report = run(defs, KEY, selection=[dg.AssetKey("strategy_report")], instance=instance)
    assert report.success, failure_text(report)
    page = (published(settings, "strategy_report") / "tearsheet.html").read_text()
    live_part = page[page.index("<h2>Live: is it still working?</h2>") :]
    assert "the model has decayed" in live_part and live_part.count("data:image/png;base64,") == 3

    sensor = defs.resolve_sensor_def(RETRAIN_SENSOR)
    requests = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs)).run_requests
    assert [r.partition_key for r in requests] == [KEY] and requests[0].tags["tb/launched_by"] == "realized decay"
    assert defs.resolve_job_def(sensor.job_name).name == "tb_pipeline"  # a retraining, through the whole chain


@PLANTED
def test_model_health_on_the_same_market_finds_no_decay(planted, tmp_path):
    settings, defs, history = fed_by_files(planted, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    append_bars(settings, history, 400, 1)
    result = live(defs, instance)
    assert result.success, failure_text(result)
    health = checks(result)
    assert health["realized_decay"].passed, health["realized_decay"].description
    assert health["calibration_drift"].passed, health["calibration_drift"].description
    assert health["feature_drift"].passed, health["feature_drift"].description
    assert metadata(result, "model_health")["resolved_events"] >= 300
    sensor = defs.resolve_sensor_def(RETRAIN_SENSOR)
    assert not sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs)).run_requests


@PLANTED
def test_a_market_that_trends_away_warns_of_drift_and_miscalibration(planted, tmp_path):
    settings, defs, history = fed_by_files(planted, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    append_bars(settings, history, 400, 1, trend=0.01)  # +1% a bar, most labels now hit the upper barrier
    result = live(defs, instance)
    assert result.success, failure_text(result)
    health = checks(result)
    for name in ("feature_drift", "calibration_drift"):
        assert not health[name].passed and health[name].severity == dg.AssetCheckSeverity.WARN, health[name].description
    assert health["feature_drift"].metadata["family_p"].value <= 0.05
    assert "multivariate: a classifier tells the latest window" in health["feature_drift"].description
    assert "no longer mean what they say" in health["calibration_drift"].description


def aliases_of(settings):
    from tb_assets.training.registry import ModelRegistry, default_url

    registry = ModelRegistry(default_url(settings.data_dir))
    return registry, registry.aliases()


def version_folder(settings, version):
    return published(settings, "production_model").parent / version


@PLANTED
def test_after_decay_the_retrained_challenger_earns_its_place_by_the_paired_test(planted, tmp_path, monkeypatch, capsys):
    settings, defs, history = fed_by_files(planted, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    assert live(defs, instance).success
    registry, aliases = aliases_of(settings)
    first = ModelCard.load(settings.artifacts_dir, "SYN1", "1d").version
    assert aliases.current("SYN1", "1d")["champion"].version == first
    assert (version_folder(settings, first) / "KEEP").exists()  # pruning spares the model that serves signals

    # the market flips; the champion decays; a retraining (what tb_retrain_on_decay requests) makes a new model
    bars = append_bars(settings, history, 1000, 1, signal=-0.7)
    assert not checks(live(defs, instance))["realized_decay"].passed
    retrained = run(defs, KEY, FAST, selection=upto("production_model"), instance=instance)
    assert retrained.success, failure_text(retrained)
    second = ModelCard.load(settings.artifacts_dir, "SYN1", "1d").version
    assert second != first

    # it joins as the challenger, scores the new bars in shadow, and the gate compares both on untouched events
    append_bars(settings, bars, 300, 2, signal=-0.7)
    result = live(defs, instance)
    assert result.success, failure_text(result)
    table = signals_table(settings)
    shadow = table.loc[table["role"] == "challenger"]
    assert len(shadow) == 300 and shadow["model_id"].eq(second).all()
    assert table.loc[table["model_id"] == first, "ts"].is_unique and len(table.loc[table["model_id"] == first]) == 1300
    evidence = metadata(result, "model_health")["promotion"]
    assert evidence["challenger"] == second and evidence["holdout_events"] > 0 and evidence["shadow_events"] > 200
    assert evidence["promoted"] and evidence["p_value"] < 0.05 and evidence["challenger_auc"] > evidence["champion_auc"]
    current = aliases.current("SYN1", "1d")
    assert current["champion"].version == second and "challenger" not in current
    promoted = aliases.history("SYN1", "1d")[-1]
    assert (promoted.action, promoted.decided_by, promoted.version, promoted.replaced) == ("promoted", "gate", second, first)
    assert promoted.evidence["p_value"] == evidence["p_value"]
    assert (version_folder(settings, second) / "KEEP").exists() and not (version_folder(settings, first) / "KEEP").exists()

    # a person gives the place back, and the CLI shows the whole history with its evidence
    from tb_assets.cli import main

    monkeypatch.setenv("TB_DATA_DIR", str(settings.data_dir))
    assert main(["models", "demote", KEY, "--reason", "a test"]) == 0
    assert aliases.current("SYN1", "1d")["champion"].version == first
    assert main(["models", "champions", "--partition", KEY]) == 0
    out = capsys.readouterr().out
    assert "first model" in out and "gate" in out and "person:" in out and "a test" in out
    assert main(["models", "promote", KEY]) == 2  # no challenger left: name a version
    registry.close()
