"""The feature matrix: sets and groups, context joins, regimes fitted on the past, look-ahead."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.data.validation import validate_bars
from tb_assets.core.errors import ConfigError
from tb_assets.core.features import indicators as ind
from tb_assets.core.features.lookahead import DEFAULT_CUTS, cut_points, feature_lookahead, lookahead_violations
from tb_assets.core.features.matrix import SPECS, FeatureOptions, build_feature_matrix, raw_price_columns, select_features, warmup_of
from tb_assets.core.features.regimes import GmmSchedule, checkpoints, gmm_schedule, regime_gmm, regime_vix
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
    # RSI's Wilder average needs 14 bars, then 280 for its seed to weigh < 1e-9, after the first return
    assert fm.context_used == ["BBB"] and fm.warmup_rows == warmup_of("rsi_14", "1d") == 295
    assert "rsi_14_BBB" in fm.features and "rsi_14" in fm.features and "dow_BBB" not in fm.features
    assert fm.frame["ts"].min() == b["ts"].iloc[295] and fm.frame["ts"].is_monotonic_increasing
    assert len(fm.frame) == len(b) - 295
    assert raw_price_columns(fm.frame.columns) == []
    assert set(fm.groups) == set(fm.features) and set(fm.groups.values()) <= {"regime", "robust", "bounded", "standard"}
    assert np.isfinite(fm.frame[fm.features].to_numpy()).mean() > 0.999
    assert raw_price_columns(["close", "close_IXIC", "vwap_SPY", "Open", "rsi_14", "closeness"]) == [
        "close",
        "close_IXIC",
        "vwap_SPY",
        "Open",
    ]


def test_context_without_common_timestamps_is_skipped_not_fatal():
    a = synthetic("AAA", n=600)
    late = synthetic("LATE", n=600).assign(ts=lambda d: d["ts"] + pd.Timedelta(days=5000))
    fm = build_feature_matrix(a, {"LATE": late}, timeframe="1d", context_skipped={"GONE": "no CSV file"})
    assert fm.context_used == [] and set(fm.context_skipped) == {"LATE", "GONE"} and len(fm.frame) == 600 - 295


def test_index_without_volume_degrades():
    a = synthetic("AAA", n=400).assign(volume=np.nan)
    fm = build_feature_matrix(a, {}, timeframe="1d")
    assert "mfi_14" not in fm.features and fm.volume_missing == ["primary"]


def test_regime_vix_uses_only_a_window_of_earlier_levels():
    rng = np.random.default_rng(1)
    vix = pd.Series(np.concatenate([rng.uniform(10, 20, 200), rng.uniform(40, 80, 50)]))
    reg = regime_vix(vix, window=60)
    assert reg.iloc[:60].isna().all() and set(reg.iloc[60:].unique()) <= {0.0, 1.0, 2.0}
    # a spike above every earlier level is stressed, while the spikes are under a third of the window
    assert (reg.iloc[200:220] == 2).all() and (reg.iloc[240:] < 2).any()
    # the future does not move the past, and neither does a longer past
    pd.testing.assert_series_equal(regime_vix(vix.iloc[:150], 60), reg.iloc[:150])
    pd.testing.assert_series_equal(regime_vix(vix.iloc[100:], 60).iloc[60:], reg.iloc[160:])
    # thresholds are terciles of the window: at bar 199 the level is compared with bars 139..198
    lo, hi = np.quantile(vix.iloc[139:199], [1 / 3, 2 / 3])
    v = vix.iloc[199]
    assert reg.iloc[199] == (0 if v <= lo else 1 if v <= hi else 2)


def turbulent_block(n=1600, seed=2):
    rng = np.random.default_rng(seed)
    vol = np.concatenate([np.full(n // 2, 0.005), np.full(n // 4, 0.03), np.full(n - n // 2 - n // 4, 0.005)])
    r = rng.normal(0, vol)
    rv = pd.Series(r).rolling(20).std().to_numpy()
    return pd.date_range("2001-01-01", periods=n, freq="D", tz="UTC"), r, rv


def test_regime_gmm_is_start_and_prefix_stable_and_ordered_by_volatility():
    ts, r, rv = turbulent_block()
    schedule = GmmSchedule(every=pd.Timedelta(weeks=4), window=180)
    reg = regime_gmm(ts, r, rv, schedule)
    first = int(np.flatnonzero(~np.isnan(reg))[0])
    assert first == checkpoints(ts, schedule.every)[np.searchsorted(checkpoints(ts, schedule.every), 19 + 180 - 1)]
    assert not np.isnan(reg[first:]).any() and first <= 20 + 180 + 28
    # entering the turbulent block (bar 800) ranks high against the calm window behind it
    assert (reg[810:960] == 2).mean() > 0.8 and (reg[400:800] == 2).mean() < 0.3
    short = regime_gmm(ts[:1000], r[:1000], rv[:1000], schedule)  # the future does not move the past
    np.testing.assert_array_equal(short, reg[:1000])
    late = regime_gmm(ts[333:], r[333:], rv[333:], schedule)  # nor does a longer past, once labelled
    labelled = ~np.isnan(late)
    assert labelled.sum() > 1000
    np.testing.assert_array_equal(late[labelled], reg[333:][labelled])


def test_gmm_schedules_and_checkpoints_on_the_calendar():
    assert gmm_schedule("1d") == GmmSchedule(pd.Timedelta(weeks=4), 252)
    assert gmm_schedule("1m").window == 3900 and gmm_schedule("4h").window == 180
    ts = pd.date_range("2024-01-01", periods=60, freq="D", tz="UTC")  # 2024-01-01 is a Monday
    assert [ts[i].dayofweek for i in checkpoints(ts, pd.Timedelta(weeks=1))] == [0] * 8
    assert checkpoints(ts[3:], pd.Timedelta(weeks=1)).tolist() == (checkpoints(ts, pd.Timedelta(weeks=1)) - 3).tolist()


def test_numba_em_is_scikit_learns_em_from_the_same_start():
    from sklearn.mixture import GaussianMixture

    from tb_assets.core.features.regimes import GMM_REG_COVAR, fit_mixture, tercile_start

    for seed in range(4):
        rng = np.random.default_rng(seed)
        z = np.concatenate([rng.normal([0, -1], 0.3, (200, 2)), rng.normal([0.5, 0.4], 0.5, (150, 2)), rng.normal([-1, 2], 0.8, (50, 2))])
        z = (z - z.mean(axis=0)) / z.std(axis=0)
        means0, covs0, weights0 = tercile_start(np.ascontiguousarray(z), 3, GMM_REG_COVAR)
        ours = fit_mixture(z)
        theirs = GaussianMixture(
            3,
            covariance_type="full",
            tol=1e-3,
            max_iter=200,
            reg_covar=GMM_REG_COVAR,
            means_init=means0,
            weights_init=weights0,
            precisions_init=np.linalg.inv(covs0),
        ).fit(z)
        np.testing.assert_allclose(ours[0], theirs.means_, atol=1e-9)
        np.testing.assert_allclose(ours[1], theirs.covariances_, atol=1e-9)
        np.testing.assert_allclose(ours[2], theirs.weights_, atol=1e-9)


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
    assert len(problems) == len(DEFAULT_CUTS) == 2
    assert all("'rsi_14'" in p for p in problems) and "rsi_14_BBB" in problems[0]


def test_price_copies_finds_a_feature_equal_to_a_price_under_any_name():
    from tb_assets.core.features.matrix import price_copies

    b = synthetic("AAA", 300)
    frame = pd.DataFrame(
        {"ts": b["ts"], "ok": np.log(b["close"]).diff(), "sneaky": b["close"].to_numpy(), "almost": b["high"].to_numpy() * (1 + 1e-9)}
    )
    assert price_copies(frame, b) == ["sneaky (= close)"]
    assert price_copies(frame.iloc[:0], b) == []
