"""The LightGBM models the project fits.

Every stage (selection, tuning, the production model, its holdout score, the leakage sentinel,
SHAP and later the training service's zoo) fits models only through `fit` below or the scoring
engine in `evaluation`, which call `fit(X, y, sample_weight)` / `predict_proba(X)`. LightGBM adds
one fast path, `fit_binned`: a training set binned once (an `lgb.Dataset`) is reused by every
candidate and trial fitted on it.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.class_weight import class_weighted, undo_class_weight
from tb_assets.core.modeling.estimators.contract import BinaryFromProbability, as_matrix
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.storage.urls import as_path

DATASET_PARAMS = {"feature_pre_filter": False, "max_bin": 255, "verbose": -1}


def lgb_params(params: dict, *, seed: int = 0, threads: int = 1, objective: str = "binary") -> dict:
    """Our search-space names in LightGBM's own terms; num_leaves capped at 2^max_depth."""
    out = {
        "objective": objective,
        "max_depth": int(params["max_depth"]),
        "num_leaves": int(min(params["num_leaves"], 2 ** int(params["max_depth"]))),
        "min_data_in_leaf": int(params["min_child_samples"]),
        "learning_rate": float(params["learning_rate"]),
        "lambda_l1": float(params["reg_alpha"]),
        "lambda_l2": float(params["reg_lambda"]),
        "bagging_fraction": float(params["subsample"]),
        "bagging_freq": 1,
        "feature_fraction": float(params["colsample_bytree"]),
        "seed": seed,
        "deterministic": True,  # the same numbers whatever the thread count
        "force_row_wise": True,
        "num_threads": threads,
        "verbose": -1,
    }
    return out


def bin_rows(X, y, sample_weight=None, threads: int = 1) -> lgb.Dataset:
    """A training set binned once; `LightGBMClassifier.fit_binned` reuses it across fits.

    `threads` is the thread count of the fits that use it: every LightGBM call carries an explicit
    one (LightGBM keeps thread counts in process-wide state; see predict_proba)."""
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else "auto"  # names only: the model file says what it uses
    ds = lgb.Dataset(
        as_matrix(X),
        label=np.asarray(y),
        weight=sample_weight,
        feature_name=names,
        params={**DATASET_PARAMS, "num_threads": threads},
        free_raw_data=False,
    )
    return ds.construct()


def bin_validation(X, y, sample_weight, reference: lgb.Dataset) -> lgb.Dataset:
    """A validation set binned with `reference`'s bins (early stopping evaluates on it)."""
    params = {**DATASET_PARAMS, "num_threads": reference.params.get("num_threads", 1)} if reference.params else DATASET_PARAMS
    return lgb.Dataset(
        as_matrix(X), label=np.asarray(y), weight=sample_weight, reference=reference, params=params, free_raw_data=False
    ).construct()


class _LightGBMModel(BaseEstimator):
    """LightGBM in the project's parameter names (max_depth, num_leaves, min_child_samples,
    learning_rate, n_estimators, reg_alpha, reg_lambda, subsample, colsample_bytree), deterministic,
    with an explicit thread count. Keys missing from `params` take DEFAULT_PARAMS; extra keys (e.g.
    'source') are ignored."""

    OBJECTIVE = "binary"

    def __init__(self, params: dict | None = None, seed: int = 0, threads: int = 1, scale_pos_weight: float | None = None):
        self.params = params
        self.seed = seed
        self.threads = threads
        self.scale_pos_weight = scale_pos_weight

    bin_rows = staticmethod(bin_rows)  # what `fit_binned` takes (evaluation.Folds caches one per fold)

    @property
    def folded_positive_weight(self) -> float | None:
        """What the positives' sample weights must be multiplied by in a binned set this model fits
        (`evaluation.Folds` folds it in; `fit` does it itself): the class balance, as sample weights."""
        return self.scale_pos_weight

    def fit(self, X, y, sample_weight=None):
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        weight = class_weighted(y, sample_weight, self.scale_pos_weight)
        return self.fit_binned(bin_rows(X, y, weight, threads=self.threads))

    def fit_binned(self, dataset: lgb.Dataset):
        """Fit on a binned set whose weights already carry `folded_positive_weight`."""
        params = {**DEFAULT_PARAMS, **(self.params or {})}
        self.booster_ = lgb.train(
            lgb_params(params, seed=self.seed, threads=self.threads, objective=self.OBJECTIVE),
            dataset,
            num_boost_round=int(params["n_estimators"]),
        )
        self._fitted()
        return self

    def fit_early_stopped(self, dataset: lgb.Dataset, validation: lgb.Dataset, rule):
        """Boost up to n_estimators rounds, stopping when the (weighted) loss on `validation` has not
        improved for `rule.rounds(n_estimators)` rounds; the booster keeps the best round
        (`best_iteration_`), and predicts and saves with it."""
        params = {**DEFAULT_PARAMS, **(self.params or {})}
        rounds = int(params["n_estimators"])
        train_params = lgb_params(params, seed=self.seed, threads=self.threads, objective=self.OBJECTIVE)
        self.booster_ = lgb.train(
            {**train_params, "metric": "binary_logloss" if self.OBJECTIVE == "binary" else "l2"},
            dataset,
            num_boost_round=rounds,
            valid_sets=[validation],
            callbacks=[lgb.early_stopping(rule.rounds(rounds), first_metric_only=True, verbose=False)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or rounds)
        self._fitted()
        return self

    def _fitted(self) -> None:
        self.n_features_in_ = self.booster_.num_feature()

    @classmethod
    def from_model_file(cls, path, threads: int = 1, **kwargs):
        """A fitted model around a booster saved in LightGBM's text format (`kwargs`: what the file
        cannot say, e.g. the classifier's scale_pos_weight, kept in the model card)."""
        model = cls(threads=threads, **kwargs)
        text = as_path(path).read_text(errors="replace")  # a local file or an fsspec URL
        # LightGBM aborts the whole process (SIGABRT, no message) on some malformed files: a file that
        # is not a whole model in its text format (cut short: its last block is missing) is refused
        # here, naming it; a byte changed inside is what the model card's SHA-256 catches first
        lines = text.rstrip("\n").splitlines()
        whole = text.startswith("tree\n") and "\nend of trees" in text and "\nend of parameters" in text
        if not whole or not lines[-1].startswith("pandas_categorical:"):
            raise TbError(f"{path} is not a LightGBM model in its text format (cut short or corrupted): train it again")
        try:
            model.booster_ = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise TbError(f"{path} is not a readable LightGBM model ({exc}): train it again") from None
        model._fitted()
        model.feature_names_in_ = np.asarray(model.booster_.feature_name(), dtype=object)
        return model

    def raw_score(self, X) -> np.ndarray:
        """The margin (log-odds for a classifier) before the link: what SHAP values add up to."""
        return self.booster_.predict(as_matrix(X), raw_score=True, num_threads=self.threads)

    def _predict(self, X) -> np.ndarray:
        # LightGBM's predict takes its thread count from this call only, never from the booster:
        # left out, it predicts at OpenMP's default while a fit in another thread runs at `threads`,
        # which crashed parallel forward selection (SIGSEGV); its own sklearn wrapper passes it too
        return self.booster_.predict(as_matrix(X), num_threads=self.threads)


class LightGBMClassifier(BinaryFromProbability, ClassifierMixin, _LightGBMModel):
    """Binary LightGBM classifier (see _LightGBMModel). With scale_pos_weight the positives' sample
    weights are multiplied by it (`class_weighted`: boosting then starts from the weighted rate) and
    its probabilities are corrected for the weighting (`undo_class_weight`), so Brier scores and
    calibration are of P(class 1), not of the re-weighted problem. A model file cannot hold the
    weight: the model card keeps it, and `from_model_file(path, scale_pos_weight=...)` takes it."""

    def _fitted(self) -> None:
        super()._fitted()
        self.classes_ = np.array([0, 1])

    @property
    def positive_weight_(self) -> float:
        """The weight the positives were trained with (1: none)."""
        return float(self.scale_pos_weight or 1.0)

    def _predict(self, X) -> np.ndarray:
        if self.positive_weight_ == 1.0:
            return super()._predict(X)
        return undo_class_weight(self.raw_score(X), self.positive_weight_)


class LightGBMRegressor(RegressorMixin, _LightGBMModel):
    """LightGBM regression on squared error (see _LightGBMModel)."""

    OBJECTIVE = "regression"

    def predict(self, X) -> np.ndarray:
        return self._predict(X)
