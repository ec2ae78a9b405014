"""The algorithm zoo: nine estimators behind scikit-learn's contract, made from a grid's params.

Each algorithm says its task (regression on forward returns, classification on direction or the
triple-barrier bin), whether it is linear (one-hot regimes, coefficients) and how its fitted
estimator is saved natively. LightGBM and XGBoost fit from data binned once per fold
(`fit_binned`, evaluation.Folds), so a grid re-bins nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sklearn.base import BaseEstimator

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier, LightGBMRegressor
from tb_assets.core.modeling.estimators.linear import ElasticNetOrOLS
from tb_assets.core.modeling.estimators.xgboost import XGBoostClassifier, XGBoostRegressor


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
        Algorithm(
            "lightgbm_classifier", "classification", False, lambda p, seed, threads: LightGBMClassifier(p, seed, threads), "lightgbm"
        ),
    )
}


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise TbError(f"unknown algorithm {name!r}: choose from {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]
