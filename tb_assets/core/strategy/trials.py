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


def trial_returns(
    rows: pd.DataFrame,
    predictions: dict[int, np.ndarray],
    bars: pd.DataFrame,
    costs: Costs,
    sizing: Callable[[np.ndarray], np.ndarray],
) -> dict[int, pd.Series]:
    """Net return per bar of each trial's strategy, over the bars of the events it predicted (a
    pruned trial: the folds it finished). A trial that finished fewer than two folds cannot have its
    probabilities calibrated cross-fitted like the others and is left out."""
    tested = rows["fold"].to_numpy() >= 0
    out: dict[int, pd.Series] = {}
    for number, raw in sorted(predictions.items()):
        raw = np.asarray(raw, dtype="float64")
        have = tested & np.isfinite(raw)
        fold = rows["fold"].to_numpy()[have]
        if len(np.unique(fold)) < 2:
            continue
        _, proba = choose_calibration(raw[have], rows["y"].to_numpy()[have], fold)
        events = sized_events(pd.DatetimeIndex(rows["ts"])[have], pd.DatetimeIndex(rows["t1"])[have], proba, sizing)
        returns = bar_returns(build_trades(events, bars, costs), bars)
        out[number] = pd.Series(returns["net_return"].to_numpy(), index=pd.DatetimeIndex(returns["ts"]))
    return out


def complete_panel(returns: dict[int, pd.Series], predictions: dict[int, np.ndarray], rows: pd.DataFrame) -> pd.DataFrame:
    """The trials that predicted every tested event, side by side on the same bars (what PBO ranks:
    trials compared over different periods would be ranked by their periods)."""
    tested = rows["fold"].to_numpy() >= 0
    whole = [n for n in returns if np.isfinite(np.asarray(predictions[n], dtype="float64")[tested]).all()]
    if not whole:
        return pd.DataFrame()
    return pd.DataFrame({n: returns[n] for n in whole}).sort_index().fillna(0.0)


def trial_sharpes(returns: dict[int, pd.Series]) -> pd.Series:
    """Each trial's per-period Sharpe ratio over its own bars (NaN for one that never varied)."""
    out = {}
    for number, series in returns.items():
        r = series.to_numpy()
        out[number] = return_moments(r)[0] if len(r) > 1 and r.std() > 0 else np.nan
    return pd.Series(out, dtype="float64")
