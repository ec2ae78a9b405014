"""The p-value filter: a univariate F-test of each feature against the target, one rule for the
chain's feature selection and the training service's pruning alike.

A constant column says nothing: F 0, p 1. A column constant within each class separates the classes
perfectly (a feature that is the label, i.e. a leak, or a genuinely decisive one): its
within-class variance is 0, and floating-point cancellation leaves it a hair either side, so
scikit-learn's f_classif says F < 0 or nan and p nan. That is F = inf, p = 0: it ranks first and is
never dropped (a filter that mapped it to p = 1 would hide the very leak the sentinels look for).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import f_classif, f_regression


def univariate_tests(X, y, task: str = "classification") -> tuple[np.ndarray, np.ndarray]:
    """(F statistic, p-value) of each column of X against y: f_classif for a classification task,
    f_regression for a regression one, with the constant and perfect-separation rules above.
    X must hold no NaN (impute first)."""
    X = np.asarray(X, dtype="float64")
    y = np.asarray(y, dtype="float64")
    varying = np.ptp(X, axis=0) > 0 if len(X) else np.zeros(X.shape[1], dtype=bool)
    f_stat, p = np.zeros(X.shape[1]), np.ones(X.shape[1])
    if varying.any():
        test = f_regression if task == "regression" else f_classif
        with np.errstate(divide="ignore", invalid="ignore"):
            f_stat[varying], p[varying] = test(X[:, varying], y)
    perfect = varying & ((f_stat < 0) | np.isnan(f_stat) | np.isposinf(f_stat))
    f_stat[perfect], p[perfect] = np.inf, 0.0
    return f_stat, np.where(np.isfinite(p), p, 1.0)


class PValuePruner(TransformerMixin, BaseEstimator):
    """Keep the columns whose univariate F-test p-value against the target is below `threshold`
    (regression: f_regression, classification: f_classif); keep the best one if none is.
    `threshold=None` keeps every column."""

    def __init__(self, threshold: float | None = 0.05, task: str = "regression"):
        self.threshold = threshold
        self.task = task

    def fit(self, X, y):
        X = np.asarray(X, dtype="float64")
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        if self.threshold is None:
            self.pvalues_ = np.zeros(X.shape[1])
            self.support_ = np.ones(X.shape[1], dtype=bool)
            return self
        _, p = univariate_tests(X, y, self.task)
        self.pvalues_ = p
        self.support_ = p < self.threshold
        if not self.support_.any():
            self.support_[int(np.argmin(p))] = True
        return self

    def transform(self, X):
        return np.asarray(X, dtype="float64")[:, self.support_]

    def get_feature_names_out(self, input_features=None):
        names = np.asarray(input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        return names[self.support_]
