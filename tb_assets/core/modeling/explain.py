"""SHAP explanations of any fitted model, and the tables a reader ranks features by.

`explain` dispatches on the model:
- tree boosters (LightGBM, XGBoost): exact TreeSHAP from the booster itself (`pred_contrib` /
  `pred_contribs`, which is what shap.TreeExplainer calls for them anyway); the bias column is
  the base value and the values add up to the raw margin. shap's interventional mode is never
  used (wrong base values on XGBoost >= 3.1 multiclass, with additivity still passing);
- scikit-learn random forests: exact path-dependent TreeSHAP by shap.TreeExplainer, adding up to
  the class-1 probability (a classifier) or the prediction (a regressor);
- linear models (a `coef_`): `shap.LinearExplainer` on a background sample;
- anything else: `shap.PermutationExplainer` of the class-1 probability (or the prediction) on a
  background sample.
Every explanation carries the model output its values must add up to (`margin`).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.contract import as_matrix


@dataclass
class Explanation:
    values: np.ndarray  # (rows, features): each feature's contribution
    base_value: np.ndarray  # (rows,): the model's output with no feature known
    margin: np.ndarray  # (rows,): the output the contributions explain (raw score for trees)
    kind: str  # 'tree', 'linear' or 'permutation'

    def additivity_error(self) -> np.ndarray:
        """|sum of contributions + base value - margin| per row: 0 up to float rounding when exact."""
        return np.abs(self.values.sum(axis=1) + self.base_value - self.margin)


def _lightgbm_booster(model) -> lgb.Booster | None:
    if isinstance(model, lgb.Booster):
        return model
    booster = getattr(model, "booster_", None)
    return booster if isinstance(booster, lgb.Booster) else None


def _xgboost_booster(model):
    try:
        import xgboost as xgb
    except ImportError:  # pragma: no cover - xgboost is a dependency
        return None
    if isinstance(model, xgb.Booster):
        return model
    if isinstance(model, xgb.XGBModel):
        return model.get_booster()
    booster = getattr(model, "booster_", None)  # the training service's XGBoost estimators
    return booster if isinstance(booster, xgb.Booster) else None


def _is_sklearn_forest(model) -> bool:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    return isinstance(model, (RandomForestClassifier, RandomForestRegressor))


def tree_shap_forest(model, X) -> Explanation:
    import shap

    x = as_matrix(X)
    explainer = shap.TreeExplainer(model)  # path-dependent (the trees' own cover): no background, exact
    values = np.asarray(explainer.shap_values(x, check_additivity=False), dtype="float64")
    base = np.ravel(explainer.expected_value).astype("float64")
    if values.ndim == 3:  # a classifier: one slice per class, class 1 explained
        values, base, margin = values[:, :, 1], base[1], model.predict_proba(x)[:, 1]
    else:
        base, margin = base[0], model.predict(x)
    return Explanation(values, np.full(len(x), float(base)), np.asarray(margin, dtype="float64"), "tree")


def _lightgbm_predict(booster: lgb.Booster, x: np.ndarray, threads: int, **kwargs) -> np.ndarray:
    # always explicit: LightGBM's predict ignores the booster's num_threads (see models.predict_proba)
    return booster.predict(x, num_threads=threads, **kwargs)


def tree_shap_lightgbm(booster: lgb.Booster, X, threads: int = 1) -> Explanation:
    x = as_matrix(X)
    contrib = _lightgbm_predict(booster, x, threads, pred_contrib=True)
    if contrib.shape[1] != x.shape[1] + 1:
        raise TbError(
            f"LightGBM returned {contrib.shape[1]} contribution columns for {x.shape[1]} features: "
            "only binary and regression models are explained"
        )
    margin = _lightgbm_predict(booster, x, threads, raw_score=True)
    return Explanation(contrib[:, :-1], contrib[:, -1], margin, "tree")


def tree_shap_xgboost(booster, X, threads: int = 1) -> Explanation:
    import xgboost as xgb

    booster = booster.copy()
    booster.set_param({"nthread": threads})
    dm = xgb.DMatrix(X if isinstance(X, pd.DataFrame) else as_matrix(X))  # a DataFrame keeps the names the booster expects
    contrib = booster.predict(dm, pred_contribs=True)
    if contrib.ndim != 2:
        raise TbError("XGBoost returned multiclass contributions: only binary and regression models are explained")
    margin = booster.predict(dm, output_margin=True)
    return Explanation(contrib[:, :-1].astype("float64"), contrib[:, -1].astype("float64"), margin.astype("float64"), "tree")


def _model_output(model, columns):
    """What a non-tree explanation explains: the class-1 probability of a classifier, else the
    prediction; shap passes arrays, the model gets the column names it was fitted with."""
    named = (lambda x: pd.DataFrame(x, columns=columns)) if columns is not None else (lambda x: x)
    if hasattr(model, "predict_proba"):
        return lambda x: model.predict_proba(named(x))[:, 1]
    return lambda x: model.predict(named(x))


def explain(model, X, background=None, *, threads: int = 1, seed: int = 0) -> Explanation:
    """SHAP values of `model` on the rows of `X` (see the module docstring for the dispatch).
    `background` (rows the model could have seen) is needed by the linear and permutation paths."""
    booster = _lightgbm_booster(model)
    if booster is not None:
        return tree_shap_lightgbm(booster, X, threads)
    booster = _xgboost_booster(model)
    if booster is not None:
        return tree_shap_xgboost(booster, X, threads)
    if _is_sklearn_forest(model):
        return tree_shap_forest(model, X)
    import shap

    if background is None:
        raise TbError(f"explaining a {type(model).__name__} needs background rows")
    x, bg = as_matrix(X), as_matrix(background)
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
    masker = shap.maskers.Independent(bg, max_samples=len(bg))  # the whole background, not shap's 100-row sample
    if hasattr(model, "coef_") and hasattr(model, "intercept_"):
        explainer = shap.LinearExplainer(model, masker)
        values = np.asarray(explainer.shap_values(x), dtype="float64").reshape(x.shape)
        base = float(np.ravel(explainer.expected_value)[0])
        margin = model.decision_function(X) if hasattr(model, "decision_function") else model.predict(X)
        return Explanation(values, np.full(len(x), base), np.asarray(margin, dtype="float64").ravel(), "linear")
    f = _model_output(model, columns)
    explainer = shap.PermutationExplainer(f, masker, seed=seed)
    result = explainer(x, max_evals=max(2 * x.shape[1] + 1, 100), silent=True)
    return Explanation(
        np.asarray(result.values, dtype="float64"),
        np.asarray(result.base_values, dtype="float64").ravel(),
        np.asarray(f(x), dtype="float64"),
        "permutation",
    )


def explain_rows(n_events: int, development: np.ndarray, holdout: np.ndarray, *, n_explain: int, max_rows: int) -> np.ndarray:
    """Positions to explain, in time order: the holdout events plus the last `n_explain`
    development events, at most `max_rows` in all (the most recent are kept)."""
    if max_rows < 1:
        raise TbError(f"max_rows must be at least 1, got {max_rows}")
    dev = np.asarray(development)[len(development) - min(max(n_explain, 0), len(development)) :]
    rows = np.union1d(dev, np.asarray(holdout)) if len(holdout) else dev
    if not len(rows):
        rows = np.arange(max(0, n_events - max_rows), n_events)
    return rows[-max_rows:]


def shap_summary(values: np.ndarray, features: list[str], gain: pd.Series | None = None) -> pd.DataFrame:
    """feature, mean |SHAP|, mean SHAP, share of the total mean |SHAP|, rank (1 = most important),
    and the model's own gain rank beside it (when given)."""
    mean_abs = np.abs(values).mean(axis=0)
    total = mean_abs.sum()
    table = pd.DataFrame(
        {
            "feature": features,
            "mean_abs_shap": mean_abs,
            "mean_shap": values.mean(axis=0),
            "share": mean_abs / total if total > 0 else np.zeros(len(features)),
        }
    )
    table["rank"] = table["mean_abs_shap"].rank(ascending=False, method="first").astype("int64")
    if gain is not None:
        table["gain_rank"] = table["feature"].map(gain.rank(ascending=False, method="first")).astype("Int64")
    return table.sort_values("rank").reset_index(drop=True)


def regime_importance(values: np.ndarray, features: list[str], regimes: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP| of each feature within each value of each regime column (rows aligned with
    `values`); rows whose regime is unknown (NaN) are left out of that regime's table."""
    out = []
    abs_values = np.abs(values)
    for column in regimes.columns:
        regime = regimes[column].to_numpy("float64")
        for value in np.unique(regime[np.isfinite(regime)]):
            rows = regime == value
            mean_abs = abs_values[rows].mean(axis=0)
            total = mean_abs.sum()
            for name, v in zip(features, mean_abs):
                out.append(
                    {
                        "regime": column,
                        "value": value,
                        "rows": int(rows.sum()),
                        "feature": name,
                        "mean_abs_shap": float(v),
                        "share": float(v / total) if total > 0 else 0.0,
                    }
                )
    return pd.DataFrame(out, columns=["regime", "value", "rows", "feature", "mean_abs_shap", "share"])


def ranking_stability(current: dict[str, float], previous: dict[str, float], top: int = 10) -> tuple[float, float]:
    """(share of the current top-`top` features also in the previous top-`top`, Spearman rank
    correlation of mean |SHAP| over the features both have; nan when fewer than 3 shared)."""
    from scipy.stats import spearmanr

    def top_of(d):
        return set(sorted(d, key=d.get, reverse=True)[:top])

    a, b = top_of(current), top_of(previous)
    overlap = len(a & b) / max(1, min(len(a), len(b)))
    common = sorted(set(current) & set(previous))
    rho = float(spearmanr([current[f] for f in common], [previous[f] for f in common])[0]) if len(common) >= 3 else float("nan")
    return overlap, rho
