"""The one scoring engine: fit an estimator on each purged fold's training rows, score its test rows.

Selection, tuning, the production model's out-of-fold and holdout metrics, the leakage
sentinels and the training service's zoo all score through `score_folds`. What differs between them is passed in, never
re-implemented: the scorer (full fold metrics, or AUC alone for selection) and an `on_fold`
callback (tuning's pruning rules) called after each fold with the scores so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import roc_auc_score

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.metrics import CVMetrics, FoldMetrics, fold_metrics, summarize
from tb_assets.core.modeling.models import Estimator, as_matrix, bin_rows


@dataclass
class Folds:
    """The (train, test) splits of one problem. Each training part is prepared once for the
    estimator (LightGBM: binned into an `lgb.Dataset`, XGBoost: a `QuantileDMatrix`) and reused by
    every fit on it: an estimator with `fit_binned` names its binning function as `bin_rows`."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None
    splits: list[tuple[np.ndarray, np.ndarray]]
    threads: int = 1  # binning threads: the same as the fits' (see models.bin_rows)
    _binned: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, X, y, weight, splits: Sequence[tuple[np.ndarray, np.ndarray]], *, bin_now: bool = True, threads: int = 1) -> Folds:
        folds = cls(as_matrix(X), np.asarray(y), None if weight is None else np.asarray(weight, "float64"), list(splits), threads)
        if bin_now:  # bin up front, so threads running trials in parallel never bin the same fold twice
            for k in range(len(folds.splits)):
                folds.binned(k)
        return folds

    @property
    def min_train(self) -> int:
        return min(len(tr) for tr, _ in self.splits)

    def binned(self, k: int, binner=bin_rows):
        """Fold k's training rows binned by `binner` (LightGBM's by default), once."""
        if (k, binner) not in self._binned:
            tr = self.splits[k][0]
            self._binned[k, binner] = binner(self.X[tr], self.y[tr], None if self.weight is None else self.weight[tr], threads=self.threads)
        return self._binned[k, binner]

    def fit(self, estimator: Estimator, k: int) -> Estimator:
        """`estimator` fitted on fold k's training rows (the binned set where it can use one)."""
        if hasattr(estimator, "fit_binned"):
            return estimator.fit_binned(self.binned(k, getattr(estimator, "bin_rows", bin_rows)))
        tr = self.splits[k][0]
        return estimator.fit(self.X[tr], self.y[tr], sample_weight=None if self.weight is None else self.weight[tr])


def threads_of(estimator) -> int:
    return int(getattr(estimator, "threads", 1) or 1)


@dataclass
class FoldScore:
    fold: int
    test: np.ndarray  # positions of the scored rows
    prediction: np.ndarray  # on them: a classifier's probability of class 1, a regressor's value
    score: Any  # what the scorer returned
    model: Estimator | None = None  # kept only when asked (keep_models=True)


def predicted(model: Estimator, X) -> np.ndarray:
    """What a fitted model is scored on: a classifier's probability of class 1, a regressor's value."""
    return model.predict_proba(X)[:, 1] if is_classifier(model) else np.asarray(model.predict(X), dtype="float64")


def auc_score(y: np.ndarray, proba: np.ndarray) -> float:
    return float(roc_auc_score(y, proba))


def score_folds(
    estimator: Estimator,
    folds: Folds,
    *,
    scorer: Callable[[np.ndarray, np.ndarray], Any] = fold_metrics,
    on_fold: Callable[[int, list], None] | None = None,
    skip_one_class: bool = False,
    keep_models: bool = False,
) -> list[FoldScore]:
    """Fit a fresh clone of `estimator` on each fold and score its test rows.

    `on_fold(k, scores_so_far)` runs after each fold and may raise to stop early (pruning).
    For a classifier, a fold whose training or test rows hold one class is an error, or skipped
    with `skip_one_class`.
    """
    done: list[FoldScore] = []
    classifier = is_classifier(estimator)
    for k, (train, test) in enumerate(folds.splits):
        if classifier and (len(np.unique(folds.y[train])) < 2 or len(np.unique(folds.y[test])) < 2):
            if skip_one_class:
                continue
            raise TbError(f"fold {k} holds one class only in its training or test rows (make folds larger or labels less skewed)")
        model = folds.fit(clone(estimator), k)
        prediction = predicted(model, folds.X[test])
        done.append(FoldScore(k, test, prediction, scorer(folds.y[test], prediction), model if keep_models else None))
        if on_fold is not None:
            on_fold(k, [f.score for f in done])
    if not done:
        raise TbError("no fold has both classes in its training and test parts")
    return done


def cv_metrics(estimator: Estimator, folds: Folds, *, on_fold: Callable[[int, list], None] | None = None) -> CVMetrics:
    """Out-of-fold metrics (mean over folds, AUC's coefficient of variation) of one estimator."""
    return summarize([f.score for f in score_folds(estimator, folds, on_fold=on_fold)])


@dataclass
class HoldoutScore:
    metrics: FoldMetrics
    proba: np.ndarray  # on the holdout rows, in time order
    model: Estimator  # fitted on the development rows only


def score_holdout(estimator: Estimator, X, y, weight, development: np.ndarray, holdout: np.ndarray, *,
                  label: str = "holdout events") -> HoldoutScore:
    """Fit on `development`, score on `holdout`: scored exactly like one out-of-fold split."""
    y = np.asarray(y)
    for name, rows in ((label, holdout), ("development events", development)):
        if len(np.unique(y[rows])) < 2:
            raise TbError(f"the {name} hold one class only and cannot be scored: change holdout_pct on selected_features")
    folds = Folds.build(X, y, weight, [(development, holdout)], threads=threads_of(estimator))
    (result,) = score_folds(estimator, folds, keep_models=True)
    return HoldoutScore(result.score, result.prediction, result.model)
