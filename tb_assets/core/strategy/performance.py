"""What a strategy's returns amount to: Sharpe with its moments, drawdown, time under water,
turnover, hit rate and how much of the gross return the costs took."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.strategy.sharpe import return_moments

DAYS_PER_YEAR = 365.25


def periods_per_year(ts) -> float:
    """How many bars a year holds in this data: bars over the calendar years they span (a daily
    equity series gives about 252, minute bars of a 6.5-hour session about 98,000, crypto more)."""
    index = pd.DatetimeIndex(ts)
    if len(index) < 2:
        raise TbError("periods_per_year: need at least 2 bars")
    years = (index[-1] - index[0]) / pd.Timedelta(days=DAYS_PER_YEAR)
    if years <= 0:
        raise TbError("periods_per_year: the bars span no time")
    return float((len(index) - 1) / years)


def drawdown(returns) -> tuple[float, int]:
    """(largest fall of compounded equity from its running peak, as a fraction; the longest run
    of periods spent below a peak)."""
    r = np.asarray(returns, dtype="float64")
    if len(r) == 0:
        return 0.0, 0
    equity = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))  # the starting capital is the first peak
    under = equity < peak
    longest, run = 0, 0
    for below in under:  # one pass; a few million periods at most
        run = run + 1 if below else 0
        longest = max(longest, run)
    return float((1.0 - equity / peak).max()), int(longest)


def performance(net_returns, periods_year: float, trades: pd.DataFrame | None = None, position=None) -> dict:
    """The report's numbers for a per-period net return series (and its trades, if given)."""
    sharpe, n_obs, skew, kurtosis = return_moments(net_returns)
    max_dd, under_water = drawdown(net_returns)
    r = np.asarray(net_returns, dtype="float64")
    out = {
        "sharpe": sharpe,
        "n_obs": n_obs,
        "skew": skew,
        "kurtosis": kurtosis,
        "periods_per_year": float(periods_year),
        "annualized_sharpe": sharpe * math.sqrt(periods_year),
        "total_return": float(np.prod(1.0 + r) - 1.0),
        "max_drawdown": max_dd,
        "time_under_water": under_water,
    }
    if position is not None:
        out["turnover"] = float(np.abs(np.diff(np.r_[0.0, np.asarray(position, dtype="float64")])).mean())
    if trades is not None and len(trades):
        placed = trades[trades["size"] > 0]
        gross, cost = float(trades["gross_return"].sum()), float(trades["cost"].sum())
        out.update(
            trades=int(len(placed)),
            hit_rate=float((placed["net_return"] > 0).mean()) if len(placed) else math.nan,
            gross_return_sum=gross,
            cost_sum=cost,
            # the share of the gross return the costs took: above 1 they took all of it; a strategy
            # that lost before costs has no share to take (inf when it paid anything)
            cost_drag=cost / gross if gross > 0 else (math.inf if cost > 0 else 0.0),
        )
    return out
