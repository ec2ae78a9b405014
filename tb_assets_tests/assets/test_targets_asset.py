"""The `targets` asset and its checks in a real Dagster instance over a real DuckDB file."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tb_assets.core.labels.barriers import label_problems
from tb_assets.core.labels.weights import weight_problems
from tb_assets.definitions import build_definitions
from tb_assets.sources import make_source
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import checks, failure_text, metadata, run, run_checks, stored, tamper, upto


def run_upto(defs, key, run_config=None, instance=None):
    return run(defs, key, run_config, selection=upto("targets"), instance=instance)


def test_sample_targets_with_weights_and_forward_returns(tmp_path):
    settings = make_settings(tmp_path, symbols=("SPX",), timeframes=("1d",))
    result = run_upto(build_definitions(settings), "SPX|1d")
    assert result.success, failure_text(result)
    assert all(e.passed for e in checks(result).values())
    md = metadata(result, "targets")
    assert md["volatility"] == "daily"
    t = stored(settings, "SPX", "1d", "targets")
    feats = stored(settings, "SPX", "1d", "features")
    bars = stored(settings, "SPX", "1d")
    assert md["events"] == len(t) and set(t["ts"]) <= set(feats["ts"])  # every event has a feature row
    assert (t["t1"] > t["ts"]).all() and t["t1"].max() <= bars["ts"].max()
    assert t["weight"].mean() == pytest.approx(1.0) and (t["weight"] > 0).all()
    assert set(t["barrier"]) <= {"pt", "sl", "vertical"} and set(t["label"]) <= {-1, 0, 1}
    assert ((t["label"] == 1) == (t["bin"] == 1)).all()  # no side: bin marks the profit-take
    assert 3 < md["mean_concurrency"] < 12 and 0 < md["mean_uniqueness"] < 1
    assert md["n_pt"] + md["n_sl"] + md["n_vertical"] == md["events"]
    # the stored ret is the simple return to t1 on the stored bars
    close = bars.set_index("ts")["close"]
    np.testing.assert_allclose(t["ret"], close.loc[t["t1"]].to_numpy() / close.loc[t["ts"]].to_numpy() - 1, rtol=1e-12)
    last = t.dropna(subset=["fwd_pct_change"]).iloc[-1]
    i = close.index.get_loc(last["ts"])
    assert last["fwd_pct_change"] == pytest.approx(close.iloc[i + 5] / close.iloc[i] - 1)


def test_cusum_events_and_meta_labels_from_parquet(tmp_path):
    pq = tmp_path / "pq"
    bars = make_source("synthetic", synthetic_freq="1h", synthetic_bars=3000, synthetic_seed=2).load("ES").frame
    for day, g in bars.groupby(bars["ts"].dt.strftime("%Y-%m-%d")):
        (pq / "ES" / f"dt={day}").mkdir(parents=True)
        g.to_parquet(pq / "ES" / f"dt={day}" / "part-0.parquet", index=False)
    settings = make_settings(tmp_path, source="parquet", raw_dir=str(pq), symbols=("ES",), timeframes=("1h",), context_symbols=())
    defs = build_definitions(settings)
    every = run_upto(defs, "ES|1h")
    assert every.success, failure_text(every)
    n_all = metadata(every, "targets")["events"]
    assert metadata(every, "targets")["volatility"] == "ewm"  # auto: per-bar volatility for intraday bars
    cfg = {"events": "cusum", "side": "momentum", "pt_sl": [1.0, 2.0], "vertical_bars": 10}
    meta = run_upto(defs, "ES|1h", {"ops": {"targets": {"config": cfg}}})
    assert meta.success, failure_text(meta)
    assert all(e.passed for e in checks(meta).values())
    t = stored(settings, "ES", "1h", "targets")
    assert 0 < len(t) < n_all / 2  # CUSUM keeps a fraction of the bars
    assert set(t["side"].unique()) <= {-1.0, 1.0}
    assert ((t["bin"] == 1) == (t["side"] * t["ret"] > 0)).all()  # the meta-label: did the side pay


def test_target_checks_fail_on_bad_stored_labels(tmp_path):
    settings = make_settings(tmp_path, symbols=("SPX",), timeframes=("1w",))
    defs = build_definitions(settings)
    assert run_upto(defs, "SPX|1w").success
    tamper(settings, "UPDATE targets SET t1 = ts WHERE ts = (SELECT min(ts) FROM targets)")
    tamper(settings, "UPDATE targets SET t1 = t1 + INTERVAL 3000 DAY WHERE ts = (SELECT max(ts) FROM targets)")
    res = run_checks(defs, "SPX|1w", "targets_t1_valid", asset="targets")
    assert not res.success  # blocking
    problems = checks(res)["targets_t1_valid"].metadata["problems"].value
    assert "1 event(s) with t1 <= t0" in problems and "end after the last bar" in problems
    tamper(settings, "UPDATE targets SET weight = -1 WHERE ts = (SELECT min(ts) FROM targets)")
    w = checks(run_checks(defs, "SPX|1w", "targets_weights_valid", asset="targets"))["targets_weights_valid"]
    assert not w.passed and "1 weight(s) <= 0" in w.metadata["problems"].value
    band = {"ops": {"targets_targets_positive_rate": {"config": {"low": 0.9, "high": 1.0}}}}
    rate = run_checks(defs, "SPX|1w", "targets_positive_rate", asset="targets", run_config=band)
    assert rate.success and not checks(rate)["targets_positive_rate"].passed  # WARN only
    assert checks(rate)["targets_positive_rate"].severity == dg.AssetCheckSeverity.WARN


def test_label_and_weight_problems():
    bars = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    assert label_problems(bars[:3], bars[1:4], bars) == []
    assert "not bars" in label_problems(bars[:1], bars[:1] + pd.Timedelta(hours=1), bars)[0]
    assert weight_problems([1.0, 1.0]) == []
    assert weight_problems([np.nan, 1.0]) == ["1 non-finite weight(s)"]
    assert weight_problems([0.5, 0.5]) == ["mean weight 0.5, expected 1"]
