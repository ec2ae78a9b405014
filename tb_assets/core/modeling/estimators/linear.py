"""Linear models that still say something on weak return signals."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class ElasticNetOrOLS(RegressorMixin, BaseEstimator):
    """ElasticNet; when it zeroes every coefficient (common on weak return signals), ordinary least
    squares instead, so the model still says something; `fallback_` records it ('ols' or None)."""

    def __init__(self, alpha: float = 1.0, l1_ratio: float = 0.5, max_iter: int = 5000):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter

    def fit(self, X, y, sample_weight=None):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import ElasticNet, LinearRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a capped solve is still a model; the score judges it
            model = ElasticNet(alpha=self.alpha, l1_ratio=self.l1_ratio, max_iter=self.max_iter).fit(X, y, sample_weight=sample_weight)
        self.fallback_ = None
        if not np.any(model.coef_):
            model = LinearRegression().fit(X, y, sample_weight=sample_weight)
            self.fallback_ = "ols"
        self.model_ = model
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        self.n_features_in_ = model.n_features_in_
        return self

    def predict(self, X) -> np.ndarray:
        return self.model_.predict(X)
