"""The algorithm zoo: nine estimators behind scikit-learn's contract, made from a grid's params.

Each algorithm says its task (regression on forward returns, classification on direction or the
triple-barrier bin), whether it is linear (one-hot regimes, coefficients) and how its fitted
estimator is saved natively. LightGBM and XGBoost fit from data binned once per fold
(`fit_binned`, evaluation.Folds), so a grid re-bins nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.models import BinaryFromProbability, LightGBMClassifier, LightGBMRegressor, as_matrix, undo_class_weight

XGB_MAX_BIN = 256


def xgb_bin_rows(X, y, sample_weight=None, threads: int = 1):
    """A training set quantised once (XGBoost's hist method): `fit_binned` reuses it across fits."""
    import xgboost as xgb

    return xgb.QuantileDMatrix(as_matrix(X), label=np.asarray(y, dtype="float64"), weight=sample_weight,
                               max_bin=XGB_MAX_BIN, nthread=threads)


class _XGBoostModel(BaseEstimator):
    """XGBoost (hist) in scikit-learn's contract, trained with xgb.train on a QuantileDMatrix.
    params: n_estimators, learning_rate, max_depth, min_child_weight, subsample, colsample_bytree,
    reg_alpha, reg_lambda, gamma (XGBoost's own names)."""

    OBJECTIVE = "binary:logistic"
    bin_rows = staticmethod(xgb_bin_rows)

    def __init__(self, params: dict | None = None, seed: int = 0, threads: int = 1):
        self.params = params
        self.seed = seed
        self.threads = threads

    def _train_params(self) -> tuple[dict, int]:
        params = dict(self.params or {})
        rounds = int(params.pop("n_estimators", 100))
        renamed = {"learning_rate": "eta", "reg_alpha": "alpha", "reg_lambda": "lambda"}
        out = {renamed.get(k, k): v for k, v in params.items()}
        out.update(objective=self.OBJECTIVE, tree_method="hist", max_bin=XGB_MAX_BIN, seed=self.seed, nthread=self.threads,
                   verbosity=0)
        return out, rounds

    def fit(self, X, y, sample_weight=None):
        return self.fit_binned(xgb_bin_rows(X, y, sample_weight, self.threads))

    def fit_binned(self, dmatrix):
        import xgboost as xgb

        params, rounds = self._train_params()
        self.booster_ = xgb.train(params, dmatrix, num_boost_round=rounds)
        self.n_features_in_ = self.booster_.num_features()
        return self

    def _predict(self, X) -> np.ndarray:
        """The objective's output: P(class 1) for the classifier, the value for the regressor."""
        self.booster_.set_param({"nthread": self.threads})
        return np.asarray(self.booster_.inplace_predict(as_matrix(X)), dtype="float64")

    @property
    def feature_importances_(self) -> np.ndarray:
        gain = self.booster_.get_score(importance_type="total_gain")
        return np.array([gain.get(f"f{i}", 0.0) for i in range(self.n_features_in_)])


class XGBoostClassifier(BinaryFromProbability, ClassifierMixin, _XGBoostModel):
    """With scale_pos_weight in its params, probabilities are corrected for the class weighting
    (models.undo_class_weight), as LightGBM's are."""

    OBJECTIVE = "binary:logistic"

    def fit_binned(self, dmatrix):
        super().fit_binned(dmatrix)
        self.classes_ = np.array([0, 1])
        return self

    def _predict(self, X) -> np.ndarray:
        weight = float((self.params or {}).get("scale_pos_weight", 1.0) or 1.0)
        if weight == 1.0:
            return super()._predict(X)
        self.booster_.set_param({"nthread": self.threads})
        margin = self.booster_.inplace_predict(as_matrix(X), predict_type="margin")
        return undo_class_weight(margin, weight)


class XGBoostRegressor(RegressorMixin, _XGBoostModel):
    OBJECTIVE = "reg:squarederror"

    def predict(self, X) -> np.ndarray:
        return self._predict(X)


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


@dataclass(frozen=True)
class Algorithm:
    name: str
    task: str  # 'regression' or 'classification'
    linear: bool  # one-hot regimes, coefficients as importance
    make: Callable[[dict, int, int], BaseEstimator]  # (params, seed, threads) -> unfitted estimator
    native: str | None = None  # 'lightgbm' or 'xgboost': also saved in the library's own format


def _forest(cls):
    def make(params: dict, seed: int, threads: int):
        return cls(**params, n_jobs=threads, random_state=seed)

    return make


def _linear_regression(params: dict, seed: int, threads: int):
    from sklearn.linear_model import LinearRegression

    return LinearRegression(**params)


def _logistic(params: dict, seed: int, threads: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{"max_iter": 2000, **params}, random_state=seed)


def _rf_regressor(params, seed, threads):
    from sklearn.ensemble import RandomForestRegressor

    return _forest(RandomForestRegressor)(params, seed, threads)


def _rf_classifier(params, seed, threads):
    from sklearn.ensemble import RandomForestClassifier

    return _forest(RandomForestClassifier)(params, seed, threads)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("linear_regression", "regression", True, _linear_regression),
        Algorithm("elasticnet_regression", "regression", True, lambda p, seed, threads: ElasticNetOrOLS(**p)),
        Algorithm("random_forest_regressor", "regression", False, _rf_regressor),
        Algorithm("xgboost_regressor", "regression", False, lambda p, seed, threads: XGBoostRegressor(p, seed, threads), "xgboost"),
        Algorithm("lightgbm_regressor", "regression", False, lambda p, seed, threads: LightGBMRegressor(p, seed, threads), "lightgbm"),
        Algorithm("logistic_classification", "classification", True, _logistic),
        Algorithm("random_forest_classifier", "classification", False, _rf_classifier),
        Algorithm("xgboost_classifier", "classification", False, lambda p, seed, threads: XGBoostClassifier(p, seed, threads), "xgboost"),
        Algorithm("lightgbm_classifier", "classification", False, lambda p, seed, threads: LightGBMClassifier(p, seed, threads),
                  "lightgbm"),
    )
}


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise TbError(f"unknown algorithm {name!r}: choose from {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def native_model_file(estimator) -> tuple[str, bytes] | None:
    """(file name, bytes) of a fitted booster in its library's own format, or None."""
    booster = getattr(estimator, "booster_", None)
    if booster is None:
        return None
    if hasattr(booster, "model_to_string"):  # LightGBM
        return "model.txt", booster.model_to_string().encode()
    return "model.ubj", bytes(booster.save_raw("ubj"))  # XGBoost's binary JSON
