"""Probabilities and grades that mean what they say, on real SPY bars.

Balancing with scale_pos_weight multiplies every predicted odds by the weight; the scored and
stored probabilities must have it undone, or Brier and calibration judge a distorted model. And a
coin on a skewed partition must not grade like skill: AUPR and precision@10% are graded as lift
over the positive rate, Brier as skill over the best constant forecast.
"""

import numpy as np
import pytest

from tb_assets.core.features.matrix import FeatureOptions, build_feature_matrix
from tb_assets.core.labels.targets import TargetSpec, build_targets
from tb_assets.core.modeling.estimators.class_weight import class_balance
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import Folds, score_folds, score_holdout
from tb_assets.core.modeling.grades import grade_table, graded
from tb_assets.core.modeling.metrics import fold_metrics, summarize
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.core.modeling.training_data import training_data
from tb_assets_tests.real_files import load

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def spy_bars(real_csv_dir):
    """Real SPY daily bars (1999-2020), read as the real-data tests read them, and their core features."""
    bars = load(real_csv_dir, "SPYD")[0]
    return bars, build_feature_matrix(bars, {}, timeframe="1d", options=FeatureOptions("core")).frame


def labelled(spy_bars, pt_sl):
    bars, features = spy_bars
    targets, stats = build_targets(bars, features["ts"], TargetSpec(pt_sl=pt_sl), "1d")
    return training_data(features, targets, [c for c in features.columns if c != "ts"]), stats["positive_rate"]


def test_balanced_training_keeps_calibrated_probabilities(spy_bars):
    """A profit-take three times as far as the stop: about a fifth of the events are positive.
    Brier of the balanced model is within 0.005 of the unbalanced one's on the same holdout,
    and its probabilities average the positive rate, not the balanced 50%."""
    data, rate = labelled(spy_bars, (3.0, 1.0))
    assert 0.1 < rate < 0.3
    n = len(data.y)
    development, holdout = np.arange(int(n * 0.7) - 30), np.arange(int(n * 0.7), n)  # a 30-event gap for the labels
    weight = class_balance(data.y[development], data.weight[development], "true")
    assert weight > 2.5  # positives are the minority: balancing weighs them up (negatives / positives)
    params = {**DEFAULT_PARAMS, "n_estimators": 150}
    plain = score_holdout(LightGBMClassifier(params), data.X, data.y, data.weight, development, holdout)
    balanced = score_holdout(LightGBMClassifier(params, scale_pos_weight=weight), data.X, data.y, data.weight, development, holdout)
    assert balanced.metrics.brier <= plain.metrics.brier + 0.005, (balanced.metrics.brier, plain.metrics.brier)
    assert abs(balanced.proba.mean() - data.y[development].mean()) < 0.05
    raw = balanced.model.booster_.predict(data.X.to_numpy()[holdout])  # what the re-weighted problem's link gives
    assert raw.mean() > balanced.proba.mean() + 0.1
    assert fold_metrics(data.y[holdout], raw).brier > balanced.metrics.brier + 0.02  # the distortion the correction removes


def test_a_coin_on_real_skewed_labels_grades_below_acceptable_on_lift(spy_bars):
    data, _ = labelled(spy_bars, (2.0, 1.0))
    rng = np.random.default_rng(0)
    folds = Folds.build(data.X, 1 - data.y, None, data.purged_splits(5, 0.01), bin_now=False)  # flipped: ~2/3 positive
    rate = float(np.mean(1 - data.y))
    assert 0.6 < rate < 0.8
    coin = summarize([fold_metrics(folds.y[test], rng.random(len(test))) for _, test in folds.splits])
    assert coin.aupr > 0.6 and coin.precision_at_10 > 0.55  # raw numbers a 50%-rate scale calls good
    grades = graded(grade_table(coin.as_dict(), None))
    assert grades["aupr_lift"] == "below" and grades["brier_skill"] == "below", grades
    # a model fitted on the same folds at least keeps its raw numbers beside the lifts
    model = summarize([f.score for f in score_folds(LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 50}), folds)])
    table = grade_table(model.as_dict(), None).set_index("metric")
    assert table.loc["aupr_lift", "oof"] == pytest.approx(model.aupr_lift) and table.loc["positive_rate", "oof"] == pytest.approx(
        rate, abs=0.02
    )


def test_xgboost_in_the_zoo_undoes_its_scale_pos_weight_too(spy_bars):
    from tb_assets.core.modeling.estimators.xgboost import XGBoostClassifier

    data, rate = labelled(spy_bars, (3.0, 1.0))
    params = {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.05}
    plain = XGBoostClassifier(params).fit(data.X, data.y).predict_proba(data.X)[:, 1]
    balanced = XGBoostClassifier({**params, "scale_pos_weight": (1 - rate) / rate}).fit(data.X, data.y)
    proba = balanced.predict_proba(data.X)[:, 1]
    assert abs(proba.mean() - rate) < 0.05 and abs(proba.mean() - plain.mean()) < 0.05
    assert balanced.booster_.inplace_predict(data.X.to_numpy()).mean() > proba.mean() + 0.15  # what it was before
