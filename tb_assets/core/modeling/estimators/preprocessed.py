"""Preprocessing and a model as one estimator of the project's contract.

A scikit-learn Pipeline routes a sample weight only as `<step>__sample_weight`; the scoring
engine and `contract.fit` call `fit(X, y, sample_weight=...)` on every estimator. This Pipeline
takes that call and hands the weight to its last step, so preprocessing (fitted on the training
rows it is given, labels included: the p-value filter) and a weighted model fit through the one
engine like any other estimator: inside each fold for the sentinel, on all rows for a saved model.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline


class Preprocessed(Pipeline):
    """Pipeline([("preprocess", transformer), ("model", estimator)]) with fit(X, y, sample_weight)."""

    def fit(self, X, y=None, sample_weight=None, **params):
        if sample_weight is not None:
            params[f"{self.steps[-1][0]}__sample_weight"] = sample_weight
        return super().fit(X, y, **params)


def preprocessed(preprocessor, model) -> Preprocessed:
    return Preprocessed([("preprocess", preprocessor), ("model", model)])
