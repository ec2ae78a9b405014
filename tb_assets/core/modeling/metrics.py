"""Out-of-fold classification metrics, the composite tuning objective and the metric grades.

Metrics are computed on each fold's test predictions and averaged over folds; `auc_cv` is the
coefficient of variation (std / mean) of the fold AUCs.

composite = 0.20 AUC + 0.15 AUPR                      (discrimination, 35%)
          + 0.15 (1 - Brier / 0.25)                  (calibration, 15%; 0.25 = a coin's Brier)
          + 0.20 P@10% + 0.10 spread                 (tail, 30%)
          + 0.20 (1 - 5 CV(fold AUC))                (stability, 20%)

The calibration and stability terms are clipped to [0, 1] so that one bad fold cannot drive
the score below what the other terms earned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from tb_assets.core.errors import TbError

WEIGHTS = {"auc": 0.20, "aupr": 0.15, "calibration": 0.15, "precision_at_10": 0.20, "spread": 0.10, "stability": 0.20}

# (acceptable, good, excellent) lower bounds; for brier and auc_cv: upper bounds (lower is better)
GRADES: dict[str, tuple[float, float, float]] = {
    "auc": (0.60, 0.65, 0.70),
    "aupr": (0.50, 0.58, 0.65),
    "brier": (0.25, 0.23, 0.20),
    "precision_at_10": (0.50, 0.55, 0.60),
    "auc_cv": (0.15, 0.10, 0.05),
}
LOWER_IS_BETTER = {"brier", "auc_cv"}


def top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the highest `fraction` of scores (at least one), stable for ties."""
    k = max(1, int(np.ceil(fraction * len(scores))))
    return np.argsort(-np.asarray(scores), kind="stable")[:k]


def precision_at(y: np.ndarray, scores: np.ndarray, fraction: float = 0.10) -> float:
    """Share of positives among the top `fraction` of scores."""
    return float(np.mean(np.asarray(y)[top_fraction(scores, fraction)]))


def decile_spread(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean outcome of the top score decile minus that of the bottom decile."""
    y, s = np.asarray(y, dtype="float64"), np.asarray(scores)
    return float(y[top_fraction(s, 0.10)].mean() - y[top_fraction(-s, 0.10)].mean())


@dataclass(frozen=True)
class FoldMetrics:
    auc: float
    aupr: float
    brier: float
    precision_at_10: float
    spread: float


def fold_metrics(y: np.ndarray, proba: np.ndarray) -> FoldMetrics:
    y, p = np.asarray(y), np.asarray(proba, dtype="float64")
    if len(np.unique(y)) < 2:
        raise TbError("a fold needs both classes to score (make folds larger or labels less skewed)")
    return FoldMetrics(
        auc=float(roc_auc_score(y, p)),
        aupr=float(average_precision_score(y, p)),
        brier=float(brier_score_loss(y, p)),
        precision_at_10=precision_at(y, p, 0.10),
        spread=decile_spread(y, p),
    )


@dataclass(frozen=True)
class CVMetrics:
    auc: float
    aupr: float
    brier: float
    precision_at_10: float
    spread: float
    auc_cv: float
    auc_std: float
    folds: tuple[FoldMetrics, ...]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["folds"] = [asdict(f) for f in self.folds]
        return d


def summarize(folds: Sequence[FoldMetrics]) -> CVMetrics:
    aucs = np.array([f.auc for f in folds])
    mean = lambda name: float(np.mean([getattr(f, name) for f in folds]))  # noqa: E731
    std = float(aucs.std(ddof=0))
    return CVMetrics(
        auc=float(aucs.mean()),
        aupr=mean("aupr"),
        brier=mean("brier"),
        precision_at_10=mean("precision_at_10"),
        spread=mean("spread"),
        auc_cv=std / float(aucs.mean()) if aucs.mean() > 0 else float("inf"),
        auc_std=std,
        folds=tuple(folds),
    )


def composite_score(m: CVMetrics) -> float:
    calibration = float(np.clip(1.0 - m.brier / 0.25, 0.0, 1.0))
    stability = float(np.clip(1.0 - 5.0 * m.auc_cv, 0.0, 1.0))
    return (
        WEIGHTS["auc"] * m.auc
        + WEIGHTS["aupr"] * m.aupr
        + WEIGHTS["calibration"] * calibration
        + WEIGHTS["precision_at_10"] * m.precision_at_10
        + WEIGHTS["spread"] * m.spread
        + WEIGHTS["stability"] * stability
    )


def auc_objective(m: CVMetrics, variance_penalty: float = 1.0) -> float:
    """Mean fold AUC minus a penalty times its standard deviation."""
    return m.auc - variance_penalty * m.auc_std


def grade(metric: str, value: float) -> str:
    """'excellent', 'good', 'acceptable' or 'below' against the project's targets."""
    acceptable, good, excellent = GRADES[metric]
    if metric in LOWER_IS_BETTER:
        value, acceptable, good, excellent = -value, -acceptable, -good, -excellent
    if value > excellent:
        return "excellent"
    if value >= good:
        return "good"
    if value >= acceptable:
        return "acceptable"
    return "below"


GRADED = ("auc", "aupr", "brier", "precision_at_10", "auc_cv")


def grade_table(oof: dict, holdout: dict | None) -> pd.DataFrame:
    """Each graded metric's out-of-fold value and grade, beside the holdout's (no CV on one holdout)."""
    table = pd.DataFrame({"metric": GRADED, "oof": [oof[k] for k in GRADED], "oof_grade": [grade(k, oof[k]) for k in GRADED]})
    if holdout is not None:
        table["holdout"] = [holdout.get(k, "-") for k in GRADED]  # one holdout has no fold-to-fold CV
        table["holdout_grade"] = [grade(k, holdout[k]) if k in holdout else "-" for k in GRADED]
    return table
