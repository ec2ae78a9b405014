"""Stored probabilities against known ones: synthetic events whose true P(class 1) is set by hand.

Whatever the model (LightGBM or XGBoost, one tree or converged, balanced or not), the pipeline's
calibrator, chosen and fitted on purged out-of-fold predictions of the development rows only, must
put the holdout's mean probability within 0.01 of the true mean, and on pure noise must do no
worse than the best constant (the development positive rate)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from tb_assets.core.modeling.calibration import METHODS, Calibration, calibrate_out_of_fold, choose_calibration, fit_calibrator
from tb_assets.core.modeling.estimators.class_weight import class_balance
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.estimators.xgboost import XGBoostClassifier
from tb_assets.core.modeling.evaluation import score_holdout
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.core.modeling.production import ProductionSpec, train_production_model
from tb_assets.core.modeling.training_data import TrainingData

N, HOLDOUT = 20_000, 5_000


def events(seed: int, signal: bool) -> tuple[TrainingData, np.ndarray]:
    """One event per bar, each label ending on the next bar (purging stays honest), and the true
    probability of each."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(N, 4)), columns=["a", "b", "c", "d"])
    a, b, c = (X[k].to_numpy() for k in "abc")
    truth = expit(-1.0 + (0.9 * a - 0.6 * b + 0.4 * a * c if signal else 0.0))
    y = (rng.uniform(size=N) < truth).astype("int64")
    ts = pd.date_range("2000-01-03", periods=N + 1, freq="h", tz="UTC")
    return TrainingData(X, y, np.ones(N), pd.Series(ts[1:], index=ts[:-1])), np.broadcast_to(truth, (N,)).astype(float)


def recipe(kind: str, trees: int, spw: float | None):
    if kind == "lightgbm":
        return LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": trees, "learning_rate": 0.05}, scale_pos_weight=spw)
    params = {"n_estimators": trees, "max_depth": 4, "learning_rate": 0.05}
    return XGBoostClassifier(params if spw is None else {**params, "scale_pos_weight": spw})


def stored_holdout(kind: str, trees: int, balanced: bool, data: TrainingData):
    """The production pipeline's steps on any model: out-of-fold calibration on development, the
    development model's calibrated holdout probabilities."""
    development, holdout = np.arange(N - HOLDOUT - 1), np.arange(N - HOLDOUT, N)
    spw = class_balance(data.y[development], None, "true" if balanced else "false")
    dev = data.take(development)
    oof = calibrate_out_of_fold(recipe(kind, trees, spw), dev.X, dev.y, None, dev.purged_splits(5, 0.0))
    scored = score_holdout(recipe(kind, trees, spw), data.X, data.y, None, development, holdout, scorer=lambda y, p: None)
    return oof, scored.proba, oof.calibration.apply(scored.proba), holdout


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("trees", [1, 300])
@pytest.mark.parametrize("balanced", [False, True])
def test_stored_probabilities_average_the_truth(kind, trees, balanced):
    data, truth = events(seed=trees + balanced, signal=True)
    oof, raw, calibrated, holdout = stored_holdout(kind, trees, balanced, data)
    assert abs(calibrated.mean() - truth[holdout].mean()) < 0.01, (oof.calibration.describe(), raw.mean(), truth[holdout].mean())
    # and the calibrator never makes the holdout's Brier worse than the model's own probabilities by more than noise
    brier = lambda p: float(np.mean((p - data.y[holdout]) ** 2))  # noqa: E731
    assert brier(calibrated) <= brier(raw) + 0.002, oof.calibration.describe()
    if trees == 1:  # a one-tree model's probabilities hug the rate (one shrunken step): the calibrator spreads them
        assert oof.calibration.method != "none" and brier(raw) > brier(calibrated) + 0.01, oof.calibration.describe()


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("balanced", [False, True])
def test_on_noise_the_calibrated_brier_is_no_worse_than_the_base_rate(kind, balanced):
    data, _ = events(seed=7, signal=False)
    oof, raw, calibrated, holdout = stored_holdout(kind, 300, balanced, data)
    y = data.y[holdout]
    base = float(np.mean((data.y[: N - HOLDOUT - 1].mean() - y) ** 2))  # the development rate as a constant forecast
    assert np.mean((calibrated - y) ** 2) <= base + 2e-4, (oof.calibration.describe(), base)
    assert np.mean((raw - y) ** 2) > base + 1e-3  # what the model alone would have stored


def test_the_production_model_stores_calibrated_probabilities_and_its_choice():
    data, truth = events(seed=11, signal=True)
    start = data.t1.index[N - HOLDOUT]
    spec = ProductionSpec(balanced="true", n_jobs=1)
    trained = train_production_model(data, {**DEFAULT_PARAMS, "n_estimators": 1}, start, spec)
    rows = trained.holdout.rows
    assert abs(trained.holdout.proba.mean() - truth[rows].mean()) < 0.01
    assert trained.calibration.method in METHODS and set(trained.calibration.oof_brier) == set(METHODS)
    assert trained.calibration.oof_brier[trained.calibration.method] == min(trained.calibration.oof_brier.values())
    np.testing.assert_allclose(
        trained.model.predict_proba(data.X)[:, 1], trained.calibration.apply(trained.model.model.predict_proba(data.X)[:, 1])
    )
    np.testing.assert_allclose(trained.holdout.model.predict_proba(data.X.iloc[rows])[:, 1], trained.holdout.proba)
    assert trained.oof_metrics["n_samples"] < N - HOLDOUT  # out of fold on the development rows only
    assert Calibration.from_dict(trained.calibration.as_dict()) == trained.calibration  # what the model card keeps


def test_the_holdout_model_is_a_function_of_development_rows_only():
    """Swap the holdout's labels for their opposites (its positive rate 0.27 becomes 0.73): the
    balancing decision, the class weight, the booster and the calibrator of the holdout model stay
    the same; the final model, fitted on every event, may change."""
    data, _ = events(seed=5, signal=True)
    start = data.t1.index[N - HOLDOUT]
    spec = ProductionSpec(balanced="auto", n_jobs=1)
    params = {**DEFAULT_PARAMS, "n_estimators": 20}
    before = train_production_model(data, params, start, spec)
    flipped = TrainingData(data.X, np.where(data.t1.index >= start, 1 - data.y, data.y), data.weight, data.t1)
    after = train_production_model(flipped, params, start, spec)
    assert before.development_scale_pos_weight is not None  # 0.27 is outside the balance band: balanced from development
    assert after.development_scale_pos_weight == before.development_scale_pos_weight
    assert after.holdout.score.model.booster_.model_to_string() == before.holdout.score.model.booster_.model_to_string()
    assert after.calibration == before.calibration and after.oof_metrics == before.oof_metrics
    assert after.holdout.record["auc"] == pytest.approx(1 - before.holdout.record["auc"], abs=1e-12)
    assert after.scale_pos_weight != before.scale_pos_weight  # the final model's balance is every event's


def test_calibrators_by_hand():
    p = np.array([0.1, 0.2, 0.3, 0.8])
    assert np.allclose(Calibration().apply(p), p)
    platt = Calibration("platt", slope=0.5, intercept=0.2)
    assert platt.apply(np.array([0.5]))[0] == pytest.approx(expit(0.2))
    iso = fit_calibrator("isotonic", np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    assert np.allclose(iso.apply(np.array([0.1, 0.25, 0.4])), [0.0001, 0.5, 0.9999])  # pooled, then kept off certainty
    with pytest.raises(Exception, match="two folds"):
        choose_calibration(p, np.array([0, 1, 0, 1]), np.zeros(4))
    # a model whose probabilities are twice the odds they should be: Platt recovers the shift
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.6, 50_000)
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    distorted = expit(np.log(truth / (1 - truth)) + np.log(2.0))
    chosen, _ = choose_calibration(distorted, y, np.arange(truth.size) % 5, methods=("none", "platt"))
    assert (
        chosen.method == "platt"
        and chosen.intercept == pytest.approx(-np.log(2.0), abs=0.05)
        and chosen.slope == pytest.approx(1, abs=0.05)
    )
