"""The zoo on small partitions: no leakage, chance on a random walk, a planted signal found,
the registry skipping what it holds, lineage, and bad config named."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_selection import f_regression

from tb_assets.core.errors import TbError
from tb_assets.training.experiment import Experiment, ExperimentSpec, prepare_folds
from tb_assets.training.problem import build_problem
from tb_assets.training.registry import ModelRegistry, load_model
from tb_assets.training.validation import validation_splits
from tb_assets.training.zoo import ALGORITHMS
from tb_assets_tests.training.frames import FEATURES, GROUPS, partition

FAST = {
    "random_forest_regressor": {"n_estimators": [30], "max_depth": [4]},
    "random_forest_classifier": {"n_estimators": [30], "max_depth": [4]},
}


def experiment(tmp_path, data, registry=None, **spec):
    bars, features, targets = data
    registry = registry or ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}")
    spec = ExperimentSpec(
        **{"symbol": "SYN", "timeframe": "1d", "n_jobs": 1, "shap_rows": 50, "permutation_rows": 200, "permutation_repeats": 2, **spec}
    )
    return Experiment(
        spec,
        bars=bars,
        features=features,
        targets=targets,
        catalog=FEATURES,
        groups=GROUPS,
        registry=registry,
        model_folder=lambda fp: tmp_path / "models" / fp[:16],
    )


def test_scaling_and_p_value_pruning_are_fitted_on_each_folds_training_rows_only():
    """A feature that tracks the target only on the test rows of fold 0 must be pruned there (an
    F-test on all rows would keep it), and each scaler's mean is its training rows' mean."""
    bars, features, targets = partition(n=1200, seed=3)
    problem = build_problem(bars, features, targets, FEATURES, task="regression", target="log_return")
    _, splits = validation_splits(problem, "purged_kfold", 4, 0.0)
    train, test = splits[0]
    X = problem.X.to_numpy().copy()
    X[test, 4] = problem.y[test] * 100  # f4 = the target itself, but only on fold 0's test rows
    problem.X.loc[:, "f4"] = X[:, 4]
    _, p_all = f_regression(np.nan_to_num(X), problem.y)
    assert p_all[4] < 1e-10  # seen on all rows, it is the best feature there is
    (fold0, *_) = prepare_folds(problem, splits, GROUPS, linear=True, p_value_threshold=0.05, threads=1)
    pruner = fold0.preprocessor.named_steps["prune"]
    scaler = fold0.preprocessor.named_steps["columns"].named_transformers_["standard"].named_steps["scale"]
    assert pruner.n_samples_seen_ == len(train) and scaler.n_samples_seen_ == len(train)
    standard = [FEATURES.index(f) for f in FEATURES if GROUPS[f] == "standard"]
    train_means = np.nanmean(X[train][:, standard], axis=0)
    np.testing.assert_allclose(scaler.mean_, train_means, rtol=1e-9)
    names = fold0.preprocessor.named_steps["columns"].get_feature_names_out(FEATURES)
    assert not pruner.support_[list(names).index("f4")], "f4 was kept: the pruning saw the test rows"


@pytest.mark.cost(40)
def test_random_walk_scores_chance_for_every_algorithm(tmp_path):
    result = experiment(tmp_path, partition(n=2000, signal=0.0, seed=1), grids=FAST).run()
    assert {c.algorithm for c in result.cohorts} == set(ALGORITHMS)
    for cohort in result.cohorts:
        best = cohort.best
        if cohort.task == "regression":
            assert best.score <= 0.02, (cohort.algorithm, best.score)
        else:
            assert abs(best.score - 0.5) < 0.05, (cohort.algorithm, best.score)
        assert best.artifacts and "pipeline.joblib" in best.artifacts


@pytest.mark.cost(30)
def test_a_planted_signal_is_found_by_linear_and_tree_models(tmp_path):
    algorithms = ("linear_regression", "lightgbm_regressor", "logistic_classification", "xgboost_classifier")
    result = experiment(tmp_path, partition(n=2000, signal=0.8, seed=2), algorithms=algorithms).run()
    scores = {c.algorithm: c.best.score for c in result.cohorts}
    assert scores["linear_regression"] > 0.2 and scores["lightgbm_regressor"] > 0.1, scores
    assert scores["logistic_classification"] > 0.7 and scores["xgboost_classifier"] > 0.65, scores
    for cohort in result.cohorts:  # the planted feature ranks first by SHAP and by permutation
        table = __import__("pandas").read_csv(cohort.best.artifacts["importance.csv"]["path"])
        assert table.iloc[0]["feature"] == "f0", (cohort.algorithm, table.head(3))
        assert table.set_index("feature")["permutation_mean"].idxmax() == "f0"


def test_a_second_run_trains_nothing_and_a_saved_model_loads_verified(tmp_path):
    data = partition(n=800, seed=4)
    algorithms = ("elasticnet_regression", "lightgbm_classifier")
    first = experiment(tmp_path, data, algorithms=algorithms).run()
    assert first.trained == 4 + 2 and first.skipped == 0
    again = experiment(tmp_path, data, algorithms=algorithms).run()
    assert again.trained == 0 and again.skipped == 6
    assert [c.best.id for c in again.cohorts] == [c.best.id for c in first.cohorts]
    ranks = sorted(r.rank_in_cohort for r in first.cohorts[0].models)
    assert ranks == [1, 2, 3, 4] and len({r.cohort_id for r in first.cohorts[0].models}) == 1
    best = first.cohorts[1].best
    model = load_model(best)
    bars, features, _ = data
    assert model.predict_proba(features[best.features].iloc[:5]).shape == (5, 2)
    assert "model.txt" in best.artifacts  # LightGBM's own format beside the pipeline
    Path(best.artifacts["pipeline.joblib"]["path"]).write_bytes(b"tampered")
    with pytest.raises(TbError, match="does not match the SHA-256"):
        load_model(best)
    changed = (bars, features.assign(f0=features["f0"] * 1.01), data[2])
    assert experiment(tmp_path, changed, algorithms=algorithms).run().trained == 6  # new data: new fingerprints


def test_a_child_replays_its_parents_pruning_and_the_lineage_is_recorded(tmp_path):
    data = partition(n=1000, signal=0.8, seed=5)
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}")
    parent = experiment(tmp_path, data, registry, algorithms=("linear_regression",), p_value_threshold=0.5).run().cohorts[0].best
    assert 0 < len(parent.used_features) < len(FEATURES)  # pruning dropped some
    child = experiment(tmp_path, data, registry, algorithms=("linear_regression",), parent_model_id=parent.id, p_value_threshold=0.01).run()
    kid = child.cohorts[0].best
    # the parent's inputs, with its pruning replayed on each fold's rows (and on all rows for the final fit)
    assert child.feature_source == f"parent {parent.id}" and kid.features == parent.features
    assert kid.data_options["lineage"] == [{"model_id": parent.id, "linear": True, "p_value_threshold": 0.5}]
    assert set(kid.used_features) <= set(parent.used_features)  # the final fit replays the parent's all-row pruning
    assert kid.parent_model_id == parent.id and kid.fingerprint != parent.fingerprint
    grandchild = (
        experiment(tmp_path, data, registry, algorithms=("linear_regression",), parent_model_id=kid.id, p_value_threshold=0.01)
        .run()
        .cohorts[0]
        .best
    )
    assert grandchild.features == parent.features and [d["model_id"] for d in grandchild.data_options["lineage"]] == [parent.id, kid.id]
    assert set(grandchild.used_features) <= set(kid.used_features)
    assert [r.id for r in registry.lineage(grandchild.id)] == [parent.id, kid.id, grandchild.id]
    whitelisted = experiment(
        tmp_path, data, registry, algorithms=("linear_regression",), parent_model_id=kid.id, feature_whitelist=("f1", "f2")
    ).run()
    assert whitelisted.feature_source == "whitelist" and whitelisted.cohorts[0].best.features == ["f1", "f2"]
    assert "lineage" not in whitelisted.cohorts[0].best.data_options  # none inherited: the fingerprint of before


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"algorithms": ("lightgbm_classifier", "deep_learning")}, "unknown algorithm 'deep_learning'"),
        ({"algorithms": ()}, "algorithms is empty"),
        ({"grids": {"lightgbm_classifier": {}}}, "grids.lightgbm_classifier is empty"),
        ({"grids": {"xgboost_regresor": {"max_depth": [3]}}}, "unknown algorithm.*xgboost_regresor"),
        ({"feature_whitelist": ("f0", "volume_z_99")}, "feature_whitelist names feature.*volume_z_99"),
        ({"target_transform": "log"}, "target_transform must be one of"),
        ({"classification_target": "label"}, "classification_target must be one of"),
        ({"parent_model_id": 999}, "model 999 is not in the registry"),
    ],
)
def test_bad_config_fails_naming_what_is_wrong(tmp_path, spec, message):
    with pytest.raises(TbError, match=message):
        experiment(tmp_path, partition(n=300), **spec).run()


def test_raw_prices_never_become_inputs():
    bars, features, targets = partition(n=300)
    features = features.assign(close_IXIC=1.0)
    with pytest.raises(TbError, match="raw price columns cannot be model inputs: close_IXIC"):
        build_problem(bars, features, targets, ["f0", "close_IXIC"], task="regression", target="log_return")


def test_a_parent_from_another_partition_is_refused(tmp_path):
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}")
    data = partition(n=400)
    parent = experiment(tmp_path, data, registry, algorithms=("linear_regression",)).run().cohorts[0].best
    bars, features, targets = data
    spec = ExperimentSpec("OTHER", "1d", algorithms=("linear_regression",), parent_model_id=parent.id)
    other = Experiment(
        spec,
        bars=bars,
        features=features,
        targets=targets,
        catalog=FEATURES,
        groups=GROUPS,
        registry=registry,
        model_folder=lambda fp: tmp_path / fp,
    )
    with pytest.raises(TbError, match=r"parent_model_id 1 was trained on SYN\|1d, not OTHER\|1d"):
        other.run()


def test_the_sentinel_catches_pruning_that_saw_the_test_rows(tmp_path, monkeypatch):
    """The leak the permuted-label sentinel exists for: feature pruning fitted on every row (test
    rows too) keeps noise that happens to match the labels there, and a model on it beats chance
    out of sample even on permuted labels. The honest recipe (preprocessing fitted inside each
    fold) scores chance. The sentinel is the chain's (leakage.permuted_label_scores)."""
    import pandas as pd
    from sklearn.base import BaseEstimator, TransformerMixin

    import tb_assets.training.experiment as experiment_module
    from tb_assets.core.labels.forward import forward_returns
    from tb_assets.core.modeling.estimators.preprocessed import preprocessed
    from tb_assets.core.modeling.leakage import permuted
    from tb_assets.training.preprocess import build_preprocessor

    rng = np.random.default_rng(0)
    n, k = 600, 500  # seeds 0-3: honest 0.47-0.52, leaky 0.59-0.65
    ts = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    names = [f"n{j}" for j in range(k)]
    features = pd.DataFrame(rng.normal(size=(n, k)), columns=names).assign(ts=ts)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    bars = pd.DataFrame({"ts": ts, "close": close})
    targets = forward_returns(pd.Series(close, index=ts), 1).rename_axis("ts").reset_index().iloc[:-1]
    targets = targets.assign(t1=targets["fwd_t1"], bin=targets["fwd_direction"].astype("int64"), weight=1.0)
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}")
    spec = ExperimentSpec(
        "SYN",
        "1d",
        algorithms=("logistic_classification",),
        grids={"logistic_classification": {"C": [1.0]}},
        p_value_threshold=0.01,
        n_jobs=1,
        shap_rows=20,
        permutation_rows=50,
        permutation_repeats=1,
        holdout_pct=0.0,
    )
    run = Experiment(
        spec,
        bars=bars,
        features=features,
        targets=targets,
        catalog=names,
        groups={f: "standard" for f in names},
        registry=registry,
        model_folder=lambda fp: tmp_path / fp[:16],
    )
    best = run.run().cohorts[0].best
    honest = run.sentinel(best)["auc"]
    assert abs(honest - 0.5) <= 0.06  # honest: chance

    class FittedOnEveryRow(TransformerMixin, BaseEstimator):
        """Preprocessing fitted once on every row and the sentinel's permuted labels (`pre`, below):
        fold fits do not refit it (no parameter, so the engine's clone keeps it)."""

        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return pre.transform(X)

    rows = run.rows("classification", names)
    dev = rows.dev
    pre = build_preprocessor(names, {f: "standard" for f in names}, linear=True, task="classification", p_value_threshold=0.01)
    pre.fit(dev.X.to_numpy(), permuted(dev.y, seed=0))  # every row, the test rows too

    def leaky(algo, params, spec, features, groups, lineage=()):
        return preprocessed(FittedOnEveryRow(), algo.make(params, spec.seed, spec.n_jobs))

    monkeypatch.setattr(experiment_module, "recipe", leaky)
    leak = run.sentinel(best)["auc"]
    assert leak > 0.56  # beyond the check's 0.5 + 0.06: the check fails


def test_the_zoo_validates_on_development_rows_and_scores_the_holdout_once(tmp_path):
    """The chain's untouched holdout, for the zoo too: flipping every label inside it moves no CV
    score of any combination, and the cohort's best (the only row that meets it) scores exactly
    1 - AUC there."""
    import pandas as pd

    bars, features, targets = partition(n=1000, signal=0.8, seed=6)
    first = experiment(tmp_path / "a", (bars, features, targets), algorithms=("logistic_classification",)).run().cohorts[0]
    best = first.best
    holdout = best.metrics["holdout"]
    assert 0.15 * best.n_rows < holdout["n_samples"] < 0.25 * best.n_rows and holdout["auc"] > 0.6
    assert all(r.metrics.get("holdout") is None for r in first.models[1:])  # one look, by the cohort's choice only
    assert best.data_options["holdout_start"] == holdout["start"] and best.data_options["sample_weights"] == "uniqueness"
    inside = targets["ts"] >= pd.Timestamp(holdout["start"])
    flipped = targets.assign(fwd_direction=np.where(inside, 1 - targets["fwd_direction"], targets["fwd_direction"]))
    second = experiment(tmp_path / "b", (bars, features, flipped), algorithms=("logistic_classification",)).run().cohorts[0]
    assert [(r.params, r.score) for r in second.models] == [(r.params, r.score) for r in first.models]
    assert second.best.metrics["holdout"]["auc"] == pytest.approx(1 - holdout["auc"], abs=1e-12)


def test_every_zoo_fit_is_weighted_by_the_labels_uniqueness(tmp_path, monkeypatch):
    """The grid's folds, the holdout model and the saved model all train with the rows' uniqueness
    weights (the chain's), never unweighted: each fit is handed exactly the weights of its rows."""
    import tb_assets.training.experiment as experiment_module
    from tb_assets.core.modeling.estimators import contract

    run = experiment(tmp_path, partition(n=800, seed=9), algorithms=("logistic_classification",))
    rows = run.rows("classification", FEATURES)
    assert rows.problem.weight.std() > 0  # overlapping labels: the weights differ
    for fold, (train, test) in zip(run.prepared("classification", FEATURES, True), rows.splits):
        np.testing.assert_array_equal(fold.folds.weight, np.concatenate([rows.dev.weight[train], rows.dev.weight[test]]))
    handed = []

    def spy(estimator, X, y, sample_weight=None):
        handed.append((len(y), sample_weight))
        return contract.fit(estimator, X, y, sample_weight)

    monkeypatch.setattr(experiment_module, "fit", spy)
    run.run()
    ((n, weight),) = handed  # the cohort's best, saved: fitted on every row with every row's weight
    assert n == len(rows.problem.y)
    np.testing.assert_array_equal(weight, rows.problem.weight)
