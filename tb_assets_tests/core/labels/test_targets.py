"""Target building and the side rule, without Dagster."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.errors import TbError
from tb_assets.core.labels.barriers import cusum_filter, daily_volatility
from tb_assets.core.labels.targets import MOMENTUM_BARS, TargetSpec, build_targets, event_side


def bars(n=400, seed=0):
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({"ts": ts, "close": close})


def test_event_side_rule():
    close = pd.Series([100.0, 101, 99, 103] + [100.0] * 30, index=pd.date_range("2020", periods=34, freq="D"))
    assert event_side(close, "none") is None
    assert (event_side(close, "long") == 1).all() and (event_side(close, "short") == -1).all()
    momentum = event_side(close, "momentum")
    assert momentum.iloc[:MOMENTUM_BARS].isna().all()  # unknown until 20 bars of history exist
    expected = np.sign(np.log(close.iloc[MOMENTUM_BARS:].to_numpy() / close.iloc[:-MOMENTUM_BARS].to_numpy()))
    np.testing.assert_array_equal(momentum.iloc[MOMENTUM_BARS:].to_numpy(), expected)
    with pytest.raises(TbError, match="side must be"):
        event_side(close, "sideways")


def test_every_event_has_a_feature_row_and_a_known_outcome():
    b = bars()
    feature_ts = b["ts"].iloc[50:]
    out, stats = build_targets(b, feature_ts, TargetSpec(), "1d")
    assert set(out["ts"]) <= set(feature_ts) and (out["t1"] > out["ts"]).all() and out["t1"].max() <= b["ts"].max()
    assert stats["events"] == len(out) and stats["candidates"] == len(feature_ts) and stats["volatility"] == "daily"
    assert out["weight"].mean() == pytest.approx(1.0) and np.isnan(out["side"]).all()
    assert stats["n_pt"] + stats["n_sl"] + stats["n_vertical"] == len(out)
    assert {"fwd_log_return", "fwd_pct_change", "fwd_raw_change", "fwd_direction"} <= set(out.columns)
    # the barriers are pt_sl x the AFML daily volatility at t0
    vol = daily_volatility(b.set_index("ts")["close"], 100)
    np.testing.assert_allclose(out["trgt"], vol.reindex(pd.DatetimeIndex(out["ts"])).to_numpy())


def test_auto_volatility_is_per_bar_for_intraday_and_side_gives_meta_labels():
    b = bars()
    b["ts"] = pd.date_range("2020-01-02 14:30", periods=len(b), freq="5min", tz="UTC")
    _, stats = build_targets(b, b["ts"], TargetSpec(), "5m")
    assert stats["volatility"] == "ewm"
    meta, _ = build_targets(b, b["ts"], TargetSpec(side="long"), "5m")
    assert (meta["side"] == 1).all() and ((meta["bin"] == 1) == (meta["ret"] > 0)).all()


def test_cusum_events_are_a_subset_of_the_filter():
    b = bars()
    out, stats = build_targets(b, b["ts"], TargetSpec(events="cusum", cusum_threshold=0.03), "1d")
    picked = cusum_filter(b.set_index("ts")["close"], 0.03)
    assert set(out["ts"]) <= set(picked) and stats["candidates"] < len(b)


def test_bad_specs_are_clear_errors():
    b = bars()
    with pytest.raises(TbError, match="pt_sl needs two multiples"):
        build_targets(b, b["ts"], TargetSpec(pt_sl=(1.0,)), "1d")
    with pytest.raises(TbError, match="no labelled events.*min_ret=1.0"):
        build_targets(b, b["ts"], TargetSpec(min_ret=1.0), "1d")
