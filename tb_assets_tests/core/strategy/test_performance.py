"""Drawdown, time under water, cost drag and periods per year on hand-made series."""

import math

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.strategy.performance import drawdown, performance, periods_per_year


def test_drawdown_and_time_under_water_by_hand():
    # equity 1.1, 0.99, 0.891, 1.0692, 1.2 ... : the fall from 1.1 to 0.891 is 19%, under water for 3 periods
    r = [0.1, -0.1, -0.1, 0.2, 0.1225]
    largest, longest = drawdown(r)
    assert largest == pytest.approx(0.19)
    assert longest == 3
    assert drawdown([-0.5, 0.1]) == (pytest.approx(0.5), 2)  # a loss from the start counts from the capital


def test_periods_per_year_is_read_from_the_bars():
    daily = pd.bdate_range("2020-01-01", "2023-12-31", tz="UTC")
    assert periods_per_year(daily) == pytest.approx(261, abs=1)  # weekdays
    hourly = pd.date_range("2024-01-01", periods=24 * 365, freq="1h", tz="UTC")
    assert periods_per_year(hourly) == pytest.approx(24 * 365.25, rel=1e-3)


def test_cost_drag_is_the_share_of_the_gross_the_costs_took():
    trades = pd.DataFrame(
        {"size": [1.0, 0.5, 0.0], "gross_return": [0.02, -0.004, 0.0], "cost": [0.004, 0.002, 0.0], "net_return": [0.016, -0.006, 0.0]}
    )
    r = np.random.default_rng(0).normal(0.001, 0.01, 300)
    report = performance(r, 252.0, trades, position=np.ones(300))
    assert report["cost_drag"] == pytest.approx(0.006 / 0.016)
    assert report["hit_rate"] == 0.5 and report["trades"] == 2
    assert report["annualized_sharpe"] == pytest.approx(report["sharpe"] * math.sqrt(252))
    assert report["turnover"] == pytest.approx(1 / 300)
    losing = trades.assign(gross_return=[-0.01, -0.01, 0.0])
    assert performance(r, 252.0, losing)["cost_drag"] == math.inf


def test_long_curves_are_drawn_through_their_buckets_last_values_and_troughs():
    from tb_assets.reporting.strategy_plots import POINTS, _thinned

    index = pd.RangeIndex(10 * POINTS + 7)
    values = np.sin(np.arange(len(index)) / 50.0)
    at, kept = _thinned(index, values)
    assert len(kept) == POINTS and at[-1] == index[-1] and kept[-1] == values[-1]
    _, troughs = _thinned(index, values, np.minimum)
    assert troughs.min() == values.min()  # the deepest point survives thinning
    short = pd.RangeIndex(5)
    assert _thinned(short, np.arange(5.0))[1].tolist() == [0, 1, 2, 3, 4]
