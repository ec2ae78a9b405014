"""model_experiments through Dagster: the zoo on a synthetic partition, the registry filled once,
lineage across materializations, and its checks failing where they must."""

import json

import dagster as dg
import pytest

from tb_assets.definitions import build_definitions
from tb_assets.training.registry import ModelRegistry
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import checks, failure_text, metadata, published, run, run_checks

EXPERIMENTS = pytest.mark.xdist_group("experiments")
CHAIN = [dg.AssetKey(a) for a in ("bars", "features", "targets")]
ZOO = [dg.AssetKey("model_experiments")]
# the quick preset, with smaller forests: the zoo's nine algorithms, one cohort each
SMALL = {
    "random_forest_regressor": {"n_estimators": [30], "max_depth": [4, 8]},
    "random_forest_classifier": {"n_estimators": [30], "max_depth": [4, 8]},
}


def zoo_config(**config):
    return {"ops": {"model_experiments": {"config": {"grids": SMALL, "n_jobs": 1, "shap_rows": 100, "permutation_rows": 200, **config}}}}


@pytest.fixture(scope="module")
def partition(tmp_path_factory):
    settings = make_settings(
        tmp_path_factory.mktemp("zoo"),
        source="synthetic",
        symbols=("SYN1",),
        timeframes=("1d",),
        context_symbols=(),
        synthetic_bars=1500,
        synthetic_signal=0.3,
    )
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    assert run(defs, "SYN1|1d", selection=CHAIN, instance=instance).success
    first = run(defs, "SYN1|1d", zoo_config(), selection=ZOO, instance=instance)
    return settings, defs, instance, first


def registry(settings):
    return ModelRegistry(f"sqlite:///{settings.registry_path}")


@EXPERIMENTS
@pytest.mark.cost(90)
def test_the_zoo_trains_nine_algorithms_once_and_registers_every_combination(partition):
    settings, defs, instance, first = partition
    assert first.success, failure_text(first)
    md = metadata(first, "model_experiments")
    report = json.loads((published(settings, "model_experiments") / "experiments.json").read_text())
    assert len(report["cohorts"]) == 9 and md["trained"] == 2 + 4 + 2 + 2 + 2 + 1 + 3 + 2 + 2 and md["already_registered"] == 0
    with registry(settings) as reg:
        rows = reg.find(symbol="SYN1", timeframe="1d")
        assert len(rows) == md["trained"] and len({r.fingerprint for r in rows}) == len(rows)
        for cohort in report["cohorts"]:
            best = reg.get(cohort["best_model_id"])
            assert best.rank_in_cohort == 1 and best.artifacts, cohort
            siblings = reg.find(cohort_id=cohort["cohort_id"])
            assert sorted(r.rank_in_cohort for r in siblings) == list(range(1, len(siblings) + 1))
        assert all(
            (published(settings, "model_experiments") / "cohorts" / f"{c['cohort_id']}_cv_results.csv").exists() for c in report["cohorts"]
        )
    found = checks(first)
    assert found["model_experiments_permutation_sentinel"].passed and found["model_experiments_no_raw_prices"].passed
    assert "## " not in md["leaderboard"] and "lightgbm_classifier" in md["leaderboard"]
    assert md["leaderboard_chart"].startswith("![")

    again = run(defs, "SYN1|1d", zoo_config(), selection=ZOO, instance=instance)
    assert again.success, failure_text(again)
    md2 = metadata(again, "model_experiments")
    assert md2["trained"] == 0 and md2["already_registered"] == md["trained"]
    assert md2["summary"].startswith("trained nothing new: all 20 combination(s) are already in the registry")
    assert md2["best_auc_model"] == md["best_auc_model"] and checks(again)["model_experiments_no_regression"].passed


@EXPERIMENTS
@pytest.mark.cost(30)
def test_a_child_experiment_replays_its_parents_pruning_and_records_the_link(partition):
    settings, defs, instance, first = partition
    parent_id = metadata(first, "model_experiments")["best_r2_model"]
    with registry(settings) as reg:
        parent = reg.get(parent_id)
    child = run(defs, "SYN1|1d", zoo_config(algorithms=["lightgbm_regressor"], parent_model_id=parent_id), selection=ZOO, instance=instance)
    assert child.success, failure_text(child)
    md = metadata(child, "model_experiments")
    assert md["feature_source"] == f"parent {parent_id}" and md["features"] == len(parent.features)
    with registry(settings) as reg:
        kid = reg.get(md["best_r2_model"])
        assert kid.parent_model_id == parent_id and kid.features == parent.features  # the parent's pruning replays in each fold
        assert [d["model_id"] for d in kid.data_options["lineage"]] == [parent_id]
        assert [r.id for r in reg.lineage(kid.id)] == [parent_id, kid.id]


@EXPERIMENTS
def test_bad_config_fails_the_run_naming_it(partition):
    settings, defs, instance, _ = partition
    bad = run(defs, "SYN1|1d", zoo_config(algorithms=["lightgbm_classifier", "neural_net"]), selection=ZOO, instance=instance)
    assert not bad.success and "unknown algorithm 'neural_net'" in failure_text(bad)
    bad = run(
        defs,
        "SYN1|1d",
        zoo_config(algorithms=["linear_regression"], feature_whitelist=["ret_1", "ret_999"]),
        selection=ZOO,
        instance=instance,
    )
    assert not bad.success and "feature_whitelist names feature(s) not in SYN1|1d's feature matrix: ret_999" in failure_text(bad)


@EXPERIMENTS
def test_the_checks_fail_on_bad_data(partition):
    settings, defs, instance, _ = partition
    # the sentinel, held to an impossible rule, fails and blocks
    strict = {
        "ops": {"model_experiments_model_experiments_permutation_sentinel": {"config": {"auc_tolerance": 0.0, "max_permuted_r2": -1.0}}}
    }
    result = run_checks(
        defs, "SYN1|1d", "model_experiments_permutation_sentinel", asset="model_experiments", run_config=strict, instance=instance
    )
    sentinel = checks(result)["model_experiments_permutation_sentinel"]
    assert not sentinel.passed and " permuted " in sentinel.metadata["problems"].value
    # a raw price among a registered model's features
    report = json.loads((published(settings, "model_experiments") / "experiments.json").read_text())
    victim = report["cohorts"][0]["best_model_id"]
    with registry(settings) as reg, reg.engine.begin() as con:
        from tb_assets.training.registry import MODELS

        features = reg.get(victim).features
        con.execute(MODELS.update().where(MODELS.c.id == victim).values(features=[*features, "close"]))
    try:
        result = run_checks(defs, "SYN1|1d", "model_experiments_no_raw_prices", asset="model_experiments", instance=instance)
        raw = checks(result)["model_experiments_no_raw_prices"]
        assert not raw.passed and f"model {victim}: close" in raw.metadata["raw_prices"].value
    finally:
        with registry(settings) as reg, reg.engine.begin() as con:
            con.execute(MODELS.update().where(MODELS.c.id == victim).values(features=features))


def test_a_drop_of_the_best_score_since_the_last_run_is_an_error(tmp_path):
    settings = make_settings(tmp_path, source="synthetic", symbols=("SYN1",), timeframes=("1d",), context_symbols=())
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    for auc in (0.61, 0.55):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("model_experiments", partition="SYN1|1d", metadata={"best_auc": auc, "best_r2": 0.01})
        )
    result = run_checks(defs, "SYN1|1d", "model_experiments_no_regression", asset="model_experiments", instance=instance)
    check = checks(result)["model_experiments_no_regression"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "best_auc fell 0.0600" in check.metadata["drops"].value and "best_r2" not in check.metadata["drops"].value
