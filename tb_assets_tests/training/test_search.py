"""Grids and fingerprints."""

import numpy as np
import pytest

from tb_assets.core.errors import TbError
from tb_assets.training.search import PRESETS, adapt_alphas, combinations, fingerprint, grid_for, grid_size
from tb_assets.training.zoo import ALGORITHMS

BASE = dict(
    symbol="SPX",
    algorithm="lightgbm_classifier",
    target="direction",
    timeframe="1d",
    transform="none",
    data_options={"validation": "purged_kfold", "n_splits": 5},
    features=["a", "b", "c"],
    params={"max_depth": 3, "learning_rate": 0.05},
    data_version="v1",
)


def test_fingerprint_is_stable_and_ignores_the_order_of_params_features_and_options():
    first = fingerprint(**BASE)
    assert first == fingerprint(**BASE) and len(first) == 64
    shuffled = {
        **BASE,
        "params": {"learning_rate": 0.05, "max_depth": 3},
        "features": ["c", "a", "b"],
        "data_options": {"n_splits": 5, "validation": "purged_kfold"},
    }
    assert fingerprint(**shuffled) == first
    numpy_typed = {**BASE, "params": {"max_depth": np.int64(3), "learning_rate": np.float64(0.05)}}
    assert fingerprint(**numpy_typed) == first


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"max_depth": 4, "learning_rate": 0.05}},
        {"features": ["a", "b"]},
        {"data_version": "v2"},
        {"symbol": "IXIC"},
        {"timeframe": "1w"},
        {"algorithm": "xgboost_classifier"},
        {"target": "bin"},
        {"transform": "log_return"},
        {"data_options": {"validation": "holdout", "n_splits": 5}},
    ],
)
def test_fingerprint_changes_with_anything_that_makes_another_model(change):
    assert fingerprint(**{**BASE, **change}) != fingerprint(**BASE)


def test_presets_cover_every_algorithm_and_the_full_grids_have_the_origins_sizes():
    for preset in PRESETS.values():
        assert set(preset) == set(ALGORITHMS)
    full = {name: grid_size(grid_for(name, "full")) for name in ALGORITHMS}
    assert full["elasticnet_regression"] == 8 * 7
    for name in (
        "random_forest_regressor",
        "xgboost_regressor",
        "lightgbm_regressor",
        "random_forest_classifier",
        "xgboost_classifier",
        "lightgbm_classifier",
    ):
        assert 16_000 <= full[name] <= 19_500 and len(grid_for(name, "full")) == 5, (name, full[name])
    assert len(combinations(grid_for("lightgbm_classifier", "quick"))) == grid_size(grid_for("lightgbm_classifier", "quick"))


def test_an_explicit_grid_replaces_the_preset_and_bad_ones_are_named():
    assert grid_for("lightgbm_classifier", "quick", {"lightgbm_classifier": {"max_depth": [2, 3]}}) == {"max_depth": [2, 3]}
    with pytest.raises(TbError, match="grids.lightgbm_classifier is empty"):
        grid_for("lightgbm_classifier", "quick", {"lightgbm_classifier": {}})
    with pytest.raises(TbError, match=r"grids.xgboost_regressor.max_depth must be a non-empty list"):
        grid_for("xgboost_regressor", "quick", {"xgboost_regressor": {"max_depth": []}})
    with pytest.raises(TbError, match="unknown parameter.*max_dpeth"):
        grid_for("xgboost_regressor", "quick", {"xgboost_regressor": {"max_dpeth": [3]}})
    with pytest.raises(TbError, match="grid must be one of quick, full"):
        grid_for("xgboost_regressor", "huge")


def test_alphas_shrink_only_when_no_feature_correlates():
    grid = {"alpha": [0.1, 1.0], "l1_ratio": [0.5]}
    assert adapt_alphas(grid, 0.2) == (grid, False)
    adapted, changed = adapt_alphas(grid, 0.01)
    assert changed and adapted["alpha"] == pytest.approx([0.001, 0.01]) and adapted["l1_ratio"] == [0.5]


def test_the_assets_default_algorithms_are_the_zoo():
    """The asset's config names the algorithms without importing the zoo (definitions load light)."""
    from tb_assets.assets.model_experiments import ALGORITHM_NAMES

    assert ALGORITHM_NAMES == list(ALGORITHMS)
