"""The `features` asset and its checks in a real Dagster instance over a real DuckDB file."""

import json

import dagster as dg
import numpy as np
import pytest

from tb_assets.core.features import indicators as ind
from tb_assets.core.features.matrix import SPECS
from tb_assets.definitions import build_definitions
from tb_assets.sources import make_source
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import checks, failure_text, metadata, published, run, run_checks, stored, tamper, upto


def run_upto(defs, key, run_config=None, instance=None):
    return run(defs, key, run_config, selection=upto("features"), instance=instance)


def catalog(settings, symbol, tf):
    return json.loads((published(settings, "features", symbol, tf) / "feature_catalog.json").read_text())


@pytest.mark.cost(45)
def test_sample_partitions_build_features_with_context_and_pass_every_check(tmp_path):
    settings = make_settings(tmp_path)  # SPX, IXIC; context SPX,IXIC (each the other's)
    defs = build_definitions(settings)
    results = {key: run_upto(defs, key) for key in ("SPX|1d", "IXIC|1w")}
    for result in results.values():
        assert result.success, failure_text(result)
        assert all(e.passed for e in checks(result).values()), {n: e.metadata for n, e in checks(result).items()}
    md = metadata(results["SPX|1d"], "features")
    assert md["context_used"] == "IXIC" and md["rows_lost_in_join"] == 0 and md["warmup_rows"] == 295
    # daily: no `hour`; a context symbol has neither calendar nor regime_gmm
    assert md["rows"] == 5031 - 295 and md["n_features"] == (len(SPECS) - 1) + (len(SPECS) - 3)
    cat = catalog(settings, "SPX", "1d")
    table = stored(settings, "SPX", "1d", "features")
    # each partition keeps its own columns: none of IXIC's (*_SPX) appear in SPX's file
    assert list(table.columns) == ["symbol", "timeframe", "ts", *cat["features"]]
    ixic = stored(settings, "IXIC", "1w", "features")
    assert any(c.endswith("_SPX") for c in ixic.columns) and not any(c.endswith("_SPX") for c in table.columns)
    assert len(table) == md["rows"] and cat["groups"]["rsi_14_IXIC"] == "bounded" and cat["groups"]["regime_gmm"] == "regime"
    assert not {"open", "high", "low", "close", "close_IXIC"} & set(table.columns)
    # the matrix the table holds is the one computed from the stored bars
    rsi = ind.rsi(stored(settings, "SPX", "1d")["close"], 14).to_numpy()[295:]
    np.testing.assert_array_equal(table["rsi_14"].to_numpy(), rsi)


def test_parquet_source_with_context_and_a_missing_context_symbol(tmp_path):
    pq = tmp_path / "pq"
    src = make_source("synthetic", synthetic_freq="1h", synthetic_bars=2000, synthetic_seed=4)
    for sym in ("ES", "NQ"):
        bars = src.load(sym).frame
        for day, g in bars.groupby(bars["ts"].dt.strftime("%Y-%m-%d")):
            (pq / sym / f"dt={day}").mkdir(parents=True)
            g.to_parquet(pq / sym / f"dt={day}" / "part-0.parquet", index=False)
    settings = make_settings(
        tmp_path, source="parquet", raw_dir=str(pq), symbols=("ES",), timeframes=("1h", "4h"), context_symbols=("NQ", "GONE")
    )
    defs = build_definitions(settings)
    result = run_upto(defs, "ES|1h")
    assert result.success, failure_text(result)
    md = metadata(result, "features")
    assert md["context_used"] == "NQ" and md["context_skipped"].startswith("GONE: no parquet files for 'GONE'")
    cat = catalog(settings, "ES", "1h")
    assert "hour" in cat["features"] and "ret_1_NQ" in cat["features"] and "GONE" in cat["context_skipped"]
    assert all(e.passed for e in checks(result).values())
    custom = run_upto(
        defs,
        "ES|4h",
        {"ops": {"features": {"config": {"data_options": {"feature_set": "core", "groups": ["bounded"], "context_symbols": []}}}}},
    )
    assert custom.success, failure_text(custom)
    cat4 = catalog(settings, "ES", "4h")
    assert cat4["context_used"] == [] and set(cat4["groups"].values()) == {"bounded"} and "rsi_14" in cat4["features"]


@pytest.mark.cost(45)
def test_peeking_indicator_fails_the_blocking_lookahead_check(tmp_path, monkeypatch):
    honest = ind.rsi
    monkeypatch.setattr(ind, "rsi", lambda close, n=14: honest(close.shift(-1), n))
    settings = make_settings(tmp_path, symbols=("SPX",), timeframes=("1w",))
    result = run_upto(build_definitions(settings), "SPX|1w")
    assert not result.success  # blocking: the run fails
    evaluation = checks(result)["features_no_lookahead"]
    assert not evaluation.passed and "'rsi_14'" in evaluation.metadata["problems"].value
    monkeypatch.setattr(ind, "rsi", honest)
    assert run_upto(build_definitions(settings), "SPX|1w").success


def test_raw_price_and_finite_checks_fail_on_bad_stored_features(tmp_path):
    settings = make_settings(tmp_path, symbols=("SPX",), timeframes=("1w",))
    defs = build_definitions(settings)
    assert run_upto(defs, "SPX|1w").success
    # a price level sneaks in under an innocent name, listed in the catalog
    tamper(settings, "ALTER TABLE features ADD COLUMN level DOUBLE")
    tamper(
        settings,
        "UPDATE features f SET level = b.close FROM bars b WHERE f.ts = b.ts AND f.symbol = b.symbol AND f.timeframe = b.timeframe",
    )
    path = published(settings, "features", "SPX", "1w") / "feature_catalog.json"
    cat = json.loads(path.read_text())
    path.write_text(json.dumps({**cat, "features": [*cat["features"], "level"]}))
    prices = checks(run_checks(defs, "SPX|1w", "features_no_raw_prices"))["features_no_raw_prices"]
    assert not prices.passed and prices.metadata["equal_to_prices"].value == "level (= close)"
    # and one named like a price
    tamper(settings, "ALTER TABLE features ADD COLUMN close_IXIC DOUBLE")
    named = checks(run_checks(defs, "SPX|1w", "features_no_raw_prices"))["features_no_raw_prices"]
    assert not named.passed and named.metadata["named_like_prices"].value == "close_IXIC"
    # holes in a feature
    tamper(settings, "UPDATE features SET rsi_14 = 'NaN' WHERE ts < (SELECT min(ts) + INTERVAL 200 DAY FROM features)")
    finite = checks(run_checks(defs, "SPX|1w", "features_mostly_finite"))["features_mostly_finite"]
    assert not finite.passed and finite.severity == dg.AssetCheckSeverity.WARN
    assert "rsi_14" in finite.metadata["columns_over_threshold"].value


@pytest.mark.cost(45)
def test_schema_change_is_reported(tmp_path):
    settings = make_settings(tmp_path, symbols=("SPX",), timeframes=("1w",))
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    first = run_upto(defs, "SPX|1w", instance=instance)
    assert checks(first)["features_schema_unchanged"].passed
    same = run_upto(defs, "SPX|1w", instance=instance)
    assert checks(same)["features_schema_unchanged"].passed
    core = run_upto(defs, "SPX|1w", {"ops": {"features": {"config": {"data_options": {"feature_set": "core"}}}}}, instance=instance)
    assert core.success  # WARN only
    evaluation = checks(core)["features_schema_unchanged"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "dist_sma_200" in evaluation.metadata["removed"].value and evaluation.metadata["added"].value == "none"


def test_too_little_history_for_the_warm_up_fails_clearly(tmp_path):
    settings = make_settings(tmp_path, source="synthetic", symbols=("SYN1",), timeframes=("1d",), context_symbols=(), synthetic_bars=150)
    result = run_upto(build_definitions(settings), "SYN1|1d")
    assert not result.success and "SYN1|1d: no feature rows: 150 bars, 295 needed for warm-up" in failure_text(result)


@pytest.mark.real_data
@pytest.mark.cost(35)
def test_real_spy_with_real_vix_context(tmp_path, real_data):
    """Real SPY daily (1999-2020) with the real CBOE VIX (1990-2026) as context: VIX regimes."""
    import shutil

    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(real_data / "pandas-ta/SPY_D.csv", raw / "SPY.csv")
    shutil.copy(real_data / "finance-vix/vix-daily.csv", raw / "VIX.csv")
    settings = make_settings(tmp_path, source="csv", raw_dir=str(raw), symbols=("SPY",), timeframes=("1d", "1w"), context_symbols=("VIX",))
    defs = build_definitions(settings)
    for key in ("SPY|1d", "SPY|1w"):
        result = run_upto(defs, key)
        assert result.success, failure_text(result)
        assert all(e.passed for e in checks(result).values()), {n: e.metadata for n, e in checks(result).items()}
    table = stored(settings, "SPY", "1d", "features")
    cat = catalog(settings, "SPY", "1d")
    assert "regime_vix" in cat["features"] and "mfi_14_VIX" not in cat["features"]  # VIX has no volume
    assert len(table) == 5241 - 295  # VIX covers SPY's whole history: the join loses nothing
    stressed = table.set_index(table["ts"].dt.tz_convert("UTC"))["regime_vix"]
    assert stressed.loc["2008-10"].eq(2).all()  # the 2008 crash is a stressed VIX regime
    assert stressed.loc["2017-06"].eq(0).mean() > 0.9  # 2017 was calm


@pytest.mark.real_data
def test_real_spy_minutes_intraday_features(tmp_path, real_data):
    """Real SPY minutes (Jan and Mar 2011, extended hours, gaps) resampled to 5m and 1h."""
    import pandas as pd

    parts = [
        pd.read_csv(real_data / f"pyalgotrade/{name}", sep=";", header=None)
        for name in ("nt-spy-minute-2011.csv", "nt-spy-minute-2011-03.csv")
    ]
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.concat(parts).to_csv(raw / "SPY.csv", sep=";", header=False, index=False)
    settings = make_settings(tmp_path, source="csv", raw_dir=str(raw), symbols=("SPY",), timeframes=("5m", "1h"), context_symbols=())
    defs = build_definitions(settings)
    for key in ("SPY|5m", "SPY|1h"):
        result = run_upto(defs, key)
        assert result.success, failure_text(result)
        assert all(e.passed for e in checks(result).values()), {n: e.metadata for n, e in checks(result).items()}
    cat = catalog(settings, "SPY", "5m")
    table = stored(settings, "SPY", "5m", "features")
    assert "hour" in cat["features"] and set(table["hour"].unique()) >= {14.0, 20.0}  # the regular session, UTC
    assert table["regime_gmm"].notna().mean() > 0.99 and table["regime_gmm"].nunique() == 3
