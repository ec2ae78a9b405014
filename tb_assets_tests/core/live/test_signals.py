"""Signals replayed bar by bar equal a full recompute's; parity names what differs."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tb_assets.core.data.bars import prepare_bars
from tb_assets.core.features.matrix import build_feature_matrix
from tb_assets.core.live import tail
from tb_assets.core.live.signals import COLUMNS, ScoringModel, score_new_bars, signal_parity
from tb_assets.core.live.tail import EVERY_FEATURE
from tb_assets.core.strategy.bet_sizing import bet_size
from tb_assets.sources.sample import SampleSource
from tb_assets.sources.synthetic import synthetic_bars

NOW = pd.Timestamp("2026-12-07", tz="UTC")


def fitted_model(bars, contexts, timeframe, trained_bars, model_id="m1"):
    """A LightGBM classifier of the next bar's direction on the first `trained_bars` bars' features."""
    history = bars.iloc[:trained_bars]
    frame = build_feature_matrix(history, {s: c[c["ts"] <= history["ts"].iloc[-1]] for s, c in contexts.items()}, timeframe=timeframe).frame
    names = [c for c in frame.columns if c != "ts"]
    up = (history["close"].shift(-1) > history["close"]).astype(int)
    y = up.set_axis(history["ts"]).reindex(pd.DatetimeIndex(frame["ts"])).to_numpy()
    clf = lgb.LGBMClassifier(n_estimators=30, num_leaves=7, min_child_samples=5, verbose=-1, n_jobs=1).fit(frame[names], y)
    return ScoringModel(model_id, "0" * 64, names, pd.Timestamp(history["ts"].iloc[-1]), clf)


def replay(bars, contexts, timeframe, model, first, per_step):
    """Bars arriving `per_step` at a time after position `first`, each batch scored as `signals` does."""
    stored = None
    for end in range(first + per_step, len(bars) + per_step, per_step):
        seen = bars.iloc[: min(end, len(bars))]
        until = seen["ts"].iloc[-1]
        new = score_new_bars(seen, {s: c[c["ts"] <= until] for s, c in contexts.items()}, timeframe, model, stored, bet_size, NOW)
        stored = new if stored is None else pd.concat([stored, new], ignore_index=True)
    return stored


def assert_equal_to_full_recompute(stored, bars, contexts, timeframe, model):
    full = build_feature_matrix(bars, contexts, timeframe=timeframe, options=EVERY_FEATURE).frame
    full = full.loc[full["ts"] > model.data_end].reset_index(drop=True)
    assert list(stored.columns) == list(COLUMNS)
    assert list(stored["ts"]) == list(full["ts"])  # every new bar once, no other
    expected = model.proba(full)
    assert np.abs(stored["proba"].to_numpy() - expected).max() <= 1e-9
    signed = bet_size(expected)
    np.testing.assert_array_equal(stored["side"], np.sign(signed))
    np.testing.assert_allclose(stored["size"], np.abs(signed), atol=1e-9)


def sample_bars(symbol, timeframe):
    raw = SampleSource().load(symbol)
    return prepare_bars(raw.frame, symbol=symbol, origin=raw.origin, timeframe=timeframe)[0]


@pytest.mark.parametrize("partition", ["SPX|1d", "IXIC|1d", "VIX|1d", "SPX|1w", "IXIC|1w", "VIX|1w"])
def test_a_year_replayed_one_bar_at_a_time_equals_a_full_recompute_on_the_sample(partition):
    symbol, timeframe = partition.split("|")
    bars = sample_bars(symbol, timeframe)
    contexts = {} if symbol == "VIX" else {"VIX": sample_bars("VIX", timeframe)}
    year = 252 if timeframe == "1d" else 52
    model = fitted_model(bars, contexts, timeframe, len(bars) - year)
    stored = replay(bars, contexts, timeframe, model, len(bars) - year, 1)
    assert len(stored) >= year - 5  # a bar VIX lacks has no row (as in `features`)
    assert_equal_to_full_recompute(stored, bars, contexts, timeframe, model)
    again = score_new_bars(bars, contexts, timeframe, model, stored, bet_size, NOW)
    assert again.empty  # scored once per model


def test_a_year_of_minute_bars_replayed_one_day_at_a_time():
    per_day, history_days = 390, 30
    bars = synthetic_bars("MIN", "1m", per_day * (history_days + 252), 4, 0.2, pd.Timestamp("2024-01-02"))
    model = fitted_model(bars, {}, "1m", per_day * history_days)
    stored = replay(bars, {}, "1m", model, per_day * history_days, per_day)
    assert len(stored) == per_day * 252
    assert_equal_to_full_recompute(stored, bars, {}, "1m", model)


def test_each_model_scores_a_bar_once_and_from_its_own_training_end():
    bars = synthetic_bars("SYN", "1d", 1200, 3, 0.2, pd.Timestamp("2018-01-01"))
    old = fitted_model(bars, {}, "1d", 1000, "old")
    new = fitted_model(bars, {}, "1d", 1100, "new")
    stored = score_new_bars(bars, {}, "1d", old, None, bet_size, NOW)
    assert len(stored) == 200 and stored["model_id"].eq("old").all()
    more = score_new_bars(bars, {}, "1d", new, stored, bet_size, NOW)
    assert len(more) == 100 and more["ts"].min() > bars["ts"].iloc[1099]


def test_parity_fails_on_a_changed_probability_and_names_a_feature_the_tail_gets_wrong(monkeypatch):
    bars = synthetic_bars("SYN", "1d", 1400, 5, 0.2, pd.Timestamp("2018-01-01"))
    model = fitted_model(bars, {}, "1d", 1300)
    stored = score_new_bars(bars, {}, "1d", model, None, bet_size, NOW)
    good = signal_parity(stored.tail(50), bars, {}, "1d", model)
    assert good.passed and good.compared == 50 and good.max_abs_diff <= 1e-9, good.describe()

    tampered = stored.tail(50).copy()
    tampered.loc[tampered.index[10], "proba"] += 1e-6
    bad = signal_parity(tampered, bars, {}, "1d", model)
    assert not bad.passed and len(bad.mismatched) == 1 and "1 of 50 stored probabilities differ" in bad.describe()

    # a tail shorter than the warm-up contract: recursive averages still remember their seed
    monkeypatch.setattr(tail, "tail_start", lambda ts, first, timeframe: max(first - 40, 0))
    short = signal_parity(stored.tail(50), bars, {}, "1d", model)
    assert not short.passed
    assert {"rsi_14", "atr_pct_14", "macd"} <= set(short.features), short.describe()
    assert "features differ between live and backtest: " in short.describe()
