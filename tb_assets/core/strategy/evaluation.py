"""A partition's strategy evaluation from its trades, its CPCV paths and every trial behind it.

- The strategy: the stored trades (one per event, on its mean out-of-sample probability over the
  paths), their return per bar, Sharpe with its moments, drawdown, costs, PSR and the minimum
  track record length.
- The paths: each CPCV path traded the same way, its Sharpe ratio, drawdown and return.
- The trials: what was tried for the partition, counted by source (`n_trials`: every Optuna trial,
  pruned and failed ones included, every feature set selection scored, every registry model of
  the partition's label); the tuning trials whose out-of-fold predictions were kept are traded
  like the strategy, and their Sharpe ratios give the variance the DSR deflates by and their
  returns the panel PBO ranks. DSR = PSR against the best Sharpe that `n_trials` skill-less trials
  with that variance reach on average.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.strategy.overfitting import probability_of_backtest_overfitting
from tb_assets.core.strategy.performance import performance, periods_per_year
from tb_assets.core.strategy.sharpe import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
)
from tb_assets.core.strategy.trades import Costs, bar_returns, build_trades, stored_trades
from tb_assets.core.strategy.trials import sized_events, trade_trials


@dataclass
class StrategyEvaluation:
    report: dict  # the numbers of strategy_report.json
    returns: pd.DataFrame  # ts, net_return, gross_return, open_trades, position
    path_returns: pd.DataFrame  # ts, path_0, ... (net return per bar of each path)
    trial_sharpe: pd.Series  # per tuning trial with kept predictions
    threshold: float | None  # expected best Sharpe of n_trials noise trials
    notes: list[str] = field(default_factory=list)


def evaluate_strategy(
    trades: pd.DataFrame,
    bars: pd.DataFrame,
    paths: pd.DataFrame,
    n_paths: int,
    costs: Costs,
    sizing: Callable[[np.ndarray], np.ndarray],
    trials_by_source: dict[str, int],
    trial_rows: pd.DataFrame,
    trial_predictions: dict[int, np.ndarray],
    n_blocks: int = 16,
) -> StrategyEvaluation:
    notes: list[str] = []
    bars = bars.sort_values("ts").reset_index(drop=True)
    placed = stored_trades(trades, bars, costs)
    series = bar_returns(placed, bars)
    ppy = periods_per_year(bars["ts"])
    summary = performance(series["net_return"], ppy, placed.table, series["position"])
    sharpe, n_obs, skew, kurtosis = summary["sharpe"], summary["n_obs"], summary["skew"], summary["kurtosis"]

    # every path trades the same events, so its returns cover the same bars: one index for all of them
    path_arrays, path_stats, path_index = {}, {}, pd.DatetimeIndex(series["ts"])
    for p in range(n_paths):
        traded = build_trades(sized_events(paths["ts"], paths["t1"], paths[f"path_{p}"].to_numpy(), sizing), bars, costs)
        r = bar_returns(traded, bars)
        if not pd.DatetimeIndex(r["ts"]).equals(path_index):
            raise TbError("a CPCV path trades other bars than the strategy: materialize strategy_backtest and strategy_trades again")
        path_arrays[f"path_{p}"] = r["net_return"].to_numpy()
        stats = performance(r["net_return"], ppy, traded.table, r["position"])
        kept = ("sharpe", "annualized_sharpe", "max_drawdown", "time_under_water", "total_return", "turnover", "hit_rate", "cost_drag")
        path_stats[f"path_{p}"] = {k: stats.get(k) for k in kept}
    path_returns = pd.DataFrame(path_arrays, index=path_index)

    n_trials = int(sum(trials_by_source.values()))
    if trial_predictions:
        traded = trade_trials(trial_rows, trial_predictions, bars, costs, sizing)
        panel, sharpes = traded.panel, traded.sharpe
    else:
        panel, sharpes = pd.DataFrame(), pd.Series(dtype="float64")
    finite = sharpes[np.isfinite(sharpes)]
    dsr = threshold = None
    if len(finite) >= 2:
        variance, variance_source = float(finite.var(ddof=1)), f"the Sharpe ratios of {len(finite)} tuning trials"
    else:
        # too few trials with returns (their predictions were not kept, or they stopped at their first fold): the
        # trials' Sharpe ratios vary at least by the sampling noise of one estimate over this track record
        variance = (1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2) / (n_obs - 1)
        variance_source = "the sampling variance of the Sharpe ratio (fewer than 2 trials with returns)"
        notes.append(
            f"the trials' Sharpe variance is the sampling variance of the strategy's Sharpe ratio: {len(finite)} of "
            f"{n_trials} trial(s) have out-of-sample returns (materialize best_params again to keep every trial's)"
        )
    if n_trials >= 2:
        threshold = expected_maximum_sharpe(n_trials, variance)
        dsr = deflated_sharpe_ratio(sharpe, n_obs, skew, kurtosis, n_trials, variance)
    else:
        notes.append(f"no DSR: {n_trials} trial(s) counted; deflating needs at least 2")
    pbo = None
    if len(panel.columns) >= 2 and len(panel) >= 2 * n_blocks:
        pbo = probability_of_backtest_overfitting(panel.to_numpy(), n_blocks=n_blocks)
    else:
        notes.append(
            f"no PBO: {len(panel.columns)} complete trial(s) with returns over {len(panel)} bars (needs 2 and {2 * n_blocks} bars)"
        )

    report = {
        "sharpe": sharpe,
        "n_obs": n_obs,
        "skew": skew,
        "kurtosis": kurtosis,
        "psr": probabilistic_sharpe_ratio(sharpe, n_obs, skew, kurtosis),
        "dsr": dsr,
        "n_trials": n_trials,
        "trials_sharpe_variance": variance,
        "trials_sharpe_variance_source": variance_source,
        "trials": {**trials_by_source, "with_returns": int(len(finite)), "complete_with_returns": int(len(panel.columns))},
        "pbo": pbo,
        "path_sharpes": [path_stats[f"path_{p}"]["sharpe"] for p in range(n_paths)],
        "cost_bps": costs.cost_bps,
        "half_spread_bps": costs.half_spread_bps,
        "spread_model": costs.spread_model,
        "periods_per_year": ppy,
        "annualized_sharpe": summary["annualized_sharpe"],
        "max_drawdown": summary["max_drawdown"],
        "time_under_water": summary["time_under_water"],
        "minimum_track_record_length": minimum_track_record_length(sharpe, skew, kurtosis),
        "summary": {k: v for k, v in summary.items() if k not in ("sharpe", "n_obs", "skew", "kurtosis")},
        "paths": path_stats,
    }
    returns = series.assign(ts=pd.DatetimeIndex(series["ts"]))
    return StrategyEvaluation(report, returns, path_returns.rename_axis("ts").reset_index(), sharpes, threshold, notes)


def json_safe(value):
    """`value` with NaN and infinities turned into None, recursively (strict JSON readers such as jq
    and browsers reject them; a minimum track record that is never reached is None)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
