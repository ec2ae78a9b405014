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

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.class_weight import class_weighted
from tb_assets.core.modeling.estimators.contract import Estimator, as_matrix
from tb_assets.core.modeling.estimators.lightgbm import bin_rows, bin_validation
from tb_assets.core.modeling.metrics import fold_metrics


@dataclass(frozen=True)
class EarlyStopping:
    """Stop boosting inside each training fold when the loss on a validation slice has not improved
    for `patience` x the number of rounds asked (at least `min_rounds`). The slice is the last
    `fraction` of the fold's training rows in time; training rows whose label reaches into it are
    purged. The fold being scored is never looked at."""

    fraction: float = 0.15
    patience: float = 0.1
    min_rounds: int = 20

    def rounds(self, n_estimators: int) -> int:
        return max(self.min_rounds, int(self.patience * n_estimators))


def stopping_split(train: np.ndarray, t0: np.ndarray, t1: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) rows of one fold's training rows (positions in time order): the last
    `fraction` validates, and fit rows whose label ends at or after the validation's first start are
    purged, so no fit label shares a bar with a validation label."""
    cut = int(round(len(train) * (1.0 - fraction)))
    if cut < 1 or cut >= len(train):
        raise TbError(f"a training fold of {len(train)} rows cannot keep {fraction:.0%} for early stopping")
    fit, valid = train[:cut], train[cut:]
    return fit[t1[fit] < t0[valid[0]]], valid


@dataclass
class Folds:
    """The (train, test) splits of one problem. Each training part is prepared once for the
    estimator (LightGBM: binned into an `lgb.Dataset`, XGBoost: a `QuantileDMatrix`) and reused by
    every fit on it: an estimator with `fit_binned` names its binning function as `bin_rows`.

    With `early_stopping` (and the labels' t0/t1 in ns), an estimator whose `fit_binned` takes a
    validation set (LightGBM) trains on each fold's `stopping_split` and stops early; the others
    train on the whole training part as before.

    With `thin` = k > 1 each fold trains on every k-th of its training rows, weighted k times (so
    sums of weights, and with them LightGBM's hessians and regularisation, stay those of all rows);
    a fit's `min_child_samples` counts all rows, so the caller divides it by k (`per_thinned_row`).
    Test rows, and early stopping's validation rows, are never thinned."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None
    splits: list[tuple[np.ndarray, np.ndarray]]
    threads: int = 1  # binning threads: the same as the fits' (see models.bin_rows)
    early_stopping: EarlyStopping | None = None
    t0: np.ndarray | None = None
    t1: np.ndarray | None = None
    thin: int = 1
    _binned: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        X,
        y,
        weight,
        splits: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        bin_now: bool = True,
        threads: int = 1,
        early_stopping: EarlyStopping | None = None,
        t1=None,
        thin: int = 1,
    ) -> Folds:
        """`t1`: the labels' end times indexed by their starts (a Series), needed by early stopping."""
        t0_ns = t1_ns = None
        if early_stopping is not None:
            if t1 is None:
                raise TbError("early stopping needs the labels' t1 to purge its validation slice")
            t0_ns, t1_ns = epoch_ns(t1.index), epoch_ns(t1)
        folds = cls(
            as_matrix(X),
            np.asarray(y),
            None if weight is None else np.asarray(weight, "float64"),
            list(splits),
            threads,
            early_stopping,
            t0_ns,
            t1_ns,
            max(1, int(thin)),
        )
        if bin_now:  # bin up front, so threads running trials in parallel never bin the same fold twice
            for k in range(len(folds.splits)):
                if early_stopping is None:
                    folds.binned(k)
                else:  # what a LightGBM fit uses then (others bin their whole training part when they come)
                    folds.stopping_sets(k)
        return folds

    def stopping_sets(self, k: int, positive_weight: float | None = None):
        """Fold k's (fit, validation) LightGBM datasets for early stopping, binned once (with the
        positives' weights multiplied by `positive_weight` when given: see `binned`)."""
        key = (k, "stopping", positive_weight)
        if key not in self._binned:
            fit, valid = stopping_split(self.splits[k][0], self.t0, self.t1, self.early_stopping.fraction)
            fit = fit[:: self.thin]
            fit_set = bin_rows(self.X[fit], self.y[fit], self._weights(fit, self.thin, positive_weight), threads=self.threads)
            self._binned[key] = fit_set, bin_validation(self.X[valid], self.y[valid], self._weights(valid, 1, positive_weight), fit_set)
        return self._binned[key]

    @property
    def min_train(self) -> int:
        return min(len(tr) for tr, _ in self.splits)

    def _weights(self, rows: np.ndarray, scale: int, positive_weight: float | None = None) -> np.ndarray | None:
        if scale == 1:
            weight = None if self.weight is None else self.weight[rows]
        else:
            weight = np.full(len(rows), float(scale)) if self.weight is None else self.weight[rows] * scale
        return class_weighted(self.y[rows], weight, positive_weight)

    def per_thinned_row(self, params: dict) -> dict:
        """`params` for a fit on thinned rows: min_child_samples counted in kept rows."""
        if self.thin == 1 or "min_child_samples" not in params:
            return params
        return {**params, "min_child_samples": max(1, int(round(params["min_child_samples"] / self.thin)))}

    def binned(self, k: int, binner=bin_rows, positive_weight: float | None = None):
        """Fold k's training rows (every `thin`-th) binned by `binner` (LightGBM's by default), once;
        with `positive_weight` the positives' sample weights are multiplied by it (a model that
        balances its classes through its weights, `folded_positive_weight`)."""
        key = (k, binner, positive_weight)
        if key not in self._binned:
            tr = self.splits[k][0][:: self.thin]
            self._binned[key] = binner(self.X[tr], self.y[tr], self._weights(tr, self.thin, positive_weight), threads=self.threads)
        return self._binned[key]

    def fit(self, estimator: Estimator, k: int) -> Estimator:
        """`estimator` fitted on fold k's training rows (the binned set where it can use one)."""
        positive_weight = getattr(estimator, "folded_positive_weight", None)
        if self.early_stopping is not None and hasattr(estimator, "fit_early_stopped"):
            fit_set, valid_set = self.stopping_sets(k, positive_weight)
            return estimator.fit_early_stopped(fit_set, valid_set, self.early_stopping)
        if hasattr(estimator, "fit_binned"):
            return estimator.fit_binned(self.binned(k, getattr(estimator, "bin_rows", bin_rows), positive_weight))
        tr = self.splits[k][0][:: self.thin]
        return estimator.fit(self.X[tr], self.y[tr], sample_weight=self._weights(tr, self.thin))


def threads_of(estimator) -> int:
    return int(getattr(estimator, "threads", 1) or 1)


@dataclass
class FoldScore:
    fold: int
    test: np.ndarray  # positions of the scored rows
    prediction: np.ndarray  # on them: a classifier's probability of class 1, a regressor's value
    score: Any  # what the scorer returned
    model: Estimator | None = None  # kept only when asked (keep_models=True)
    iterations: int | None = None  # boosting rounds kept by early stopping, when it ran


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
    parallel: int = 1,
) -> list[FoldScore]:
    """Fit a fresh clone of `estimator` on each fold and score its test rows.

    `on_fold(k, scores_so_far)` runs after each fold and may raise to stop early (pruning).
    For a classifier, a fold whose training or test rows hold one class is an error, or skipped
    with `skip_one_class`. `parallel` > 1 fits that many folds at once in threads (each fit as the
    estimator's threads say; LightGBM releases the GIL), then scores them and calls `on_fold` in
    fold order: the same numbers as one by one, sooner.
    """
    done: list[FoldScore] = []
    classifier = is_classifier(estimator)
    usable = []
    for k, (train, test) in enumerate(folds.splits):
        if classifier and (len(np.unique(folds.y[train])) < 2 or len(np.unique(folds.y[test])) < 2):
            if skip_one_class:
                continue
            raise TbError(f"fold {k} holds one class only in its training or test rows (make folds larger or labels less skewed)")
        usable.append(k)
    fitted: dict[int, Estimator] = {}
    for i, k in enumerate(usable):
        if k not in fitted and parallel > 1:  # the next `parallel` folds at once: pruning still stops between batches
            from joblib import Parallel, delayed

            batch = usable[i : i + parallel]
            fitted = dict(zip(batch, Parallel(n_jobs=len(batch), prefer="threads")(delayed(folds.fit)(clone(estimator), b) for b in batch)))
        test = folds.splits[k][1]
        model = fitted.pop(k) if k in fitted else folds.fit(clone(estimator), k)
        prediction = predicted(model, folds.X[test])
        done.append(
            FoldScore(
                k,
                test,
                prediction,
                scorer(folds.y[test], prediction),
                model if keep_models else None,
                getattr(model, "best_iteration_", None),
            )
        )
        if on_fold is not None:
            on_fold(k, [f.score for f in done])
    if not done:
        raise TbError("no fold has both classes in its training and test parts")
    return done


@dataclass
class HoldoutScore:
    metrics: Any  # what the scorer returned: FoldMetrics by default
    proba: np.ndarray  # on the holdout rows, in time order
    model: Estimator  # fitted on the development rows only


def score_holdout(
    estimator: Estimator,
    X,
    y,
    weight,
    development: np.ndarray,
    holdout: np.ndarray,
    *,
    label: str = "holdout events",
    scorer: Callable[[np.ndarray, np.ndarray], Any] = fold_metrics,
    setting: str = "holdout_pct on selected_features",
) -> HoldoutScore:
    """Fit on `development`, score on `holdout`: scored exactly like one out-of-fold split (by
    `scorer`; `setting` is what a user changes when one part holds one class)."""
    y = np.asarray(y)
    for name, rows in ((label, holdout), ("development events", development)):
        if len(np.unique(y[rows])) < 2:
            raise TbError(f"the {name} hold one class only and cannot be scored: change {setting}")
    folds = Folds.build(X, y, weight, [(development, holdout)], threads=threads_of(estimator))
    (result,) = score_folds(estimator, folds, scorer=scorer, keep_models=True)
    return HoldoutScore(result.score, result.prediction, result.model)
