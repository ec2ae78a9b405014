"""Pictures of a strategy evaluation: equity of every CPCV path, the Sharpe ratios against the
deflation threshold, drawdown, and net return by probability decile. No dagster import here."""

from __future__ import annotations

import numpy as np
import pandas as pd

POINTS = 2_000  # a curve is drawn through at most this many points: a picture 1,000 pixels wide shows no more


def _thinned(index: pd.Index, values: np.ndarray, how=None) -> tuple[pd.Index, np.ndarray]:
    """A long curve cut to POINTS buckets: each bucket's last value, or `how` of it (np.min keeps a
    drawdown's troughs); a million-bar curve drew in seconds, this in milliseconds."""
    if len(values) <= POINTS:
        return index, values
    edges = np.linspace(0, len(values), POINTS + 1).astype(int)
    last = edges[1:] - 1
    if how is None:
        return index[last], values[last]
    return index[last], how.reduceat(values, edges[:-1])


def draw_equity(fig, strategy: pd.Series, paths: pd.DataFrame) -> None:
    """Compounded equity of the strategy (bold) and of each CPCV path (thin), from 1."""
    ax = fig.add_subplot(1, 1, 1)
    for name in paths.columns:
        ax.plot(*_thinned(paths.index, np.cumprod(1.0 + paths[name].to_numpy())), lw=0.8, alpha=0.6, label=name.replace("_", " "))
    ax.plot(
        *_thinned(strategy.index, np.cumprod(1.0 + strategy.to_numpy())), lw=2.0, color="black", label="strategy (mean path probability)"
    )
    ax.axhline(1.0, color="grey", lw=0.6)
    ax.set_yscale("log")  # compounded growth: equal moves look equal at any level
    ax.set_title("equity after costs: the strategy and each combinatorial purged CV path")
    ax.set_ylabel("growth of 1 (log scale)")
    ax.legend(fontsize=7, loc="upper left")


def draw_sharpe_distribution(fig, trials: np.ndarray, paths: list[float], strategy: float, threshold: float | None) -> None:
    """Per-period Sharpe ratios of the tuning trials (histogram) and of the paths, the strategy's,
    and the best Sharpe that as many skill-less trials would reach (the DSR's benchmark)."""
    ax = fig.add_subplot(1, 1, 1)
    trials = np.asarray(trials, dtype="float64")
    trials = trials[np.isfinite(trials)]
    if len(trials):
        ax.hist(trials, bins=min(30, max(5, len(trials) // 2)), color="#9ecae1", label=f"{len(trials)} tuning trials")
    for s in paths:
        ax.axvline(s, color="#31a354", lw=1, alpha=0.8)
    ax.axvline(strategy, color="black", lw=2, label=f"strategy {strategy:.4f}")
    if threshold is not None:
        ax.axvline(threshold, color="#de2d26", lw=2, ls="--", label=f"expected best of the trials by chance {threshold:.4f}")
    ax.plot([], [], color="#31a354", label="CPCV paths")
    ax.set_xlabel("Sharpe ratio per period")
    ax.set_title("Sharpe ratios against the deflation threshold")
    ax.legend(fontsize=7)


def draw_drawdown(fig, strategy: pd.Series) -> None:
    equity = np.cumprod(1.0 + strategy.to_numpy())
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    ax = fig.add_subplot(1, 1, 1)
    at, depth = _thinned(strategy.index, -(1.0 - equity / peak), np.minimum)
    ax.fill_between(at, depth, 0.0, color="#de2d26", alpha=0.5)
    ax.set_title("drawdown from the running peak")
    ax.set_ylabel("fraction of the peak")


def decile_returns(trades: pd.DataFrame) -> pd.DataFrame:
    """Trades by decile of their probability of the up label: count, mean net and gross return."""
    placed = trades[trades["size"] > 0]
    if len(placed) < 10:
        return pd.DataFrame(columns=["decile", "trades", "proba_mean", "net_return_mean", "gross_return_mean"])
    decile = pd.qcut(placed["proba"].rank(method="first"), 10, labels=False) + 1
    grouped = placed.groupby(decile)
    return pd.DataFrame(
        {
            "decile": grouped.size().index.astype(int),
            "trades": grouped.size().to_numpy(),
            "proba_mean": grouped["proba"].mean().to_numpy(),
            "net_return_mean": grouped["net_return"].mean().to_numpy(),
            "gross_return_mean": grouped["gross_return"].mean().to_numpy(),
        }
    )


def draw_deciles(fig, table: pd.DataFrame) -> None:
    ax = fig.add_subplot(1, 1, 1)
    if len(table):
        colors = np.where(table["net_return_mean"] >= 0, "#31a354", "#de2d26")
        ax.bar(table["decile"], table["net_return_mean"], color=colors)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_xlabel("decile of the probability of the up label (1 = lowest)")
    ax.set_ylabel("mean net return per trade")
    ax.set_title("net return by probability decile")
