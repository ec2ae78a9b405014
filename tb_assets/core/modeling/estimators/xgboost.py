"""XGBoost (hist) in scikit-learn's contract, trained from a training set quantised once per fold."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from tb_assets.core.modeling.estimators.class_weight import undo_class_weight
from tb_assets.core.modeling.estimators.contract import BinaryFromProbability, as_matrix

XGB_MAX_BIN = 256


def xgb_bin_rows(X, y, sample_weight=None, threads: int = 1):
    """A training set quantised once (XGBoost's hist method): `fit_binned` reuses it across fits."""
    import xgboost as xgb

    return xgb.QuantileDMatrix(
        as_matrix(X), label=np.asarray(y, dtype="float64"), weight=sample_weight, max_bin=XGB_MAX_BIN, nthread=threads
    )


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
        out.update(objective=self.OBJECTIVE, tree_method="hist", max_bin=XGB_MAX_BIN, seed=self.seed, nthread=self.threads, verbosity=0)
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
