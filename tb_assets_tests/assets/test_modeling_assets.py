"""selected_features -> best_params -> production_model on synthetic data, and their checks."""

import hashlib
import json
import logging
import pickle

import dagster as dg
import lightgbm as lgb
import numpy as np
import optuna
import pytest

from tb_assets.core.modeling.calibration import Calibration
from tb_assets.core.modeling.grades import GRADED, grade_table
from tb_assets.definitions import build_definitions
from tb_assets.storage.records import METADATA_FIELDS, ModelCard
from tb_assets_tests.assets.conftest import FAST, PLANTED, model_dir, pristine_copy
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import SIGNAL_FEATURES, checks, failure_text, metadata, published, run, run_checks, stored, tamper, upto


@pytest.mark.cost(120)
def test_no_signal_scores_a_coin_and_the_permutation_sentinel_passes(tmp_path):
    """Four pure random walks. One holdout of ~460 overlapping labels is noisy (AUC 0.46-0.55
    measured), so the coin is judged on the mean; the out-of-fold AUC is read on the development
    events, the rows selection and tuning chose on, so it keeps their selection bias (0.53-0.56
    measured), the holdout none."""
    oof, holdout = [], []
    for seed in range(4):
        settings = make_settings(
            tmp_path / str(seed),
            source="synthetic",
            symbols=("SYN1",),
            timeframes=("1d",),
            context_symbols=(),
            synthetic_bars=2500,
            synthetic_signal=0.0,
            synthetic_seed=seed,
        )
        result = run(build_definitions(settings), "SYN1|1d", FAST, selection=upto("production_model"))
        assert result.success, failure_text(result)
        md = metadata(result, "production_model")
        oof.append(md["oof_auc"])
        holdout.append(md["holdout_auc"])
        sentinel = checks(result)["production_model_leakage_sentinels"]
        assert sentinel.passed and abs(sentinel.metadata["permuted_auc"].value - 0.5) < 0.06
        assert not checks(result)["production_model_grades"].passed  # a coin grades below Acceptable (WARN)
    assert all(abs(a - 0.5) < 0.08 for a in oof), oof
    assert abs(np.mean(holdout) - 0.5) < 0.04, (oof, holdout)


@PLANTED
@pytest.mark.cost(120)
def test_selection_and_tuning_never_see_the_holdout(planted, tmp_path):
    """Flip every label inside the holdout: selection and tuning must not notice, and the holdout
    AUC of the unchanged development model must become exactly 1 - AUC."""
    settings, defs = pristine_copy(planted, tmp_path)
    selection = json.loads((published(settings, "selected_features") / "selection.json").read_text())
    params = json.loads((published(settings, "best_params") / "best_params.json").read_text())["params"]
    before = json.loads((model_dir(settings) / "model_metadata.json").read_text())
    holdout_model = (model_dir(settings) / "holdout_model.txt").read_text()
    start = selection["holdout_start"]
    assert selection["holdout_samples"] == before["holdout_metrics"]["n_samples"] > 0.15 * before["n_samples"]
    tamper(settings, f"UPDATE targets SET bin = 1 - bin WHERE symbol = 'SYN1' AND timeframe = '1d' AND ts >= TIMESTAMPTZ '{start}'")
    retuned = {"ops": {**FAST["ops"], "best_params": {"config": {**FAST["ops"]["best_params"]["config"], "resume": False}}}}
    second = run(defs, "SYN1|1d", retuned, selection=[dg.AssetKey(a) for a in ("selected_features", "best_params", "production_model")])
    assert second.success, failure_text(second)
    again = json.loads((published(settings, "selected_features") / "selection.json").read_text())
    assert again["selected"] == selection["selected"] and again["history"] == selection["history"]
    assert json.loads((published(settings, "best_params") / "best_params.json").read_text())["params"] == params
    after = json.loads((model_dir(settings) / "model_metadata.json").read_text())
    assert after["holdout_metrics"]["auc"] == pytest.approx(1 - before["holdout_metrics"]["auc"], abs=1e-12)
    # everything the holdout model learns from is development: the same booster, class weight, calibrator and
    # out-of-fold numbers (read on development events only)
    assert (model_dir(settings) / "holdout_model.txt").read_text() == holdout_model
    for key in ("development_scale_pos_weight", "calibration", "oof_metrics"):
        assert after[key] == before[key], key
    # a holdout of one class cannot be scored: the run says which events and what to change
    tamper(settings, f"UPDATE targets SET bin = 1 WHERE symbol = 'SYN1' AND timeframe = '1d' AND ts >= TIMESTAMPTZ '{start}'")
    one_class = run(defs, "SYN1|1d", FAST, selection=[dg.AssetKey("production_model")])
    assert not one_class.success and "the holdout events (holdout from" in failure_text(one_class)
    assert "change holdout_pct" in failure_text(one_class)


@PLANTED
def test_planted_signal_is_found(planted):
    settings, _, _, result = planted
    assert result.success, failure_text(result)
    md = metadata(result, "production_model")
    assert md["oof_auc"] > 0.6 and md["holdout_auc"] > 0.6 and md["params_source"] == "best_params"
    selected = (published(settings, "selected_features") / "selected_features.txt").read_text().split()
    assert set(selected) & SIGNAL_FEATURES
    evaluations = checks(result)
    # every evaluation says in words what it found (the UI's check page shows it; the metadata holds the numbers)
    assert len(evaluations) >= 17 and all(e.description for e in evaluations.values()), [
        n for n, e in evaluations.items() if not e.description
    ]
    for name in (
        "production_model_leakage_sentinels",
        "production_model_features_match",
        "best_params_found",
        "production_model_no_regression",
        "production_model_holdout_confirms",
    ):
        assert evaluations[name].passed, name
    # every metric graded, out-of-fold and on the holdout: no blank lift (the OOF metrics once lacked the positive rate)
    grades = {k: v.value for k, v in evaluations["production_model_grades"].metadata.items() if "grade_" in k}
    assert {k for k in grades if k.startswith("grade_")} == {f"grade_{m}" for m in GRADED}
    assert {k for k in grades if k.startswith("holdout_grade_")} == {f"holdout_grade_{m}" for m in GRADED if m != "auc_cv"}
    assert set(grades.values()) <= {"excellent", "good", "acceptable", "below"}, grades
    for table in (md["grades"], evaluations["production_model_grades"].metadata["grades"].value):
        assert "nan" not in table.lower(), table
    bp = json.loads((published(settings, "best_params") / "best_params.json").read_text())
    assert bp["all_pruned"] is False and len(bp["metrics"]["folds"]) == 5 and sum(bp["trials"].values()) == 6
    assert (published(settings, "best_params") / "trials_history.csv").exists()
    # every complete trial's out-of-fold predictions are kept for the strategy layer, on the development rows
    from tb_assets.storage.records import TunedParams

    tuned = TunedParams.load(settings.artifacts_dir, "SYN1", "1d")
    rows, kept = tuned.trial_predictions(settings.artifacts_dir, "SYN1", "1d")
    assert len(kept) == bp["trials"].get("complete") and len(rows) == bp["development_samples"]
    assert all(len(p) == len(rows) and np.isfinite(p).all() for p in kept.values())
    assert set(rows["fold"]) == set(range(5)) and rows["ts"].is_monotonic_increasing


@PLANTED
def test_model_artifacts_and_metadata_fields(planted):
    settings, _, _, result = planted
    folder = model_dir(settings)
    meta = json.loads((folder / "model_metadata.json").read_text())
    assert tuple(meta) == METADATA_FIELDS
    assert set(meta["oof_metrics"]) == {
        "auc",
        "aupr",
        "brier",
        "precision_at_10",
        "spread",
        "auc_cv",
        "positive_rate",
        "aupr_lift",
        "precision_at_10_lift",
        "brier_skill",
        "auc_se",
        "auc_lower",
        "n_samples",
    }
    assert meta["calibration"]["method"] in ("none", "platt", "isotonic") and set(meta["calibration"]["oof_brier"]) == {
        "none",
        "platt",
        "isotonic",
    }
    holdout = meta["holdout_metrics"]
    assert set(holdout) == {
        "auc",
        "aupr",
        "brier",
        "precision_at_10",
        "spread",
        "n_samples",
        "positive_rate",
        "aupr_lift",
        "precision_at_10_lift",
        "brier_skill",
        "auc_cv",
        "development_samples",
        "date_range",
        "auc_se",
        "auc_lower",
    }
    # every grade is computed, out of fold and on the holdout: no blank, no NaN
    table = grade_table(meta["oof_metrics"], holdout)
    assert np.isfinite(table[["oof", "holdout"]].to_numpy("float64")).all(), table
    assert "-" not in set(table.loc[table["metric"].isin(GRADED), ["oof_grade", "holdout_grade"]].to_numpy().ravel()), table
    assert 0 < holdout["auc_se"] < 0.1 and holdout["auc_lower"] < holdout["auc"]
    assert holdout["date_range"][1] == meta["date_range"][1] and holdout["development_samples"] + holdout["n_samples"] < meta["n_samples"]
    for name, digest in meta["artifact_sha256"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    model = pickle.loads((folder / "production_model.pkl").read_bytes())
    feats = stored(settings, "SYN1", "1d", "features")[meta["features"]].iloc[:50]
    assert meta["scale_pos_weight"] is None  # the planted labels are balanced: the booster's own probability, then calibrated
    calibrated = Calibration.from_dict(meta["calibration"]).apply(booster.predict(feats.to_numpy()))
    np.testing.assert_allclose(model.predict_proba(feats)[:, 1], calibrated, rtol=1e-9)
    loaded = ModelCard.load(settings.artifacts_dir, "SYN1", "1d").model(settings.artifacts_dir, "SYN1", "1d")
    np.testing.assert_allclose(loaded.predict_proba(feats)[:, 1], calibrated, rtol=1e-9)
    assert meta["n_features"] == len(meta["features"]) and meta["sample_weights_used"] is True
    assert meta["train_auc"] >= meta["oof_metrics"]["auc"]  # in-sample beats out-of-sample
    importance = (folder / "feature_importance.csv").read_text().splitlines()
    assert importance[0] == "feature,gain,split" and len(importance) == meta["n_features"] + 1


@PLANTED
def test_regression_check_fails_when_the_model_gets_worse(planted):
    settings, defs, instance, first = planted
    # a model whose out-of-fold AUC was read another way (before metrics_version 2) is never compared with
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="production_model", partition="SYN1|1d", metadata={"oof_auc": 0.99})
    )
    path = published(settings, "selected_features") / "selected_features.txt"
    path.write_text("dow\n")  # a feature with nothing to say about the label
    worse = run(defs, "SYN1|1d", FAST, selection=[dg.AssetKey("production_model")], instance=instance)
    assert worse.success  # ERROR severity, not blocking
    evaluation = checks(worse)["production_model_no_regression"]
    assert not evaluation.passed and evaluation.metadata["drop"].value > 0.02
    assert evaluation.metadata["previous_oof_auc"].value == pytest.approx(metadata(first, "production_model")["oof_auc"])
    # tb run prints what a failed check found, not only its name
    from tb_assets.runs.launch import ProgressLines, outcome_of

    lines = ProgressLines()
    printed = [line for line in map(lines.line, worse.all_events) if line]
    assert any(line.startswith("check production_model_no_regression failed (ERROR): out-of-fold AUC") for line in printed), printed
    errors = outcome_of(instance, "SYN1|1d", worse.run_id, 1.0).errors
    assert any(e.startswith("production_model_no_regression failed: out-of-fold AUC") for e in errors), errors
    assert checks(worse)["production_model_features_match"].passed


@PLANTED
def test_leakage_sentinels_fail_beyond_their_bounds(planted):
    """The planted model passes with the defaults (tested above); tightened bounds must trip each rule."""
    settings, defs, _, _ = planted
    name = "production_model_leakage_sentinels"
    oof = json.loads((model_dir(settings) / "model_metadata.json").read_text())["oof_metrics"]
    assert oof["auc_lower"] < oof["auc"] - 0.01  # judged on the lower confidence bound, not the point estimate
    just_above = {"ops": {f"production_model_{name}": {"config": {"max_plausible_auc_daily": oof["auc_lower"] + 0.005}}}}
    assert checks(run_checks(defs, "SYN1|1d", name, asset="production_model", run_config=just_above))[name].passed
    strict_ceiling = {"ops": {f"production_model_{name}": {"config": {"max_plausible_auc_daily": oof["auc_lower"] - 0.01}}}}
    res = run_checks(defs, "SYN1|1d", name, asset="production_model", run_config=strict_ceiling)
    evaluation = checks(res)[name]
    assert not res.success and not evaluation.passed  # blocking
    assert "implausibly high for 1d bars" in evaluation.metadata["problems"].value
    from tb_assets.runs.events import failure_reason  # what tb backfill prints for the failed partition

    assert failure_reason(res.all_events).startswith(f"{name} failed: ") and "implausibly high" in failure_reason(res.all_events)
    no_tolerance = {"ops": {f"production_model_{name}": {"config": {"permutation_tolerance": 0.0}}}}
    evaluation = checks(run_checks(defs, "SYN1|1d", name, asset="production_model", run_config=no_tolerance))[name]
    assert not evaluation.passed and "permuted-label AUC" in evaluation.metadata["problems"].value


@PLANTED
@pytest.mark.cost(60)
def test_a_model_failing_a_blocking_check_never_becomes_the_latest(planted, tmp_path):
    """Issue 26: the sentinel fails on a newly trained model, so readers keep opening the previous
    one; the refused version is kept, named in the failure and by `tb models production`; the same
    check passing on it later publishes it."""
    from tb_assets.cli.models import production_rows
    from tb_assets.storage import versions

    settings, defs = pristine_copy(planted, tmp_path)
    before = ModelCard.load(settings.artifacts_dir, "SYN1", "1d")
    good = (model_dir(settings) / "model.txt").read_bytes()
    name = "production_model_leakage_sentinels"
    strict = {"ops": {"production_model": {"config": {"seed": 1}}, f"production_model_{name}": {"config": {"permutation_tolerance": 0.0}}}}
    failed = run(defs, "SYN1|1d", strict, selection=[dg.AssetKey(a) for a in ("production_model", "shap_report")])
    assert not failed.success and not checks(failed)[name].passed
    assert checks(failed)["production_model_features_match"].passed
    assert not any(e.is_step_success and e.step_key == "shap_report" for e in failed.all_events)  # blocked downstream
    refused = metadata(failed, "production_model")["version"]
    assert refused != before.version
    evaluation = checks(failed)[name]
    assert f"version {refused} is not published" in evaluation.description and f"latest stays {before.version}" in evaluation.description
    # readers (and the next run's assets) still open the previous model, byte for byte
    assert ModelCard.load(settings.artifacts_dir, "SYN1", "1d").version == before.version
    assert (model_dir(settings) / "model.txt").read_bytes() == good
    partition = ModelCard.partition_folder(settings.artifacts_dir, "SYN1", "1d")
    assert (versions.version_folder(partition, refused) / "model.txt").read_bytes() != good  # kept for inspection
    row = production_rows(settings, ["SYN1|1d"])[0]
    assert row["version"] == before.version and row["unpublished"]["version"] == refused
    assert list(row["unpublished"]["refused_by"]) == [name] and "permuted-label AUC" in row["unpublished"]["refused_by"][name]
    # the check run again with its default bounds passes on the kept version, which then goes live
    again = run_checks(defs, "SYN1|1d", name, asset="production_model")
    assert again.success and checks(again)[name].metadata["published"].value is True
    assert ModelCard.load(settings.artifacts_dir, "SYN1", "1d").version == refused
    assert production_rows(settings, ["SYN1|1d"])[0]["unpublished"] is None


def test_holdout_can_be_turned_off(tmp_path):
    settings = make_settings(
        tmp_path, source="synthetic", symbols=("SYN1",), timeframes=("1d",), context_symbols=(), synthetic_bars=1000, synthetic_signal=0.35
    )
    config = {"ops": {**FAST["ops"], "selected_features": {"config": {"max_features": 6, "holdout_pct": 0.0}}}}
    result = run(build_definitions(settings), "SYN1|1d", config)
    assert result.success, failure_text(result)
    meta = json.loads((model_dir(settings) / "model_metadata.json").read_text())
    bp = json.loads((published(settings, "best_params") / "best_params.json").read_text())
    assert meta["holdout_metrics"] is None and bp["development_samples"] == meta["n_samples"]  # tuned on every event
    evaluation = checks(result)["production_model_holdout_confirms"]
    assert evaluation.passed and "holdout_pct 0" in evaluation.metadata["holdout"].value
    assert checks(result)["realized_decay"].passed  # nothing untouched to compare with: measured, never judged
    bad = {"ops": {**FAST["ops"], "selected_features": {"config": {"holdout_pct": 1.5}}}}
    failed = run(build_definitions(settings), "SYN1|1d", bad, selection=[dg.AssetKey("selected_features")])
    assert not failed.success and "holdout_pct must be in (0, 1), got 1.5" in failure_text(failed)


@PLANTED
def test_holdout_check_warns_when_out_of_fold_beats_the_holdout(planted):
    settings, defs, _, _ = planted
    meta = json.loads((model_dir(settings) / "model_metadata.json").read_text())
    optimism = meta["oof_metrics"]["auc"] - meta["holdout_metrics"]["auc"]
    name = "production_model_holdout_confirms"
    strict = {"ops": {f"production_model_{name}": {"config": {"max_optimism": optimism - 0.001}}}}
    res = run_checks(defs, "SYN1|1d", name, asset="production_model", run_config=strict)
    evaluation = checks(res)[name]
    assert res.success and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["optimism"].value == pytest.approx(optimism)


@PLANTED
def test_features_match_fails_when_selection_changed_after_training(planted):
    settings, defs, _, _ = planted
    path = published(settings, "selected_features") / "selected_features.txt"
    original = path.read_text()
    path.write_text(original + "close\n")
    try:
        res = run_checks(defs, "SYN1|1d", "production_model_features_match", asset="production_model")
    finally:
        path.write_text(original)
    evaluation = checks(res)["production_model_features_match"]
    assert not res.success and not evaluation.passed and "close" in evaluation.metadata["selected_features"].value


@PLANTED
def test_best_params_found_fails_with_the_reason_when_every_trial_is_pruned(planted):
    _, defs, instance, _ = planted
    config = {"ops": {"best_params": {"config": {"n_trials": 2, "min_auc": 0.99, "resume": False}}}}
    res = run(defs, "SYN1|1d", config, selection=[dg.AssetKey("best_params")], instance=instance)
    assert res.success  # on_all_pruned=use_defaults: recorded, not raised
    evaluation = checks(res)["best_params_found"]
    # a finding about the data (no trial cleared the bar), not an outage: WARN
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "lower min_auc" in evaluation.metadata["message"].value
    # one severity per finding: the step's log says it at the check's level, never ERROR
    logged = [
        (r.level, r.user_message)
        for r in instance.all_logs(res.run_id)
        if r.dagster_event is None and "was pruned or failed" in (r.user_message or "")
    ]  # the step's own log lines
    assert logged and all(level == logging.WARNING for level, _ in logged), logged
    strict = {"ops": {"best_params": {"config": {"n_trials": 2, "min_auc": 0.99, "resume": False, "on_all_pruned": "fail"}}}}
    failed = run(defs, "SYN1|1d", strict, selection=[dg.AssetKey("best_params")], instance=instance)
    assert not failed.success and "AllTrialsPruned" in failure_text(failed)


@pytest.mark.cost(25)
@pytest.mark.xdist_group("postgres")  # one PostgreSQL server (a session fixture) for every test that needs one
def test_tuning_studies_live_on_postgres_when_configured(tmp_path, postgres):
    """TB_OPTUNA_STORAGE: every partition's study in one PostgreSQL database, trials in parallel."""
    url = postgres.new_database("tb_studies")
    settings = make_settings(
        tmp_path,
        source="synthetic",
        symbols=("SYN1", "SYN2"),
        timeframes=("1d",),
        context_symbols=(),
        synthetic_bars=1000,
        synthetic_signal=0.35,
        optuna_storage=url,
    )
    defs = build_definitions(settings)
    # parallel trials sample non-deterministically: prune none, so the counts are exact
    loose = {"n_trials": 6, "min_auc": 0.0, "max_brier": 1.0, "max_auc_cv": 10.0, "n_jobs": 2, "threads": 1}
    parallel = {"ops": {**FAST["ops"], "best_params": {"config": loose}}}
    for key in ("SYN1|1d", "SYN2|1d"):
        result = run(defs, key, parallel, selection=upto("best_params"))
        assert result.success, failure_text(result)
        md = metadata(result, "best_params")
        assert md["storage"] == "TB_OPTUNA_STORAGE" and md["trials_complete"] == 6
    assert sorted(optuna.get_all_study_names(url)) == ["best_params:SYN1:1d", "best_params:SYN2:1d"]
    assert not settings.optuna_dir.exists() or not any(settings.optuna_dir.rglob("*.db"))  # nothing fell back to SQLite
