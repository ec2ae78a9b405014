"""Every metric a model is scored on, the chain's and the training service's alike: fold metrics
of a classifier (with their lifts over chance), the zoo's threshold and regression scores, the
mean over folds, the composite tuning objective, and the AUC's standard error.

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


def top_fraction_mean(values: np.ndarray, scores: np.ndarray, fraction: float) -> float:
    """Mean of `values` over the highest `fraction` of `scores` (k = ceil(fraction n) rows, at least
    one), fair to ties: rows tied at the cut share its remaining places, each counted by the share
    it would get over all orders of the tie. Taking the earliest tied rows instead let row order
    decide (a one-tree model's tied scores graded "good" on a random walk)."""
    v, s = np.asarray(values, dtype="float64"), np.asarray(scores, dtype="float64")
    k = max(1, int(np.ceil(fraction * len(s))))
    cut = np.partition(s, len(s) - k)[len(s) - k]  # the k-th highest score
    above, tied = s > cut, s == cut
    places = k - int(above.sum())  # what the tied rows share
    return float((v[above].sum() + places * v[tied].mean()) / k)


def precision_at(y: np.ndarray, scores: np.ndarray, fraction: float = 0.10) -> float:
    """Share of positives among the top `fraction` of scores (ties at the cut share its places)."""
    return top_fraction_mean(y, scores, fraction)


def decile_spread(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean outcome of the top score decile minus that of the bottom decile (ties shared fairly)."""
    s = np.asarray(scores, dtype="float64")
    return top_fraction_mean(y, s, 0.10) - top_fraction_mean(y, -s, 0.10)


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


# --- what the training service reports per fold (the chain's metrics, and more) ---------------------
PRIMARY = {"regression": "r2", "classification": "auc"}  # what a cohort is ranked by
LOWER_IS_BETTER = {"mse", "mae", "rmse", "rmse_price", "log_loss", "brier", "auc_cv"}


def classification_scores(y: np.ndarray, proba: np.ndarray) -> dict:
    """A classifier's fold: the chain's fold metrics with their lifts over the positive rate (so a
    zoo model and the production model are graded alike, `grades`), then log loss and the
    threshold metrics at 0.5 (accuracy, precision, recall, F1, confusion matrix)."""
    from sklearn import metrics as skm

    chain = asdict(fold_metrics(y, proba))
    label = (np.asarray(proba) >= 0.5).astype("int64")
    tn, fp, fn, tp = skm.confusion_matrix(y, label, labels=[0, 1]).ravel()
    return {
        **chain,
        **against_chance(chain),
        "log_loss": float(skm.log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(skm.accuracy_score(y, label)),
        "precision": float(skm.precision_score(y, label, zero_division=0)),
        "recall": float(skm.recall_score(y, label, zero_division=0)),
        "f1": float(skm.f1_score(y, label, zero_division=0)),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def regression_scores(y: np.ndarray, pred: np.ndarray, close: np.ndarray, future_close: np.ndarray, transform: str) -> dict:
    """A regressor's fold: r2, mse, mae, rmse, rmse_price (the price the predicted change implies
    against the real future close), direction_accuracy (sign of the prediction against the outcome's)."""
    from sklearn import metrics as skm

    from tb_assets.core.labels.forward import price_from_change

    mse = float(skm.mean_squared_error(y, pred))
    price = price_from_change(close, pred, transform)
    return {
        "r2": float(skm.r2_score(y, pred)),
        "mse": mse,
        "mae": float(skm.mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(mse)),
        "rmse_price": float(np.sqrt(np.mean((price - future_close) ** 2))),
        "direction_accuracy": float(np.mean((pred >= 0) == (y >= 0))),
    }


def mean_scores(folds: list[dict]) -> dict:
    """Mean of each number over folds (and its std as `<name>_std`); confusion matrices summed."""
    out: dict = {}
    for name in folds[0]:
        if name == "confusion_matrix":
            out[name] = np.sum([f[name] for f in folds], axis=0).tolist()
            continue
        values = np.array([f[name] for f in folds], dtype="float64")
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std(ddof=0))
    return out
