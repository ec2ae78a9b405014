"""What a model leans on, per input feature: |coefficients|, tree importance, permutation
importance and mean |SHAP|. The one permutation importance of the project: the training
service's saved models and the production model's holdout (shap_report) both use it.

Preprocessing (training/preprocess) is row-wise with fitted constants (fill values, scales,
one-hot categories, the kept columns), so shuffling an input feature's rows is exactly shuffling
the rows of the output columns made from it: permutation importance shuffles those, and runs the
preprocessing once instead of once per shuffle. A feature the pruning dropped moves nothing: 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from tb_assets.core.modeling.evaluation import predicted


def columns_of(feature_of: np.ndarray, features: list[str]) -> dict[str, np.ndarray]:
    """feature -> positions of the output columns made from it (empty when pruned)."""
    return {f: np.flatnonzero(feature_of == f) for f in features}


def per_feature(values: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Sum of |values| over each feature's output columns (0 for a pruned feature)."""
    return np.array([np.abs(values[c]).sum() for c in columns.values()])


def permutation_importance(
    model,
    transformed: np.ndarray,
    y: np.ndarray,
    columns: dict[str, np.ndarray] | None,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    n_repeats: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) over `n_repeats` shuffles of the drop in `metric` when each feature's columns are
    shuffled together, on rows already preprocessed (see the module docstring). `columns` None:
    every column is its own feature."""
    transformed = np.asarray(transformed, dtype="float64")
    if columns is None:
        columns = {j: np.array([j]) for j in range(transformed.shape[1])}
    rng = np.random.default_rng(seed)
    base = metric(y, predicted(model, transformed))
    means, stds = [], []
    for cols in columns.values():
        if not len(cols):
            means.append(0.0)
            stds.append(0.0)
            continue
        drops = []
        for _ in range(n_repeats):
            shuffled = transformed.copy()
            shuffled[:, cols] = transformed[rng.permutation(len(transformed))][:, cols]
            drops.append(base - metric(y, predicted(model, shuffled)))
        means.append(float(np.mean(drops)))
        stds.append(float(np.std(drops)))
    return np.array(means), np.array(stds)


def tree_importance(estimator) -> np.ndarray | None:
    """Gain for LightGBM, total gain for the zoo's XGBoost, impurity decrease for forests; None for others."""
    booster = getattr(estimator, "booster_", None)
    if booster is not None and hasattr(booster, "feature_importance"):  # LightGBM
        return booster.feature_importance("gain").astype("float64")
    values = getattr(estimator, "feature_importances_", None)
    return None if values is None else np.asarray(values, dtype="float64")


def shap_by_feature(
    estimator, rows: np.ndarray, background: np.ndarray, columns: dict[str, np.ndarray], *, threads: int, seed: int
) -> tuple[np.ndarray, str]:
    """SHAP values per input feature (its output columns' values summed: SHAP is additive) and the
    explainer used (tree / linear / permutation, see core.modeling.explain)."""
    from tb_assets.core.modeling.explain import explain

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's own notices about maskers and feature names
        explanation = explain(estimator, rows, background, threads=threads, seed=seed)
    values = np.column_stack([explanation.values[:, c].sum(axis=1) for c in columns.values()])
    return values, explanation.kind


def importance_table(
    features: list[str],
    *,
    coefficients: np.ndarray | None,
    tree: np.ndarray | None,
    permutation: tuple[np.ndarray, np.ndarray],
    shap_values: np.ndarray,
    explainer: str,
    columns: dict[str, np.ndarray],
) -> pd.DataFrame:
    table = pd.DataFrame({"feature": features})
    if coefficients is not None:
        table["abs_coefficient"] = per_feature(np.ravel(coefficients), columns)
    if tree is not None:
        table["tree_importance"] = per_feature(tree, columns)
    table["permutation_mean"], table["permutation_std"] = permutation
    table["mean_abs_shap"] = np.abs(shap_values).mean(axis=0)
    table["shap_explainer"] = explainer
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def permutation_table(
    model, X: pd.DataFrame, y: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float], *, n_repeats: int, seed: int
) -> pd.DataFrame:
    """feature, drop_mean, drop_std: `permutation_importance` with each column its own feature,
    the largest drop first."""
    mean, std = permutation_importance(model, X.to_numpy("float64"), np.asarray(y), None, metric, n_repeats=n_repeats, seed=seed)
    table = pd.DataFrame({"feature": list(X.columns), "drop_mean": mean, "drop_std": std})
    return table.sort_values("drop_mean", ascending=False, kind="stable").reset_index(drop=True)
