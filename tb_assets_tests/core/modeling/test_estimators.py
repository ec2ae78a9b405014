"""The estimator contract and the one fit path: scikit-learn compatible, the same numbers as
LightGBM's own API, binned training sets reusable, the class-balancing rule."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.class_weight import class_balance, undo_class_weight
from tb_assets.core.modeling.estimators.contract import fit
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier, bin_rows, lgb_params
from tb_assets.core.modeling.params import DEFAULT_PARAMS, SELECTION_PARAMS


def data(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * X["a"]))).astype(int).to_numpy()
    return X, y, rng.uniform(0.5, 1.5, n)


def test_same_numbers_as_lightgbms_own_scikit_learn_api():
    """Selection used lgb.LGBMClassifier directly before the model layer; the one path must not move its AUCs."""
    X, y, _ = data()
    ours = LightGBMClassifier(SELECTION_PARAMS).fit(X, y).predict_proba(X)[:, 1]
    theirs = (
        lgb.LGBMClassifier(
            objective="binary",
            n_estimators=60,
            learning_rate=0.1,
            num_leaves=15,
            max_depth=4,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=1.0,
            random_state=0,
            n_jobs=1,
            verbose=-1,
            deterministic=True,
            force_row_wise=True,
        )
        .fit(X.to_numpy(), y)
        .predict_proba(X.to_numpy())[:, 1]
    )
    np.testing.assert_array_equal(ours, theirs)


def test_fit_and_fit_binned_agree_and_a_binned_set_is_reusable():
    X, y, w = data()
    model = LightGBMClassifier(DEFAULT_PARAMS, seed=3, threads=1)
    direct = fit(clone(model), X, y, w).predict_proba(X)
    binned = bin_rows(X, y, w)
    first = clone(model).fit_binned(binned).predict_proba(X)
    second = clone(model).fit_binned(binned).predict_proba(X)  # the same Dataset, a second fit
    np.testing.assert_array_equal(direct, first)
    np.testing.assert_array_equal(first, second)
    assert direct.shape == (len(X), 2) and np.allclose(direct.sum(axis=1), 1.0)


def test_scikit_learn_contract():
    X, y, _ = data()
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 20}, seed=1, threads=2, scale_pos_weight=2.0)
    assert clone(model).get_params() == model.get_params()
    fitted = model.fit(X, y)
    assert list(fitted.classes_) == [0, 1] and fitted.n_features_in_ == 4 and list(fitted.feature_names_in_) == list(X.columns)
    assert set(fitted.predict(X)) <= {0, 1}
    margin = fitted.raw_score(X)  # learned with positives weighted 2x: the odds come out 2x too high
    np.testing.assert_allclose(1 / (1 + 2.0 * np.exp(-margin)), fitted.predict_proba(X)[:, 1], rtol=1e-12)


def test_threads_do_not_change_the_model():
    X, y, w = data()
    one = LightGBMClassifier(DEFAULT_PARAMS, threads=1).fit(X, y, w).predict_proba(X)
    two = LightGBMClassifier(DEFAULT_PARAMS, threads=2).fit(X, y, w).predict_proba(X)
    np.testing.assert_array_equal(one, two)


def test_scale_pos_weight_is_folded_into_the_sample_weights_and_undone(tmp_path):
    X, y, _ = data()
    plain = LightGBMClassifier(DEFAULT_PARAMS).fit(X, y).predict_proba(X)[:, 1]
    model = LightGBMClassifier(DEFAULT_PARAMS, scale_pos_weight=4.0).fit(X, y)
    # the same booster as LightGBM trained on positives weighted 4x: boosting starts from that rate
    same = lgb.train(lgb_params(DEFAULT_PARAMS), bin_rows(X, y, np.where(y == 1, 4.0, 1.0)), num_boost_round=DEFAULT_PARAMS["n_estimators"])
    assert "scale_pos_weight" not in model.booster_.params and model.positive_weight_ == 4.0
    shifted = model.booster_.predict(X.to_numpy())  # the booster's own probabilities: of the re-weighted classes
    np.testing.assert_allclose(shifted, same.predict(X.to_numpy()), rtol=1e-12)
    heavy = model.predict_proba(X)[:, 1]
    assert shifted.mean() > plain.mean() + 0.05  # the weighting moves every probability up...
    assert abs(heavy.mean() - plain.mean()) < 0.03 and abs(heavy.mean() - y.mean()) < 0.03  # ...and the correction undoes it
    assert np.array_equal(np.argsort(heavy, kind="stable"), np.argsort(shifted, kind="stable"))  # the ranking is the model's
    path = tmp_path / "model.txt"
    path.write_text(model.booster_.model_to_string())  # the file holds the booster; the card holds the weight
    np.testing.assert_allclose(LightGBMClassifier.from_model_file(path, scale_pos_weight=4.0).predict_proba(X)[:, 1], heavy, rtol=1e-12)
    assert "scale_pos_weight" not in lgb_params(DEFAULT_PARAMS)


def test_a_balanced_one_tree_model_starts_from_the_weighted_rate():
    """LightGBM's scale_pos_weight starts boosting from the unweighted rate: with one tree the
    correction then pushed the mean probability far below the truth. Folded into the weights, the
    corrected mean of a one-tree model sits near the positive rate."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=20_000), "b": rng.normal(size=20_000)})
    truth = 1 / (1 + np.exp(-(-1.9 + 0.4 * X["a"].to_numpy())))
    y = (rng.uniform(size=len(X)) < truth).astype(int)
    spw = (1 - y.mean()) / y.mean()
    one_tree = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 1}, scale_pos_weight=spw).fit(X, y)
    assert abs(one_tree.predict_proba(X)[:, 1].mean() - truth.mean()) < 0.02
    old_way = lgb.train({**lgb_params({**DEFAULT_PARAMS, "n_estimators": 1}), "scale_pos_weight": spw}, bin_rows(X, y), 1)
    assert abs(undo_class_weight(old_way.predict(X.to_numpy(), raw_score=True), spw).mean() - truth.mean()) > 0.04


def test_a_model_file_round_trips(tmp_path):
    X, y, _ = data()
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 30}).fit(X, y)
    path = tmp_path / "model.txt"
    path.write_text(model.booster_.model_to_string())
    loaded = LightGBMClassifier.from_model_file(path)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-12)
    assert list(loaded.feature_names_in_) == list(X.columns)


def test_class_balance_rule():
    y_even = np.array([1, 0] * 50)
    y_skew = np.array([1] * 70 + [0] * 30)
    assert class_balance(y_even, None, "auto") is None  # inside the 0.4-0.6 band
    assert class_balance(y_skew, None, "auto") == pytest.approx(30 / 70)
    assert class_balance(y_even, None, "true") == pytest.approx(1.0)
    assert class_balance(y_skew, None, "false") is None
    w = np.where(y_skew == 1, 1.0, 2.0)
    assert class_balance(y_skew, w, "auto") == pytest.approx(60 / 70)  # weighted negatives / weighted positives
    assert class_balance(np.array([1] * 55 + [0] * 45), None, "auto", band=(0.2, 0.5)) == pytest.approx(45 / 55)
    with pytest.raises(TbError, match="balanced must be"):
        class_balance(y_even, None, "yes")


def test_every_lightgbm_call_carries_the_thread_count():
    """LightGBM's predict ignores the booster's num_threads; left out, a prediction in one Python thread
    beside a fit in another crashed parallel forward selection (SIGSEGV)."""
    from tb_assets.core.modeling.explain import explain

    X, y, _ = data()
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 10}, threads=3).fit(X, y)
    seen = []
    real = model.booster_.predict
    model.booster_.predict = lambda *a, **kw: seen.append(kw.get("num_threads")) or real(*a, **kw)
    model.predict_proba(X)
    model.raw_score(X)
    explain(model, X, threads=2)
    assert seen == [3, 3, 2, 2]
    assert bin_rows(X, y, threads=3).params["num_threads"] == 3
