"""Out-of-fold classification metrics, the composite tuning objective and the metric grades.

Metrics are computed on each fold's test predictions and averaged over folds; `auc_cv` is the
coefficient of variation (std / mean) of the fold AUCs.

composite = 0.20 AUC + 0.15 AUPR                      (discrimination, 35%)
          + 0.15 (1 - Brier / 0.25)                  (calibration, 15%; 0.25 = a coin's Brier)
          + 0.20 P@10% + 0.10 spread                 (tail, 30%)
          + 0.20 (1 - 5 CV(fold AUC))                (stability, 20%)

The calibration and stability terms are clipped to [0, 1] so that one bad fold cannot drive
the score below what the other terms earned.

Grades judge each metric against its chance level. AUPR and precision@10% of a coin equal the
positive rate, and Brier of the best constant forecast is rate x (1 - rate), so those three are
graded as lift over the rate (value / rate) and as Brier skill (1 - Brier / (rate (1 - rate)));
the raw numbers are kept beside them. A coin on a 64%-positive partition grades below Acceptable,
not "excellent".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from tb_assets.core.errors import TbError

WEIGHTS = {"auc": 0.20, "aupr": 0.15, "calibration": 0.15, "precision_at_10": 0.20, "spread": 0.10, "stability": 0.20}

# (acceptable, good, excellent) lower bounds; for auc_cv: upper bounds (lower is better). At a 50%
# positive rate the lift and skill bounds are the raw bounds the project used before (AUPR .58/.65,
# precision .55/.60, Brier .23/.20); Acceptable asks for a little more than chance.
GRADES: dict[str, tuple[float, float, float]] = {
    "auc": (0.60, 0.65, 0.70),
    "aupr_lift": (1.05, 1.16, 1.30),
    "precision_at_10_lift": (1.05, 1.10, 1.20),
    "brier_skill": (0.005, 0.08, 0.20),
    "auc_cv": (0.15, 0.10, 0.05),
}
LOWER_IS_BETTER = {"auc_cv"}


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


def against_chance(m: dict) -> dict:
    """aupr_lift and precision_at_10_lift (value / positive rate) and brier_skill (1 - Brier /
    (rate (1 - rate)), 0 for the best constant forecast) of a metrics dict; NaN without a rate."""
    rate = float(m.get("positive_rate", float("nan")))
    constant = rate * (1.0 - rate)
    ok = np.isfinite(rate) and 0.0 < rate < 1.0
    return {
        "aupr_lift": m["aupr"] / rate if ok else float("nan"),
        "precision_at_10_lift": m["precision_at_10"] / rate if ok else float("nan"),
        "brier_skill": 1.0 - m["brier"] / constant if ok else float("nan"),
    }


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


def grade(metric: str, value: float) -> str:
    """'excellent', 'good', 'acceptable' or 'below' against the project's targets ('-' for NaN:
    a stored metric from before the positive rate was kept)."""
    if not np.isfinite(value):
        return "-"
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


GRADED = ("auc", "aupr_lift", "precision_at_10_lift", "brier_skill", "auc_cv")
# shown in the grade table: each graded metric, with the raw number its lift or skill comes from
SHOWN = ("auc", "aupr", "aupr_lift", "precision_at_10", "precision_at_10_lift", "brier", "brier_skill", "auc_cv", "positive_rate")


def _with_chance(m: dict) -> dict:
    return {**m, **{k: v for k, v in against_chance(m).items() if not np.isfinite(m.get(k, float("nan")))}}


def grade_table(oof: dict, holdout: dict | None) -> pd.DataFrame:
    """Each metric's out-of-fold value and, for the graded ones, its grade ('-' for the raw numbers
    behind a lift), beside the holdout's (no fold-to-fold CV on one holdout)."""
    oof = _with_chance(oof)
    table = pd.DataFrame({
        "metric": SHOWN,
        "oof": [oof.get(k, float("nan")) for k in SHOWN],
        "oof_grade": [grade(k, oof.get(k, float("nan"))) if k in GRADED else "-" for k in SHOWN],
    })
    if holdout is not None:
        holdout = _with_chance(holdout)
        table["holdout"] = [holdout.get(k, "-") for k in SHOWN]  # one holdout has no fold-to-fold CV
        table["holdout_grade"] = [grade(k, holdout[k]) if k in GRADED and k in holdout else "-" for k in SHOWN]
    return table


def graded(table: pd.DataFrame, column: str = "oof_grade") -> dict[str, str]:
    """{metric: grade} of the graded rows of a grade table."""
    rows = table[table["metric"].isin(GRADED)]
    return dict(zip(rows["metric"], rows[column]))
