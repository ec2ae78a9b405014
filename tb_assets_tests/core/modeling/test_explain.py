"""SHAP dispatcher (tree, linear, permutation) and the tables built from its values."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.explain import (
    explain,
    explain_rows,
    ranking_stability,
    regime_importance,
    shap_summary,
)
from tb_assets.core.modeling.params import DEFAULT_PARAMS


def data(n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=["signal", "weak", "n1", "n2", "n3"])
    logit = 2.0 * X["signal"] + 0.5 * X["weak"]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


def test_lightgbm_tree_shap_equals_shap_tree_explainer_and_adds_up_to_the_margin():
    X, y = data()
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 80}).fit(X, y)
    ours = explain(model, X, threads=2)
    theirs = shap.TreeExplainer(model.booster_).shap_values(X.to_numpy())
    theirs = theirs[1] if isinstance(theirs, list) else theirs
    np.testing.assert_allclose(ours.values, theirs, rtol=0, atol=1e-9)
    assert ours.kind == "tree" and ours.additivity_error().max() < 1e-9
    np.testing.assert_allclose(ours.margin, model.raw_score(X), rtol=0, atol=1e-12)
    assert np.abs(ours.values).mean(axis=0).argmax() == 0  # the signal leads
    # a plain Booster is explained the same way
    np.testing.assert_array_equal(explain(model.booster_, X).values, ours.values)


def test_xgboost_tree_shap_equals_shap_tree_explainer():
    X, y = data()
    model = xgb.XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1).fit(X, y)
    ours = explain(model, X)
    theirs = shap.TreeExplainer(model).shap_values(X)
    np.testing.assert_allclose(ours.values, theirs, atol=1e-5)
    assert ours.kind == "tree" and ours.additivity_error().max() < 1e-4  # float32 inside XGBoost


def test_linear_models_get_exact_linear_shap():
    X, y = data()
    model = LogisticRegression().fit(X, y)
    background = X.iloc[:200]
    ours = explain(model, X.iloc[200:260], background)
    expected = (X.iloc[200:260].to_numpy() - background.to_numpy().mean(axis=0)) * model.coef_[0]
    np.testing.assert_allclose(ours.values, expected, atol=1e-10)
    assert ours.kind == "linear" and ours.additivity_error().max() < 1e-9
    np.testing.assert_allclose(ours.margin, model.decision_function(X.iloc[200:260]))


@pytest.mark.cost(25)
def test_any_other_model_gets_permutation_shap_that_adds_up():
    X, y = data(400)
    model = KNeighborsClassifier(15).fit(X, y)
    ours = explain(model, X.iloc[:25], X.iloc[100:160], seed=0)
    assert ours.kind == "permutation" and ours.additivity_error().max() < 1e-9
    np.testing.assert_allclose(ours.margin, model.predict_proba(X.iloc[:25])[:, 1])
    assert np.abs(ours.values).mean(axis=0).argmax() == 0
    with pytest.raises(TbError, match="needs background rows"):
        explain(model, X.iloc[:5])


def test_multiclass_trees_are_refused():
    X, _ = data(300)
    y3 = np.arange(len(X)) % 3
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lgb.Dataset(X.to_numpy(), y3), 5)
    with pytest.raises(TbError, match="only binary and regression"):
        explain(booster, X)


def test_explained_rows_are_the_holdout_plus_the_latest_development_events():
    development, holdout = np.arange(0, 780), np.arange(800, 1000)
    rows = explain_rows(1000, development, holdout, n_explain=100, max_rows=5000)
    np.testing.assert_array_equal(rows, np.concatenate([np.arange(680, 780), holdout]))
    capped = explain_rows(1000, development, holdout, n_explain=100, max_rows=250)
    np.testing.assert_array_equal(capped, np.concatenate([np.arange(730, 780), holdout]))  # the most recent kept
    no_holdout = explain_rows(1000, np.arange(1000), np.array([], dtype=int), n_explain=300, max_rows=5000)
    np.testing.assert_array_equal(no_holdout, np.arange(700, 1000))
    with pytest.raises(TbError, match="max_rows"):
        explain_rows(10, np.arange(10), np.array([]), n_explain=5, max_rows=0)


def test_summary_ranks_by_mean_absolute_shap_beside_the_gain_rank():
    values = np.array([[0.1, -0.5, 0.0], [-0.3, 0.5, 0.2]])
    gain = pd.Series({"a": 10.0, "b": 5.0, "c": 1.0})
    table = shap_summary(values, ["a", "b", "c"], gain)
    assert table["feature"].tolist() == ["b", "a", "c"]
    assert table["rank"].tolist() == [1, 2, 3] and table["gain_rank"].tolist() == [2, 1, 3]
    np.testing.assert_allclose(table["mean_abs_shap"], [0.5, 0.2, 0.1])
    np.testing.assert_allclose(table["mean_shap"], [0.0, -0.1, 0.1])
    assert table["share"].sum() == pytest.approx(1.0)


def test_regime_table_covers_every_regime_value_present():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 2))
    regimes = pd.DataFrame(
        {
            "regime_gmm": rng.integers(0, 3, 300).astype(float),
            "regime_vix": np.where(np.arange(300) < 5, 2.0, np.where(np.arange(300) < 40, np.nan, 0.0)),
        }
    )
    table = regime_importance(values, ["x", "y"], regimes)
    assert set(map(tuple, table[["regime", "value"]].drop_duplicates().to_numpy())) == {
        ("regime_gmm", 0.0),
        ("regime_gmm", 1.0),
        ("regime_gmm", 2.0),
        ("regime_vix", 0.0),
        ("regime_vix", 2.0),
    }
    rare = table[(table["regime"] == "regime_vix") & (table["value"] == 2.0)].set_index("feature")
    assert (rare["rows"] == 5).all()
    np.testing.assert_allclose(rare.loc[["x", "y"], "mean_abs_shap"], np.abs(values[:5]).mean(axis=0))
    assert table[table["regime"] == "regime_vix"].groupby("value")["rows"].first().sum() == 265  # NaN rows left out
    assert regime_importance(values, ["x", "y"], regimes[[]]).empty


def test_ranking_stability():
    a = {"f1": 5.0, "f2": 4.0, "f3": 3.0, "f4": 2.0}
    assert ranking_stability(a, dict(a)) == (1.0, pytest.approx(1.0))
    overlap, rho = ranking_stability(a, {"f1": 2.0, "f2": 3.0, "f3": 4.0, "f4": 5.0})
    assert overlap == 1.0 and rho == pytest.approx(-1.0)
    overlap, rho = ranking_stability(a, {"g1": 1.0, "g2": 2.0})
    assert overlap == 0.0 and np.isnan(rho)
    shifted = ranking_stability({f"f{i}": float(i) for i in range(20)}, {f"f{i}": float(i) for i in range(5, 25)}, top=10)
    assert shifted[0] == 0.5 and shifted[1] == pytest.approx(1.0)  # top 10 f10-f19 vs f15-f24; same order where shared
