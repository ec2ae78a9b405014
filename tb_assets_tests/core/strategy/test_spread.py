"""The Corwin-Schultz spread: the formula against a loop over bars, a simulated market's spread
recovered, and the costs it puts on trades."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.errors import TbError
from tb_assets.core.strategy.spread import corwin_schultz_spread
from tb_assets.core.strategy.trades import Costs, build_trades


def slow_spread(high, low, window):
    out = [0.0]
    k = 3 - 2 * np.sqrt(2)
    for t in range(1, len(high)):
        pairs = [np.log(high[u] / low[u]) ** 2 + np.log(high[u - 1] / low[u - 1]) ** 2 for u in range(max(1, t - window + 1), t + 1)]
        beta = np.mean(pairs)
        gamma = np.log(max(high[t], high[t - 1]) / min(low[t], low[t - 1])) ** 2
        alpha = max(0.0, (np.sqrt(2 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k))
        out.append(2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha)))
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 80), window=st.integers(1, 25))
def test_the_estimate_is_the_papers_formula_bar_by_bar(seed, n, window):
    rng = np.random.default_rng(seed)
    low = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high = low * np.exp(np.abs(rng.normal(0, 0.01, n)))
    np.testing.assert_allclose(corwin_schultz_spread(high, low, window), slow_spread(high, low, window), rtol=1e-10, atol=1e-15)


def test_a_simulated_markets_spread_is_recovered():
    """Trades at the bid or the ask around a random walk (2,000 ticks a bar): a 1% spread with
    0.2% volatility a bar is estimated within 10% (it overstates spreads that volatility dwarfs)."""
    rng = np.random.default_rng(0)
    bars, ticks, spread = 1500, 2000, 0.01
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.002 / np.sqrt(ticks), bars * ticks)))
    price = (mid * (1 + rng.choice([-1, 1], bars * ticks) * spread / 2)).reshape(bars, ticks)
    estimate = corwin_schultz_spread(price.max(axis=1), price.min(axis=1))
    assert np.mean(estimate[1:]) == pytest.approx(spread, rel=0.10)


def test_trades_pay_each_bars_estimated_half_spread_with_the_fixed_one_as_floor():
    rng = np.random.default_rng(3)
    n = 60
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    bars = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="1D", tz="UTC"),
            "open": close * 1.001,
            "close": close,
            "high": close * 1.02,
            "low": close * 0.985,
        }
    )
    events = pd.DataFrame(
        {"t1": bars["ts"].iloc[[10, 40]].to_numpy(), "proba": [0.7, 0.2], "side": [1, -1], "size": [0.5, 1.0]},
        index=pd.DatetimeIndex(bars["ts"].iloc[[3, 30]]),
    )
    costs = Costs(cost_bps=1.0, half_spread_bps=5.0, spread_model="corwin_schultz", spread_window=10)
    trades = build_trades(events, bars, costs)
    half = np.maximum(corwin_schultz_spread(bars["high"], bars["low"], 10) / 2, 5e-4)
    for (_, t), i, j in zip(trades.table.iterrows(), (4, 31), (10, 40)):
        move = bars["close"].iloc[j] / bars["open"].iloc[i]
        assert t["cost"] == pytest.approx(t["size"] * (1e-4 + half[i]) + t["size"] * (1e-4 + half[j]) * move, abs=1e-15)
    with pytest.raises(TbError, match="spread_model"):
        Costs(spread_model="roll")
