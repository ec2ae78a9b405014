"""Out-of-fold classification metrics and the composite tuning objective.

Metrics are computed on each fold's test predictions and averaged over folds; `auc_cv` is the
coefficient of variation (std / mean) of the fold AUCs.

composite = 0.20 AUC + 0.15 AUPR                      (discrimination, 35%)
          + 0.15 (1 - Brier / 0.25)                  (calibration, 15%; 0.25 = a coin's Brier)
          + 0.20 P@10% + 0.10 spread                 (tail, 30%)
          + 0.20 (1 - 5 CV(fold AUC))                (stability, 20%)

The calibration and stability terms are clipped to [0, 1] so that one bad fold cannot drive
the score below what the other terms earned.

Each fold also keeps its positive rate and the lifts over it (`grades.against_chance`), so every
metric can be graded against chance (`grades`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.grades import against_chance

WEIGHTS = {"auc": 0.20, "aupr": 0.15, "calibration": 0.15, "precision_at_10": 0.20, "spread": 0.10, "stability": 0.20}

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
    positive_rate: float = float("nan")  # of the scored rows: the chance level of AUPR and precision


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
        positive_rate=float(np.mean(y)),
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
    positive_rate: float = float("nan")  # the folds' mean, and the fold means of each one's lift and skill:
    aupr_lift: float = float("nan")
    precision_at_10_lift: float = float("nan")
    brier_skill: float = float("nan")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["folds"] = [asdict(f) for f in self.folds]
        return d


def summarize(folds: Sequence[FoldMetrics]) -> CVMetrics:
    aucs = np.array([f.auc for f in folds])
    mean = lambda name: float(np.mean([getattr(f, name) for f in folds]))  # noqa: E731
    std = float(aucs.std(ddof=0))
    relative = [against_chance(asdict(f)) for f in folds]
    return CVMetrics(
        auc=float(aucs.mean()),
        aupr=mean("aupr"),
        brier=mean("brier"),
        precision_at_10=mean("precision_at_10"),
        spread=mean("spread"),
        auc_cv=std / float(aucs.mean()) if aucs.mean() > 0 else float("inf"),
        auc_std=std,
        folds=tuple(folds),
        positive_rate=mean("positive_rate"),
        **{k: float(np.mean([r[k] for r in relative])) for k in ("aupr_lift", "precision_at_10_lift", "brier_skill")},
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


def auc_standard_error(y: np.ndarray, scores: np.ndarray) -> float:
    """DeLong's (1988) standard error of the AUC of `scores` on labels `y`, from midranks (Sun & Xu
    2014: each positive's share of negatives it outranks, and each negative's, then their variances).
    It treats the rows as independent: see `leakage.auc_lower_bound` for overlapping labels."""
    from scipy.stats import rankdata

    y, s = np.asarray(y), np.asarray(scores, dtype="float64")
    positive, negative = s[y == 1], s[y == 0]
    m, n = len(positive), len(negative)
    if m < 2 or n < 2:
        return float("nan")
    combined = rankdata(np.concatenate([positive, negative]))  # midranks: ties count half
    v10 = (combined[:m] - rankdata(positive)) / n  # per positive: the share of negatives below it
    v01 = 1.0 - (combined[m:] - rankdata(negative)) / m  # per negative: the share of positives above it
    return float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))
