"""One estimator contract, scikit-learn's: `fit(X, y, sample_weight)` / `predict_proba(X)`, and the
one way a final model is fitted (folds go through `evaluation.score_folds`)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd


class Estimator(Protocol):
    """scikit-learn's contract: what every model of the project offers."""

    def fit(self, X, y, sample_weight=None): ...

    def predict_proba(self, X) -> np.ndarray: ...


def as_matrix(X) -> np.ndarray:
    return np.asarray(X.to_numpy("float64") if isinstance(X, pd.DataFrame) else X, dtype="float64")


class BinaryFromProbability:
    """predict_proba and predict of a binary classifier whose `_predict(X)` is P(class 1)."""

    def predict_proba(self, X) -> np.ndarray:
        p = self._predict(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype("int64")


def fit(estimator: Estimator, X, y, sample_weight=None) -> Estimator:
    """The one way a final model is fitted (folds go through `evaluation.score_folds`)."""
    return estimator.fit(X, y, sample_weight=sample_weight)


def native_model_file(estimator) -> tuple[str, bytes] | None:
    """(file name, bytes) of a fitted booster in its library's own format, or None."""
    booster = getattr(estimator, "booster_", None)
    if booster is None:
        return None
    if hasattr(booster, "model_to_string"):  # LightGBM
        return "model.txt", booster.model_to_string().encode()
    return "model.ubj", bytes(booster.save_raw("ubj"))  # XGBoost's binary JSON
