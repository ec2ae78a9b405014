"""Grids of the zoo and the fingerprint that makes a trained combination findable again.

Presets: `quick` (the default: a few combinations per algorithm, minutes on a laptop) and `full`
(the origin's grids: ElasticNet 8 alphas x 7 l1 ratios, XGBoost / LightGBM / random forest 5-D
grids of 17-19k combinations). A grid given explicitly replaces the preset of its algorithm.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping

import numpy as np

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.params import DEFAULT_PARAMS

Grid = dict[str, list]

_ENET_ALPHAS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
ADAPTIVE_CORRELATION = 0.05  # below this strongest |correlation|, ElasticNet's alphas shrink...
ADAPTIVE_ALPHA_SCALE = 0.01  # ...by this factor: weak return signals are zeroed by the usual alphas

_RF_FULL: Grid = {
    "n_estimators": [50, 100, 200, 300, 500, 750, 1000],
    "max_depth": [3, 5, 7, 10, 15, 20, None],
    "min_samples_split": [2, 5, 10, 20, 50, 100, 200],
    "min_samples_leaf": [1, 2, 5, 10, 20, 50, 100],
    "max_features": ["sqrt", "log2", 0.2, 0.3, 0.5, 0.7, 1.0],
}
_XGB_FULL: Grid = {
    "n_estimators": [50, 100, 200, 300, 500, 750, 1000],
    "learning_rate": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3],
    "max_depth": [2, 3, 4, 5, 6, 8, 10],
    "subsample": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0],
    "colsample_bytree": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
}
_LGB_FULL: Grid = {
    "n_estimators": [50, 100, 200, 300, 500, 750, 1000],
    "learning_rate": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3],
    "num_leaves": [7, 15, 31, 63, 127, 255, 511],
    "max_depth": [2, 3, 4, 5, 6, 8, 10],
    "min_child_samples": [5, 10, 20, 50, 100, 200, 500],
}
_RF_QUICK: Grid = {"n_estimators": [100], "max_depth": [4, 8], "min_samples_leaf": [20], "max_features": ["sqrt"]}
_XGB_QUICK: Grid = {"n_estimators": [100], "learning_rate": [0.05], "max_depth": [3, 5], "subsample": [0.8], "colsample_bytree": [0.8]}
_LGB_QUICK: Grid = {"n_estimators": [100], "learning_rate": [0.05], "num_leaves": [15], "max_depth": [3, 5], "min_child_samples": [50]}

PRESETS: dict[str, dict[str, Grid]] = {
    "quick": {
        "linear_regression": {},
        "elasticnet_regression": {"alpha": [1e-3, 1e-2], "l1_ratio": [0.2, 0.8]},
        "random_forest_regressor": _RF_QUICK,
        "xgboost_regressor": _XGB_QUICK,
        "lightgbm_regressor": _LGB_QUICK,
        "logistic_classification": {"C": [0.01, 0.1, 1.0]},
        "random_forest_classifier": _RF_QUICK,
        "xgboost_classifier": _XGB_QUICK,
        "lightgbm_classifier": _LGB_QUICK,
    },
    "full": {
        "linear_regression": {},
        "elasticnet_regression": {"alpha": _ENET_ALPHAS, "l1_ratio": [0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]},
        "random_forest_regressor": _RF_FULL,
        "xgboost_regressor": _XGB_FULL,
        "lightgbm_regressor": _LGB_FULL,
        "logistic_classification": {"C": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0], "class_weight": [None, "balanced"]},
        "random_forest_classifier": _RF_FULL,
        "xgboost_classifier": _XGB_FULL,
        "lightgbm_classifier": _LGB_FULL,
    },
}

# the names each algorithm's grid may use (a typo would otherwise be ignored by the booster)
ALLOWED_PARAMS: dict[str, set[str]] = {
    "linear_regression": {"fit_intercept", "positive"},
    "elasticnet_regression": {"alpha", "l1_ratio", "max_iter"},
    "logistic_classification": {"C", "class_weight", "l1_ratio", "solver", "max_iter", "fit_intercept"},
    "lightgbm_regressor": set(DEFAULT_PARAMS),
    "lightgbm_classifier": set(DEFAULT_PARAMS),
    "xgboost_regressor": {
        "n_estimators",
        "learning_rate",
        "max_depth",
        "min_child_weight",
        "subsample",
        "colsample_bytree",
        "reg_alpha",
        "reg_lambda",
        "gamma",
    },
}
ALLOWED_PARAMS["xgboost_classifier"] = ALLOWED_PARAMS["xgboost_regressor"] | {"scale_pos_weight"}
_FOREST = {"n_estimators", "max_depth", "min_samples_split", "min_samples_leaf", "max_features", "max_samples", "bootstrap"}
ALLOWED_PARAMS["random_forest_regressor"] = _FOREST
ALLOWED_PARAMS["random_forest_classifier"] = _FOREST | {"class_weight"}


def grid_for(algorithm: str, preset: str, explicit: Mapping[str, Grid] | None = None) -> Grid:
    """The grid an algorithm runs: the explicit one when given, else the preset's."""
    if explicit and algorithm in explicit:
        grid = dict(explicit[algorithm])
        if not grid and algorithm != "linear_regression":
            raise TbError(f"grids.{algorithm} is empty: give each parameter a list of values, or leave the algorithm out of grids")
    else:
        if preset not in PRESETS:
            raise TbError(f"grid must be one of {', '.join(PRESETS)}, got {preset!r}")
        grid = dict(PRESETS[preset][algorithm])
    unknown = sorted(set(grid) - ALLOWED_PARAMS[algorithm])
    if unknown:
        raise TbError(
            f"grids.{algorithm}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ALLOWED_PARAMS[algorithm]))}"
        )
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise TbError(f"grids.{algorithm}.{name} must be a non-empty list of values, got {values!r}")
    return grid


def combinations(grid: Grid) -> list[dict]:
    """Every combination of a grid (scikit-learn's ParameterGrid order: keys sorted)."""
    names = sorted(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def grid_size(grid: Grid) -> int:
    return int(np.prod([len(v) for v in grid.values()])) if grid else 1


def adapt_alphas(grid: Grid, strongest_correlation: float) -> tuple[Grid, bool]:
    """ElasticNet's alphas scaled down when no feature correlates with the target by at least
    ADAPTIVE_CORRELATION (the usual alphas would zero every coefficient); (grid, adapted)."""
    if "alpha" not in grid or not strongest_correlation < ADAPTIVE_CORRELATION:
        return grid, False
    return {**grid, "alpha": [float(a) * ADAPTIVE_ALPHA_SCALE for a in grid["alpha"]]}, True


def strongest_correlation(X: np.ndarray, y: np.ndarray) -> float:
    """max |Pearson correlation| of any column of X with y (NaN columns and constant ones count 0)."""
    X = np.asarray(X, dtype="float64")
    y = np.asarray(y, dtype="float64")
    best = 0.0
    for j in range(X.shape[1]):
        ok = np.isfinite(X[:, j]) & np.isfinite(y)
        if ok.sum() > 2 and np.std(X[ok, j]) > 0 and np.std(y[ok]) > 0:
            best = max(best, abs(float(np.corrcoef(X[ok, j], y[ok])[0, 1])))
    return best


def _canonical(value):
    """JSON-ready and type-stable: numpy scalars as Python numbers, mappings with sorted keys."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def fingerprint(
    *,
    symbol: str,
    algorithm: str,
    target: str,
    timeframe: str,
    transform: str,
    data_options: Mapping,
    features: list[str],
    params: Mapping,
    data_version: str,
) -> str:
    """SHA-256 of what makes a model the same model: partition, algorithm, target and its transform,
    the data options, the feature set (order does not matter), the params (key order does not
    matter) and the version of the data it was trained on. Not the parent: siblings of different
    parents that end up alike are the same model."""
    doc = {
        "symbol": symbol,
        "timeframe": timeframe,
        "algorithm": algorithm,
        "target": target,
        "transform": transform,
        "data_options": _canonical(dict(data_options)),
        "features": sorted(features),
        "params": _canonical(dict(params)),
        "data_version": data_version,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
