"""The one scoring engine: every fold scored by a fresh fit, callbacks that can stop it, the holdout
scored exactly like one split, any scikit-learn estimator accepted."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.cv import PurgedKFold
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import Folds, auc_score, score_folds, score_holdout
from tb_assets.core.modeling.metrics import fold_metrics, summarize
from tb_assets.core.modeling.params import DEFAULT_PARAMS


def problem(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["signal", "n1", "n2"])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.5 * X["signal"]))).astype(int).to_numpy()
    t = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    t1 = pd.Series(t + pd.Timedelta(days=3), index=t)
    return X, y, list(PurgedKFold(5, t1, 0.01).split(X))


MODEL = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 50})


def test_each_fold_is_a_fresh_fit_scored_on_its_test_rows():
    X, y, splits = problem()
    folds = Folds.build(X, y, None, splits)
    scores = score_folds(MODEL, folds, keep_models=True)
    assert [s.fold for s in scores] == list(range(5))
    for s, (train, test) in zip(scores, splits):
        by_hand = LightGBMClassifier(MODEL.params).fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])[:, 1]
        np.testing.assert_array_equal(s.prediction, by_hand)
        assert s.score == fold_metrics(y[test], by_hand) and s.model is not MODEL
    summary = summarize([s.score for s in scores])
    assert summary.auc == pytest.approx(np.mean([s.score.auc for s in scores])) and summary.auc > 0.7


def test_any_scikit_learn_estimator_goes_through_the_same_engine():
    X, y, splits = problem()
    scores = score_folds(LogisticRegression(), Folds.build(X, y, None, splits, bin_now=False), scorer=auc_score)
    train, test = splits[2]
    expected = roc_auc_score(y[test], LogisticRegression().fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])[:, 1])
    assert scores[2].score == pytest.approx(expected)


def test_on_fold_sees_the_scores_so_far_and_can_stop_the_run():
    X, y, splits = problem()
    seen = []

    class Stop(Exception):
        pass

    def on_fold(k, scores):
        seen.append((k, len(scores)))
        if k == 1:
            raise Stop

    with pytest.raises(Stop):
        score_folds(MODEL, Folds.build(X, y, None, splits), on_fold=on_fold)
    assert seen == [(0, 1), (1, 2)]


def test_folds_with_one_class_are_an_error_or_skipped():
    X, y, splits = problem()
    y = y.copy()
    y[splits[0][1]] = 1  # fold 0 tests positives only
    with pytest.raises(TbError, match="fold 0 holds one class"):
        score_folds(MODEL, Folds.build(X, y, None, splits))
    kept = score_folds(MODEL, Folds.build(X, y, None, splits), skip_one_class=True)
    assert [s.fold for s in kept] == [1, 2, 3, 4]


def test_training_sets_are_binned_once_and_reused():
    X, y, splits = problem()
    folds = Folds.build(X, y, np.ones(len(y)), splits)
    first = [folds.binned(k) for k in range(5)]
    score_folds(MODEL, folds)
    assert all(folds.binned(k) is first[k] for k in range(5))


def test_holdout_is_scored_like_one_split():
    X, y, _ = problem()
    development, holdout = np.arange(0, 790), np.arange(800, 1000)
    scored = score_holdout(MODEL, X, y, None, development, holdout)
    by_hand = LightGBMClassifier(MODEL.params).fit(X.iloc[development], y[development])
    np.testing.assert_array_equal(scored.proba, by_hand.predict_proba(X.iloc[holdout])[:, 1])
    assert scored.metrics == fold_metrics(y[holdout], scored.proba)
    np.testing.assert_array_equal(scored.model.predict_proba(X), by_hand.predict_proba(X))
    one_class = y.copy()
    one_class[holdout] = 0
    with pytest.raises(TbError, match="the holdout events from 2020 hold one class only.*change holdout_pct"):
        score_holdout(MODEL, X, one_class, None, development, holdout, label="holdout events from 2020")


def test_training_sets_are_binned_with_the_fits_thread_count():
    """LightGBM keeps thread counts process-wide: binning and fitting must agree (a disagreement
    between concurrent threads crashed a run)."""
    from tb_assets.core.modeling.estimators.lightgbm import bin_rows
    from tb_assets.core.modeling.evaluation import threads_of

    X, y, splits = problem()
    assert Folds.build(X, y, None, splits, threads=2).binned(0).params["num_threads"] == 2
    assert Folds.build(X, y, None, splits).binned(0).params["num_threads"] == 1
    assert bin_rows(X, y).params["num_threads"] == 1
    assert threads_of(LightGBMClassifier(threads=3)) == 3 and threads_of(LogisticRegression()) == 1
