"""The feature matrix: sets and groups, context joins, regimes fitted on the past, look-ahead."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.data.bars import validate_bars
from tb_assets.core.errors import ConfigError
from tb_assets.core.features import indicators as ind
from tb_assets.core.features.lookahead import cut_points, feature_lookahead, lookahead_violations
from tb_assets.core.features.matrix import SPECS, FeatureOptions, build_feature_matrix, raw_price_columns, select_features
from tb_assets.core.features.regimes import regime_gmm, regime_vix
from tb_assets.sources import make_source


def synthetic(symbol, n=1200, freq="1d", seed=0):
    raw = make_source("synthetic", synthetic_freq=freq, synthetic_bars=n, synthetic_seed=seed).load(symbol).frame
    return validate_bars(raw, symbol=symbol, origin="synthetic")[0]


def test_sets_groups_and_volume():
    full = select_features(FeatureOptions(), timeframe="1d", has_volume=True, context=False)
    core = select_features(FeatureOptions("core"), timeframe="1d", has_volume=True, context=False)
    assert set(core) < set(full) and "hour" not in full and "mfi_14" in full and len(core) >= 15
    assert "hour" in select_features(FeatureOptions(), timeframe="5m", has_volume=True, context=False)
    assert "dow" in full and "dow" not in select_features(FeatureOptions(), timeframe="1w", has_volume=True, context=False)
    no_vol = select_features(FeatureOptions(), timeframe="1d", has_volume=False, context=False)
    assert "mfi_14" not in no_vol and "volume_z_20" not in no_vol
    bounded = select_features(FeatureOptions(groups=("bounded",)), timeframe="1d", has_volume=True, context=False)
    assert bounded and all(SPECS[n].group == "bounded" for n in bounded)
    ctx = select_features(FeatureOptions(), timeframe="5m", has_volume=True, context=True)
    assert not {"dow", "hour", "regime_gmm"} & set(ctx)
    with pytest.raises(ConfigError, match="unknown feature group"):
        FeatureOptions(groups=("fancy",))
    with pytest.raises(ConfigError, match="unknown feature set"):
        FeatureOptions("huge")


def test_matrix_with_context_joins_suffixes_and_never_holds_prices():
    a, b = synthetic("AAA"), synthetic("BBB")
    b = b.iloc[300:]  # the context starts later: the inner join keeps common timestamps only
    fm = build_feature_matrix(a, {"BBB": b}, timeframe="1d")
    assert fm.context_used == ["BBB"] and fm.warmup_rows == 199
    assert "rsi_14_BBB" in fm.features and "rsi_14" in fm.features and "dow_BBB" not in fm.features
    assert fm.frame["ts"].min() == b["ts"].iloc[199] and fm.frame["ts"].is_monotonic_increasing
    assert len(fm.frame) == len(b) - 199
    assert raw_price_columns(fm.frame.columns) == []
    assert set(fm.groups) == set(fm.features) and set(fm.groups.values()) <= {"regime", "robust", "bounded", "standard"}
    assert np.isfinite(fm.frame[fm.features].to_numpy()).mean() > 0.999
    assert raw_price_columns(["close", "close_IXIC", "vwap_SPY", "Open", "rsi_14", "closeness"]) == ["close", "close_IXIC", "vwap_SPY", "Open"]


def test_context_without_common_timestamps_is_skipped_not_fatal():
    a = synthetic("AAA", n=600)
    late = synthetic("LATE", n=600).assign(ts=lambda d: d["ts"] + pd.Timedelta(days=5000))
    fm = build_feature_matrix(a, {"LATE": late}, timeframe="1d", context_skipped={"GONE": "no CSV file"})
    assert fm.context_used == [] and set(fm.context_skipped) == {"LATE", "GONE"} and len(fm.frame) == 600 - 199


def test_index_without_volume_degrades():
    a = synthetic("AAA", n=400).assign(volume=np.nan)
    fm = build_feature_matrix(a, {}, timeframe="1d")
    assert "mfi_14" not in fm.features and fm.volume_missing == ["primary"]


def test_regime_vix_uses_only_earlier_levels():
    rng = np.random.default_rng(1)
    vix = pd.Series(np.concatenate([rng.uniform(10, 20, 200), rng.uniform(40, 80, 50)]))
    reg = regime_vix(vix, min_history=60)
    assert reg.iloc[:60].isna().all() and set(reg.iloc[60:].unique()) <= {0.0, 1.0, 2.0}
    assert (reg.iloc[200:] == 2).all()  # a spike above every earlier level is stressed
    # the future does not move the past: recompute on a prefix
    pd.testing.assert_series_equal(regime_vix(vix.iloc[:150], 60), reg.iloc[:150])
    # thresholds are terciles of the past: at bar 199 the level is compared with bars 0..198
    lo, hi = np.quantile(vix.iloc[:199], [1 / 3, 2 / 3])
    v = vix.iloc[199]
    assert reg.iloc[199] == (0 if v <= lo else 1 if v <= hi else 2)


def test_regime_gmm_is_prefix_stable_and_ordered_by_volatility():
    rng = np.random.default_rng(2)
    vol = np.concatenate([np.full(400, 0.005), np.full(200, 0.03), np.full(400, 0.005)])
    r = rng.normal(0, vol)
    rv = pd.Series(r).rolling(20).std().to_numpy()
    reg = regime_gmm(r, rv, refit_every=50)
    assert np.isnan(reg[:198]).all() and not np.isnan(reg[198:]).any()  # 180 usable rows (from 19) first
    assert np.nanmean(reg[450:600]) > np.nanmean(reg[250:400]) + 1  # the turbulent block ranks high
    short = regime_gmm(r[:700], rv[:700], refit_every=50)
    np.testing.assert_array_equal(short, reg[:700])


def test_lookahead_detector_catches_a_centred_window():
    ts = pd.date_range("2024-01-01", periods=300, freq="D", tz="UTC")
    x = pd.Series(np.random.default_rng(0).normal(size=300))

    def build(series, centre):
        return pd.DataFrame({"ts": ts[: len(series)], "m": series.rolling(5, center=centre).mean().to_numpy()})

    cuts = cut_points(ts)
    assert lookahead_violations(build(x, False), lambda c: build(x[ts <= c], False), cuts) == []
    problems = lookahead_violations(build(x, True), lambda c: build(x[ts <= c], True), cuts)
    assert len(problems) == len(cuts) and "'m'" in problems[0]


def test_feature_code_has_no_lookahead():
    a, b = synthetic("AAA", n=900), synthetic("BBB", n=900)
    assert feature_lookahead(a, {"BBB": b}, "1d") == []
    m = synthetic("MIN", n=3000, freq="5m")
    assert feature_lookahead(m, {}, "5m") == []


def test_a_peeking_indicator_is_caught(monkeypatch):
    honest = ind.rsi

    def peeking_rsi(close, n=14):
        return honest(close.shift(-1), n)  # uses the next bar's close

    monkeypatch.setattr(ind, "rsi", peeking_rsi)
    a, b = synthetic("AAA", n=900), synthetic("BBB", n=900)
    problems = feature_lookahead(a, {"BBB": b}, "1d")
    assert len(problems) == 4
    assert all("'rsi_14'" in p for p in problems) and "rsi_14_BBB" in problems[0]


def test_price_copies_finds_a_feature_equal_to_a_price_under_any_name():
    from tb_assets.core.features.matrix import price_copies

    b = synthetic("AAA", 300)
    frame = pd.DataFrame({"ts": b["ts"], "ok": np.log(b["close"]).diff(), "sneaky": b["close"].to_numpy(),
                          "almost": b["high"].to_numpy() * (1 + 1e-9)})
    assert price_copies(frame, b) == ["sneaky (= close)"]
    assert price_copies(frame.iloc[:0], b) == []
