"""Realized performance: the champion's probabilities against the labels that resolved after its
training ended, each metric beside the untouched holdout's confidence interval.

Triple-barrier labels resolve within their vertical barrier, so the model's real results are
measured, not estimated. Intervals widen by the labels' overlap (n overlapping events hold about
n / overlap independent outcomes), as the holdout's own AUC bound does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from tb_assets.core.live.change import Change, log_losses
from tb_assets.core.modeling.leakage import CONFIDENCE_Z
from tb_assets.core.modeling.metrics import auc_standard_error

MIN_EVENTS = 30  # fewer resolved events (or fewer than 5 of a class) judge nothing
CALIBRATION_Z = norm.ppf(1 - 0.01 / 2)  # calibration-in-the-large: two-sided 1%


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def metric_intervals(y, proba, overlap: float) -> dict[str, tuple[float, float, float]]:
    """metric -> (value, lower, upper) for AUC (DeLong), Brier and log loss (their per-event spread),
    one-sided CONFIDENCE_Z bounds widened by sqrt(overlap)."""
    y, p = np.asarray(y, "int64"), np.asarray(proba, "float64")
    if len(y) < 2:
        return {name: (float("nan"),) * 3 for name in ("auc", "brier", "log_loss")}
    widen = CONFIDENCE_Z * np.sqrt(max(overlap, 1.0))
    out = {}
    auc = _auc(y, p)
    se = auc_standard_error(y, p) if np.isfinite(auc) else float("nan")
    out["auc"] = (auc, auc - widen * se, auc + widen * se)
    for name, per_event in (("brier", (p - y) ** 2), ("log_loss", log_losses(y, p))):
        mean, sd = float(per_event.mean()), float(per_event.std(ddof=1))
        half = widen * sd / np.sqrt(len(per_event))
        out[name] = (mean, mean - half, mean + half)
    return out


def calibration_in_the_large(y, proba, overlap: float) -> float:
    """z of observed minus expected positives: how far the probabilities are from meaning what they say."""
    y, p = np.asarray(y, "float64"), np.asarray(proba, "float64")
    spread = np.sqrt(np.sum(p * (1 - p)) * max(overlap, 1.0))
    return float((y.sum() - p.sum()) / spread) if spread > 0 else 0.0


@dataclass
class Realized:
    n_events: int
    table: pd.DataFrame  # metric, holdout, holdout_lower, holdout_upper, realized, realized_lower, realized_upper, worse
    calibration_z: float
    positive_rate: float
    mean_proba: float

    @property
    def enough(self) -> bool:
        return self.n_events >= MIN_EVENTS

    def row(self, metric: str) -> pd.Series:
        return self.table.set_index("metric").loc[metric]


def realized_performance(y, proba, holdout_y, holdout_proba, overlap: float) -> Realized:
    """The resolved events' metrics beside the holdout's. `worse`: the realized interval lies wholly on
    the bad side of the holdout's (AUC: realized upper bound below the holdout's lower bound)."""
    live = metric_intervals(y, proba, overlap)
    hold = metric_intervals(holdout_y, holdout_proba, overlap)
    rows = []
    for metric, (value, low, high) in live.items():
        h, h_low, h_high = hold[metric]
        worse = high < h_low if metric == "auc" else low > h_high
        rows.append((metric, h, h_low, h_high, value, low, high, bool(worse)))
    table = pd.DataFrame(
        rows, columns=["metric", "holdout", "holdout_lower", "holdout_upper", "realized", "realized_lower", "realized_upper", "worse"]
    )
    y = np.asarray(y)
    return Realized(
        len(y),
        table,
        calibration_in_the_large(y, proba, overlap),
        float(np.mean(y)) if len(y) else float("nan"),
        float(np.mean(proba)) if len(y) else float("nan"),
    )


def decay_verdict(realized: Realized, change: Change) -> tuple[bool, str]:
    """Decay (an ERROR): the change detector fired AND realized AUC's upper bound is below the holdout's
    lower bound; either alone is evidence, not a verdict."""
    if not realized.enough:
        return False, f"{realized.n_events} resolved event(s) since training: {MIN_EVENTS} are needed to judge decay"
    auc = realized.row("auc")
    if not np.isfinite(auc.holdout):
        return False, f"no untouched holdout to compare the realized AUC {auc.realized:.3f} with: decay is not judged"
    said = (
        f"realized AUC {auc.realized:.3f} (upper bound {auc.realized_upper:.3f}) on {realized.n_events} resolved events "
        f"vs the holdout's {auc.holdout:.3f} (lower bound {auc.holdout_lower:.3f}); "
        + (
            f"Page-Hinkley on log loss alarmed at event {change.first_alarm + 1} "
            f"(statistic {change.statistic.max():.2f} > {change.threshold:.2f})"
            if change.fired
            else f"Page-Hinkley quiet (statistic {change.statistic.max(initial=0.0):.2f} <= {change.threshold:.2f})"
        )
    )
    decayed = change.fired and bool(auc.worse)
    return decayed, ("the model has decayed: " if decayed else "no decay: ") + said
