"""Trades enter at the next bar's open and exit at the close of the label's last bar; returns and
costs against an independent recomputation; the bar series against a slow loop over trades."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.errors import TbError
from tb_assets.core.strategy.trades import Costs, bar_returns, build_trades


def random_bars(rng, n):
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.003, n))
    return pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC"), "open": open_, "close": close})


def random_events(rng, bars, n_events):
    at = np.sort(rng.choice(len(bars), size=n_events, replace=False))
    ends = np.minimum(at + rng.integers(0, 8, n_events), len(bars) - 1)
    proba = rng.uniform(0, 1, n_events)
    return pd.DataFrame(
        {"t1": bars["ts"].to_numpy()[ends], "proba": proba, "side": np.where(proba >= 0.5, 1, -1), "size": rng.uniform(0, 1, n_events)},
        index=pd.DatetimeIndex(bars["ts"].to_numpy()[at]),
    )


def test_entry_is_the_next_open_and_exit_the_close_of_the_labels_bar():
    bars = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=5, freq="1D", tz="UTC"),
            "open": [10.0, 11.0, 12.0, 13.0, 14.0],
            "close": [10.5, 11.5, 12.5, 13.5, 14.5],
        }
    )
    events = pd.DataFrame(
        {"t1": bars["ts"].iloc[[3, 4, 4]].to_numpy(), "proba": [0.7, 0.3, 0.6], "side": [1, -1, 1], "size": [0.5, 1.0, 0.2]},
        index=pd.DatetimeIndex(bars["ts"].iloc[[0, 2, 4]]),
    )
    trades = build_trades(events, bars, Costs(cost_bps=10.0))
    t = trades.table
    assert trades.untradable == 1  # the event on the last bar has no next bar
    assert t["entry_price"].tolist() == [11.0, 13.0] and t["exit_price"].tolist() == [13.5, 14.5]
    assert t["gross_return"].tolist() == pytest.approx([0.5 * (13.5 / 11 - 1), -1.0 * (14.5 / 13 - 1)], abs=1e-15)
    assert t["cost"].tolist() == pytest.approx([0.5 * 0.001 * (1 + 13.5 / 11), 1.0 * 0.001 * (1 + 14.5 / 13)], abs=1e-15)
    np.testing.assert_allclose(t["net_return"], t["gross_return"] - t["cost"], atol=0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 120), share=st.floats(0.05, 0.9))
def test_every_trade_and_bar_equals_an_independent_recomputation(seed, n, share):
    rng = np.random.default_rng(seed)
    bars = random_bars(rng, n)
    events = random_events(rng, bars, max(1, int(n * share)))
    costs = Costs(cost_bps=3.0, half_spread_bps=1.5)
    trades = build_trades(events, bars, costs)
    # trades, recomputed event by event from the bars
    position = {ts: i for i, ts in enumerate(bars["ts"])}
    rows, untradable = [], 0
    for t0, e in events.iterrows():
        i, j = position[t0] + 1, position[e["t1"]]
        if i >= n or j < i:
            untradable += 1
            continue
        move = bars["close"].iloc[j] / bars["open"].iloc[i]
        rows.append((i, j, e["side"] * e["size"], e["size"] * 4.5e-4 * (1 + move), e["side"] * e["size"] * (move - 1), e["size"]))
    assert trades.untradable == untradable and len(trades.table) == len(rows)
    if not rows:
        return
    np.testing.assert_allclose(trades.table["gross_return"], [r[4] for r in rows], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trades.table["cost"], [r[3] for r in rows], rtol=0, atol=1e-12)
    # the bar series, by looping over the trades open at each bar
    series = bar_returns(trades, bars)
    first, last = min(r[0] for r in rows), max(r[1] for r in rows)
    assert len(series) == last - first + 1
    for b in range(first, last + 1):
        open_ = [r for r in rows if r[0] <= b <= r[1]]
        total = 0.0
        for i, j, signed, _cost, _gross, size in open_:
            start = bars["open"].iloc[b] if b == i else bars["close"].iloc[b - 1]
            total += signed * (bars["close"].iloc[b] / start - 1)
            total -= (size * 4.5e-4 if b == i else 0.0) + (size * 4.5e-4 * bars["close"].iloc[j] / bars["open"].iloc[i] if b == j else 0.0)
        expected = total / len(open_) if open_ else 0.0
        assert series["net_return"].iloc[b - first] == pytest.approx(expected, abs=1e-12)
        assert series["open_trades"].iloc[b - first] == len(open_)


def test_impossible_inputs_are_refused():
    rng = np.random.default_rng(0)
    bars = random_bars(rng, 20)
    events = random_events(rng, bars, 5)
    with pytest.raises(TbError, match=r"\[0, 1\]"):
        build_trades(events.assign(size=1.5), bars)
    with pytest.raises(TbError, match="sorted"):
        build_trades(events, bars.iloc[::-1])
    with pytest.raises(TbError, match="cost_bps"):
        Costs(cost_bps=-1)
