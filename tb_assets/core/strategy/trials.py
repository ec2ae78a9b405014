"""Every trial's strategy: the returns the DSR's variance and PBO are computed over.

A tuning trial kept its out-of-fold predictions of the development events (`tuning.keep_predictions`).
Each is calibrated the way the production model's are (cross-fitted by fold, so no fold's labels
calibrate its own predictions), sized, traded after the same costs, and turned into a return per
bar, exactly like the chosen strategy: the trials differ only in what they predicted. The panel
(bars x trials) is what PBO ranks the trials on; the per-trial Sharpe ratios give the variance the
DSR deflates by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.modeling.calibration import choose_calibration
from tb_assets.core.strategy.sharpe import return_moments
from tb_assets.core.strategy.trades import Costs, bar_returns, build_trades


def sized_events(t0, t1, proba: np.ndarray, sizing: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """The events as build_trades wants them: side and size from the signed bet size."""
    signed = np.asarray(sizing(proba), dtype="float64")
    return pd.DataFrame(
        {"t1": pd.DatetimeIndex(t1), "proba": proba, "side": np.sign(signed).astype("int8"), "size": np.abs(signed)},
        index=pd.DatetimeIndex(t0),
    )


@dataclass
class TradedTrials:
    sharpe: pd.Series  # each trial's per-period Sharpe ratio over its own bars (NaN: it never varied)
    panel: pd.DataFrame  # net return per bar of the complete trials, side by side on the same bars (what PBO ranks)


def trade_trials(
    rows: pd.DataFrame,
    predictions: dict[int, np.ndarray],
    bars: pd.DataFrame,
    costs: Costs,
    sizing: Callable[[np.ndarray], np.ndarray],
) -> TradedTrials:
    """Every trial's strategy, over the bars of the events it predicted (a pruned trial: the folds it
    finished). A trial that finished fewer than two folds cannot have its probabilities calibrated
    cross-fitted like the others and is left out. Only the complete trials' returns are kept (trials
    compared over different periods would be ranked by their periods): a million bars of returns per
    trial is 16 MB, and a study holds dozens."""
    tested = rows["fold"].to_numpy() >= 0
    t0, t1, y, folds = pd.DatetimeIndex(rows["ts"]), pd.DatetimeIndex(rows["t1"]), rows["y"].to_numpy(), rows["fold"].to_numpy()
    sharpe: dict[int, float] = {}
    kept: dict[int, np.ndarray] = {}
    index = None
    for number, raw in sorted(predictions.items()):
        raw = np.asarray(raw, dtype="float64")
        have = tested & np.isfinite(raw)
        if len(np.unique(folds[have])) < 2:
            continue
        _, proba = choose_calibration(raw[have], y[have], folds[have])
        returns = bar_returns(build_trades(sized_events(t0[have], t1[have], proba, sizing), bars, costs), bars)
        r = returns["net_return"].to_numpy()
        sharpe[number] = return_moments(r)[0] if len(r) > 1 and r.std() > 0 else np.nan
        if have.sum() == tested.sum():  # complete: the same events as every other complete trial, so the same bars
            ts = pd.DatetimeIndex(returns["ts"])
            if index is None or ts.equals(index):
                index = ts
                kept[number] = r
    panel = pd.DataFrame(kept, index=index) if kept else pd.DataFrame()
    return TradedTrials(pd.Series(sharpe, dtype="float64"), panel)
