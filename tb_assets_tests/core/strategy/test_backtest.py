"""CPCV paths of the production recipe: each split's predictions are the recipe refitted on its
purged training events, a group's calibration never saw the group's labels, and the paths find a
planted signal and nothing in noise."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tb_assets.core.modeling.calibration import fit_calibrator
from tb_assets.core.modeling.estimators.contract import fit
from tb_assets.core.modeling.production import ProductionSpec, production_recipe
from tb_assets.core.modeling.training_data import TrainingData
from tb_assets.core.strategy.backtest import backtest_paths

PARAMS = {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7, "max_depth": 3, "min_child_samples": 20}
SPEC = ProductionSpec(n_jobs=1, embargo_pct=0.01)


def events(signal: float, n: int = 1200, seed: int = 0) -> TrainingData:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-signal * X["a"].to_numpy()))).astype("int64")
    ts = pd.date_range("2020-01-01", periods=n, freq="1D", tz="UTC")
    return TrainingData(X, y, rng.uniform(0.5, 1.5, n), pd.Series(ts + pd.Timedelta(days=3), index=ts))


@pytest.fixture(scope="module")
def planted():
    data = events(1.5)
    return data, backtest_paths(data, PARAMS, SPEC)


def test_fifteen_splits_five_complete_paths_of_probabilities(planted):
    data, paths = planted
    assert len(paths.splits) == 15 and paths.proba.shape == (5, len(data.y))
    assert np.isfinite(paths.proba).all() and ((paths.proba >= 0) & (paths.proba <= 1)).all()
    for s, (_, test) in enumerate(paths.splits):
        assert np.isfinite(paths.raw[s, test]).all() and np.isnan(np.delete(paths.raw[s], test)).all()
    for p in range(5):
        assert roc_auc_score(data.y, paths.proba[p]) > 0.7  # a planted signal out of sample on every path


def test_a_splits_predictions_are_the_recipe_refitted_on_its_purged_training_events(planted):
    data, paths = planted
    train, test = paths.splits[7]
    assert len(train) + len(test) < len(data.y)  # the purge and embargo took events out
    recipe = production_recipe(PARAMS, data.y[train], data.weight[train], SPEC)
    model = fit(recipe, data.X.iloc[train], data.y[train], data.weight[train])
    np.testing.assert_allclose(paths.raw[7, test], model.predict_proba(data.X.iloc[test])[:, 1], atol=1e-12)


def test_a_groups_calibration_was_fitted_without_its_labels(planted):
    data, paths = planted
    n = len(data.y)
    raw = np.stack([paths.raw[paths.path_splits[p, paths.group], np.arange(n)] for p in range(paths.n_paths)])
    group = np.tile(paths.group, paths.n_paths)
    y = np.tile(data.y, paths.n_paths)
    flat = raw.ravel()
    mine = group == 2
    expected = fit_calibrator(paths.calibration.method, flat[~mine], y[~mine]).apply(flat[mine])
    np.testing.assert_allclose(paths.proba.ravel()[mine], expected, atol=1e-12)


def test_noise_gives_coin_paths():
    data = events(0.0, seed=3)
    paths = backtest_paths(data, PARAMS, SPEC)
    aucs = [roc_auc_score(data.y, paths.proba[p]) for p in range(paths.n_paths)]
    assert all(0.42 < a < 0.58 for a in aucs), aucs


def test_thinned_splits_fit_every_kth_training_event_weighted_k_times(planted):
    data, exact = planted
    thinned = backtest_paths(data, PARAMS, SPEC, thin=3)
    train, test = thinned.splits[4]
    kept = train[::3]
    recipe = production_recipe(
        {**PARAMS, "min_child_samples": round(PARAMS["min_child_samples"] / 3)}, data.y[train], data.weight[train], SPEC
    )
    model = fit(recipe, data.X.iloc[kept], data.y[kept], data.weight[kept] * 3)
    np.testing.assert_allclose(thinned.raw[4, test], model.predict_proba(data.X.iloc[test])[:, 1], atol=1e-12)
    assert not np.allclose(thinned.raw[4, test], exact.raw[4, test])  # a different fit ...
    assert min(roc_auc_score(data.y, thinned.proba[p]) for p in range(5)) > 0.7  # ... that finds the same signal
