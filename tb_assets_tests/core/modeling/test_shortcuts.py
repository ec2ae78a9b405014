"""The modeling stages' shortcuts, each against the exact path it replaces.

Thinning fits each fold on every k-th training row (weighted k times), early stopping ends a
fold's boosting on a purged slice at the end of its training rows, the selection shortlist tries
only the gain-ranked best candidates, and tuning fits its folds side by side. None of them may see
a fold's test rows, and each is one setting away from the exact search.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.labels.weights import overlap_stride, thinning
from tb_assets.core.modeling import selection
from tb_assets.core.modeling.cv import PurgedKFold
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import EarlyStopping, Folds, score_folds, stopping_split
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.core.modeling.tuning import PruningRules, TuningSpec, tune


def overlapping(n=3000, span=4, seed=0):
    """Events on every bar whose labels end `span` bars later, a signal in column 'a'."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2020-01-01", periods=n + span, freq="h", tz="UTC")
    t1 = pd.Series(t[span:], index=t[:n])
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(0, 1.0, n) > 0).astype(int).to_numpy()
    weight = rng.uniform(0.5, 1.5, n)
    return X, y, weight / weight.mean(), t1


def test_overlap_stride_and_thinning():
    t = pd.date_range("2020-01-01", periods=20, freq="h", tz="UTC")
    alone = pd.Series(t[:10], index=t[:10])  # each label ends where it starts: nothing overlaps
    assert overlap_stride(alone) == 1
    four = pd.Series(t[4:14], index=t[:10])  # spans of 5 bars: each overlaps the next 4 (fewer near the end)
    later = [min(4, 9 - i) for i in range(10)]
    assert overlap_stride(four) == round(1 + np.mean(later))
    assert thinning(four, fold_rows=100_000, min_rows=10_000) == overlap_stride(four)
    assert thinning(four, fold_rows=15_000, min_rows=10_000) == 1  # a fold never drops below min_rows


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(40, 400), longest=st.integers(0, 30), fraction=st.sampled_from([0.1, 0.15, 0.3]))
def test_stopping_split_purges_every_fit_label_that_reaches_the_validation_slice(seed, n, longest, fraction):
    rng = np.random.default_rng(seed)
    t = pd.date_range("2020-01-01", periods=n + longest + 1, freq="h", tz="UTC")
    ends = np.arange(n) + rng.integers(0, longest + 1, n)
    t1 = pd.Series(t[ends], index=t[:n])
    t0_ns, t1_ns = epoch_ns(t1.index), epoch_ns(t1)
    train = np.sort(rng.choice(n, size=n // 2, replace=False))
    fit, valid = stopping_split(train, t0_ns, t1_ns, fraction)
    assert len(valid) == len(train) - int(round(len(train) * (1 - fraction)))
    assert set(fit) | set(valid) <= set(train) and not set(fit) & set(valid)
    assert (t1_ns[fit] < t0_ns[valid].min()).all()  # no fit label shares a bar with a validation label
    kept_out = set(train[: len(train) - len(valid)]) - set(fit)
    assert all(t1_ns[i] >= t0_ns[valid[0]] for i in kept_out)  # and only those are purged


def test_thinned_folds_keep_every_kth_row_weighted_k_times_and_never_thin_the_tests():
    X, y, w, t1 = overlapping()
    splits = list(PurgedKFold(4, t1).split(X))
    folds = Folds.build(X, y, w, splits, thin=4, bin_now=False)
    data = folds.binned(0)
    train, test = splits[0]
    assert data.num_data() == len(train[::4])
    np.testing.assert_allclose(data.get_weight(), w[train[::4]] * 4)
    assert folds.per_thinned_row({"min_child_samples": 200, "max_depth": 3}) == {"min_child_samples": 50, "max_depth": 3}
    scores = score_folds(LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 30}), folds)
    assert [len(s.test) for s in scores] == [len(te) for _, te in splits]  # every test row is scored
    exact = Folds.build(X, y, w, splits, thin=1, bin_now=False)
    assert exact.binned(0).num_data() == len(train) and exact.per_thinned_row({"min_child_samples": 200}) == {"min_child_samples": 200}


def test_early_stopping_keeps_the_best_round_and_predicts_with_it():
    X, y, w, t1 = overlapping()
    splits = list(PurgedKFold(4, t1).split(X))
    params = {**DEFAULT_PARAMS, "n_estimators": 800, "learning_rate": 0.15}  # far too many rounds for this signal
    folds = Folds.build(X, y, w, splits, early_stopping=EarlyStopping(), t1=t1)
    scores = score_folds(LightGBMClassifier(params), folds, keep_models=True)
    for s in scores:
        assert 0 < s.iterations < 800 and s.model.best_iteration_ == s.iterations
        np.testing.assert_allclose(s.prediction, s.model.booster_.predict(X.to_numpy()[s.test], num_iteration=s.iterations))
    plain = score_folds(LightGBMClassifier(params), Folds.build(X, y, w, splits))
    assert all(p.iterations is None for p in plain)
    assert np.mean([s.score.auc for s in scores]) > np.mean([p.score.auc for p in plain])  # 800 rounds overfit; stopping does not
    with pytest.raises(Exception, match="needs the labels' t1"):
        Folds.build(X, y, w, splits, early_stopping=EarlyStopping())


def test_tuning_with_early_stopping_records_the_rounds_its_best_trial_kept(tmp_path):
    X, y, w, t1 = overlapping()
    splits = list(PurgedKFold(4, t1).split(X))
    common = dict(storage=f"sqlite:///{tmp_path}/o.db", n_trials=4, rules=PruningRules(0.0, 1.0, 1.0))
    stopped = tune(X, y, w, splits, TuningSpec(study_name="stopped", early_stopping=EarlyStopping(), threads=2, **common), t1=t1)
    kept = stopped.study.best_trial.user_attrs["rounds_kept"]
    assert len(kept) == 4 and stopped.params["n_estimators"] == int(np.median(kept))
    assert stopped.params["n_estimators"] <= stopped.study.best_trial.params["n_estimators"]
    exact = tune(X, y, w, splits, TuningSpec(study_name="exact", threads=2, **common))
    assert "rounds_kept" not in exact.study.best_trial.user_attrs
    assert exact.params["n_estimators"] == exact.study.best_trial.params["n_estimators"]


def test_folds_fitted_side_by_side_score_exactly_as_one_by_one():
    X, y, w, t1 = overlapping()
    splits = list(PurgedKFold(5, t1).split(X))
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 40})
    one = score_folds(model, Folds.build(X, y, w, splits))
    side = score_folds(model, Folds.build(X, y, w, splits), parallel=2)
    assert [s.score for s in side] == [s.score for s in one]
    seen = []

    def prune_at_fold_2(k, scores):
        seen.append(k)
        if k == 2:
            raise RuntimeError("pruned")

    with pytest.raises(RuntimeError):  # pruning still stops between batches, in fold order
        score_folds(model, Folds.build(X, y, w, splits), parallel=2, on_fold=prune_at_fold_2)
    assert seen == [0, 1, 2]


def test_the_shortlist_only_tries_the_best_ranked_candidates(monkeypatch):
    X, y, _, t1 = overlapping()
    X = X.assign(e=np.random.default_rng(1).normal(size=len(X)), f=np.random.default_rng(2).normal(size=len(X)))
    splits = list(PurgedKFold(4, t1).split(X))
    ranking = selection.rank_by_gain(X, y, list(X.columns))
    assert ranking[0] == "a"  # the signal carries the gain
    tried = []
    real = selection.cv_auc
    monkeypatch.setattr(selection, "cv_auc", lambda values, *a: tried.append(values.shape[1]) or real(values, *a))
    chosen, _, _ = selection.forward_select(X, y, splits, selection.SelectionSpec(shortlist=2, max_features=1), ranking=ranking)
    assert chosen == ["a"] and len(tried) == 2  # two candidates tried, not six
    tried.clear()
    selection.forward_select(X, y, splits, selection.SelectionSpec(max_features=1))  # the exact search: every candidate
    assert len(tried) == 6
