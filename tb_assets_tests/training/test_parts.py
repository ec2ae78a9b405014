"""The training service's parts: targets and price reconstruction, validation choices, the zoo's
estimators, saving every grid model, the cv_results layout."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.errors import TbError
from tb_assets.core.labels.forward import TRANSFORMS, forward_returns, price_from_change
from tb_assets.core.modeling.estimators.linear import ElasticNetOrOLS
from tb_assets.training.problem import build_problem
from tb_assets.training.validation import validation_splits
from tb_assets.training.zoo import ALGORITHMS
from tb_assets_tests.training.frames import FEATURES, partition
from tb_assets_tests.training.test_experiment import experiment


@settings(max_examples=50, deadline=None)
@given(close=st.floats(1.0, 1e5), future=st.floats(1.0, 1e5), transform=st.sampled_from(["log_return", "pct_change", "none"]))
def test_a_predicted_change_turns_back_into_the_price_it_implies(close, future, transform):
    """The targets table's forward change (core.labels.forward) and the price it implies are inverses."""
    fwd = forward_returns(pd.Series([close, future], index=pd.date_range("2024-01-01", periods=2, tz="UTC")), 1)
    change = fwd[TRANSFORMS[transform]].to_numpy()[:1]
    assert price_from_change(np.array([close]), change, transform)[0] == pytest.approx(future, rel=1e-9)


def test_targets_come_from_the_targets_table_with_their_weights_and_unknown_futures_are_not_rows():
    bars, features, targets = partition(n=50, lookforward=3)
    close = bars["close"].to_numpy()
    p = build_problem(bars, features, targets, FEATURES, task="regression", target="pct_change")
    assert len(p.y) == 45 and p.lookforward == 3 and p.t1.index[0] == bars["ts"][0] and p.t1.iloc[0] == bars["ts"][3]
    np.testing.assert_allclose(p.y, close[3:48] / close[:45] - 1)
    # each forward label spans 3 bars after its start: overlapping labels weigh less, mean 1 (AFML ch. 4)
    assert p.weight.mean() == pytest.approx(1.0) and p.weight[0] > p.weight[10]
    d = build_problem(bars, features, targets, FEATURES, task="classification", target="direction")
    np.testing.assert_array_equal(d.y, (close[3:48] >= close[:45]).astype(int))
    b = build_problem(bars, features, targets, FEATURES, task="classification", target="bin")
    assert len(b.y) == len(targets) and (b.t1.to_numpy() == targets["t1"].to_numpy()).all()
    np.testing.assert_array_equal(b.weight, targets["weight"].to_numpy())  # the chain's own weights
    with pytest.raises(TbError, match="no fwd_log_return column: materialize targets again"):
        build_problem(bars, features, targets.drop(columns="fwd_log_return"), FEATURES, task="regression", target="log_return")
    with pytest.raises(TbError, match="no fwd_t1 column: materialize targets again"):
        build_problem(bars, features, targets.drop(columns="fwd_t1"), FEATURES, task="classification", target="direction")
    # a horizon that is not one number of bars (a table stitched from two targets runs) is refused
    stitched = targets.assign(fwd_t1=targets["fwd_t1"].where(targets.index < 20, targets["ts"].shift(-4)))
    with pytest.raises(TbError, match="forward targets look 3 to 4 bars ahead"):
        build_problem(bars, features, stitched, FEATURES, task="regression", target="log_return")


def test_validation_follows_data_split_blocks_else_purged_folds_or_a_holdout():
    bars, features, targets = partition(n=600, lookforward=5)
    blocks = np.where((np.arange(600) // 100) % 2 == 0, "train", "test")
    with_split = build_problem(bars.assign(data_split=blocks), features, targets, FEATURES, task="regression", target="log_return")
    used, splits = validation_splits(with_split, "auto", 5, 0.01)
    assert used == "walk_forward_data_split" and len(splits) == 3
    for train, test in splits:  # a train block never holds a row whose label reaches into its test block
        assert with_split.t1.iloc[train].max() < with_split.t1.index[test].min()
        assert set(with_split.data_split[train]) == {"train"} and set(with_split.data_split[test]) == {"test"}
    plain = build_problem(bars, features, targets, FEATURES, task="regression", target="log_return")
    assert validation_splits(plain, "auto", 5, 0.01)[0] == "purged_kfold"
    assert validation_splits(plain, "walk_forward", 4, 0.0)[0] == "walk_forward_expanding"
    used, ((train, test),) = validation_splits(plain, "holdout", 5, 0.0)
    assert used == "holdout" and len(test) == round(0.2 * len(plain.y)) and train.max() < test.min() - 4  # label spans purged


def test_elasticnet_falls_back_to_ols_when_it_zeroes_everything():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    assert ElasticNetOrOLS(alpha=1e3).fit(X, y).fallback_ == "ols"
    assert ElasticNetOrOLS(alpha=1e-4).fit(X, y).fallback_ is None


def test_every_zoo_estimator_fits_and_predicts_through_the_contract():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    for algo in ALGORITHMS.values():
        y = (X[:, 0] > 0).astype(int) if algo.task == "classification" else X[:, 0] + rng.normal(0, 0.1, 300)
        model = algo.make({}, 0, 1).fit(X, y)
        out = model.predict_proba(X)[:, 1] if algo.task == "classification" else model.predict(X)
        assert out.shape == (300,) and np.corrcoef(out, X[:, 0])[0, 1] > 0.5, algo.name


def test_save_all_grid_models_saves_each_combination_and_cv_results_use_sklearns_names(tmp_path):
    result = experiment(
        tmp_path, partition(n=600, seed=8), algorithms=("elasticnet_regression",), save_all_grid_models=True, p_value_threshold=None
    ).run()
    (cohort,) = result.cohorts
    assert len(cohort.models) == 4 and all("pipeline.joblib" in r.artifacts for r in cohort.models)
    table = cohort.cv_results
    assert {
        "params",
        "param_alpha",
        "param_l1_ratio",
        "split0_test_r2",
        "split4_test_r2",
        "mean_test_r2",
        "std_test_r2",
        "rank_test_r2",
        "mean_fit_time",
        "mean_test_rmse_price",
    } <= set(table.columns)
    assert table.loc[table["rank_test_r2"] == 1, "mean_test_r2"].iloc[0] == table["mean_test_r2"].max()
    importance = pd.read_csv(cohort.best.artifacts["importance.csv"]["path"]).set_index("feature")
    assert set(importance.index) == set(FEATURES) and importance.loc["regime_x", "abs_coefficient"] >= 0  # one-hot mapped back
    assert {"abs_coefficient", "permutation_mean", "mean_abs_shap"} <= set(importance.columns)
