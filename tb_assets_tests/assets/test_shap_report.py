"""shap_report through Dagster on a planted signal: exact TreeSHAP equal to shap's, the signal on top,
every regime value covered, checks that fail on bad values; the production model's pictures."""

import base64
import json
import re

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.metrics import roc_auc_score

from tb_assets.core.modeling.calibration import Calibration
from tb_assets.definitions import build_definitions
from tb_assets.reporting.plots import THUMBNAIL_MAX_BYTES
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import SIGNAL_FEATURES, checks, failure_text, metadata, published, run, run_checks, stored

FAST = {
    "ops": {
        "best_params": {"config": {"n_trials": 4, "min_auc": 0.0, "max_brier": 0.3}},
        "selected_features": {"config": {"max_features": 6}},
        "shap_report": {"config": {"n_explain": 300}},
    }
}
# every test here reads the module's planted chain: one xdist group computes it once, on one worker
pytestmark = pytest.mark.xdist_group("shap_planted")
KEY = "SYN1|1d"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    settings = make_settings(
        tmp_path_factory.mktemp("shap"),
        source="synthetic",
        symbols=("SYN1",),
        timeframes=("1d",),
        context_symbols=(),
        synthetic_bars=2500,
        synthetic_signal=0.35,
    )
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    result = run(defs, KEY, FAST, instance=instance)
    assert result.success, failure_text(result)
    return settings, defs, instance, result


def folder(settings, asset):
    return published(settings, asset)


def inline_png(md: str) -> bytes:
    match = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", md)
    assert match, md[:80]
    return base64.b64decode(match.group(1))


@pytest.mark.cost(70)
def test_values_are_exact_tree_shap_equal_to_shap_tree_explainer(planted):
    settings, _, _, result = planted
    values = pd.read_parquet(folder(settings, "shap_report") / "shap_values.parquet")
    card = json.loads((folder(settings, "production_model") / "model_metadata.json").read_text())
    assert list(values.columns) == ["ts", *card["features"], "base_value", "margin", "probability"]
    calibrated = Calibration.from_dict(card["calibration"]).apply(1 / (1 + np.exp(-values["margin"].to_numpy())))
    np.testing.assert_allclose(values["probability"], calibrated, rtol=1e-9)  # the margin's calibrated probability
    booster = lgb.Booster(model_file=str(folder(settings, "production_model") / "model.txt"))
    feats = stored(settings, "SYN1", "1d", "features").set_index("ts").loc[pd.DatetimeIndex(values["ts"]), card["features"]]
    theirs = shap.TreeExplainer(booster).shap_values(feats.to_numpy())
    theirs = theirs[1] if isinstance(theirs, list) else theirs
    np.testing.assert_allclose(values[card["features"]].to_numpy(), theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(values["margin"], booster.predict(feats.to_numpy(), raw_score=True), rtol=0, atol=1e-12)
    # the holdout plus the last n_explain=300 development events
    md = metadata(result, "shap_report")
    assert md["rows_explained"] == len(values) == md["holdout_rows_explained"] + 300
    assert md["holdout_rows_explained"] == card["holdout_metrics"]["n_samples"] and md["max_additivity_error"] < 1e-9
    assert values["ts"].is_monotonic_increasing and values["ts"].iloc[-1] == pd.Timestamp(card["date_range"][1])
    assert all(e.passed for e in checks(result).values() if e.asset_key == dg.AssetKey("shap_report"))


def test_planted_signal_leads_shap_and_permutation_importance(planted):
    settings, _, _, result = planted
    summary = pd.read_csv(folder(settings, "shap_report") / "shap_summary.csv")
    assert list(summary.columns) == ["feature", "mean_abs_shap", "mean_shap", "share", "rank", "gain_rank"]
    assert summary["feature"].iloc[0] in SIGNAL_FEATURES and summary["share"].sum() == pytest.approx(1.0)
    permutation = pd.read_csv(folder(settings, "shap_report") / "permutation_importance.csv")
    assert permutation["feature"].iloc[0] in SIGNAL_FEATURES and permutation["auc_drop_mean"].iloc[0] > 0.05
    md = metadata(result, "shap_report")
    assert md["top_feature"] == summary["feature"].iloc[0] and md["top_feature_share"] == pytest.approx(summary["share"].iloc[0])


def test_regime_table_covers_every_regime_value_present(planted):
    settings, _, _, _ = planted
    values = pd.read_parquet(folder(settings, "shap_report") / "shap_values.parquet")
    regimes = stored(settings, "SYN1", "1d", "features").set_index("ts").loc[pd.DatetimeIndex(values["ts"]), "regime_gmm"]
    table = pd.read_csv(folder(settings, "shap_report") / "regime_importance.csv")
    present = sorted(regimes.dropna().unique())
    assert len(present) >= 2 and sorted(table.loc[table["regime"] == "regime_gmm", "value"].unique()) == present
    counts = table[table["regime"] == "regime_gmm"].groupby("value")["rows"].first()
    assert counts.to_dict() == regimes.value_counts().to_dict()


def test_pictures_on_disk_and_one_small_thumbnail_inline(planted):
    settings, _, _, result = planted
    for asset, thumb in (("shap_report", "ranking"), ("production_model", "holdout_curves")):
        md = metadata(result, asset)
        png = inline_png(md[thumb])
        assert png.startswith(b"\x89PNG") and len(png) <= THUMBNAIL_MAX_BYTES
        plots = {k: v for k, v in md.items() if k.startswith("plot_")}
        assert plots and all(open(p, "rb").read(4) == b"\x89PNG" for p in plots.values())
    shap_plots = {k for k in metadata(result, "shap_report") if k.startswith("plot_")}
    assert {"plot_shap_beeswarm", "plot_shap_bar", "plot_shap_regimes"} <= shap_plots
    card = json.loads((folder(settings, "production_model") / "model_metadata.json").read_text())
    dependence = [k for k in shap_plots if k.startswith("plot_shap_dependence_")]
    assert len(dependence) == min(3, len(card["features"]))  # the top 3 asked, as many as the model has
    assert {k for k in metadata(result, "production_model") if k.startswith("plot_")} == {
        "plot_holdout_roc_pr",
        "plot_holdout_reliability",
        "plot_holdout_deciles",
    }


def test_holdout_predictions_and_model_reproduce_the_holdout_metrics(planted):
    settings, _, _, _ = planted
    card = json.loads((folder(settings, "production_model") / "model_metadata.json").read_text())
    predictions = pd.read_parquet(folder(settings, "production_model") / "holdout_predictions.parquet")
    assert len(predictions) == card["holdout_metrics"]["n_samples"]
    assert roc_auc_score(predictions["y"], predictions["proba"]) == pytest.approx(card["holdout_metrics"]["auc"], abs=1e-12)
    booster = lgb.Booster(model_file=str(folder(settings, "production_model") / "holdout_model.txt"))
    feats = stored(settings, "SYN1", "1d", "features").set_index("ts").loc[pd.DatetimeIndex(predictions["ts"]), card["features"]]
    # the stored holdout probabilities are the development model's, calibrated by the development calibrator
    calibrated = Calibration.from_dict(card["calibration"]).apply(booster.predict(feats.to_numpy()))
    np.testing.assert_allclose(calibrated, predictions["proba"], rtol=1e-12)


def tampered_run(settings, defs, change, name):
    path = folder(settings, "shap_report") / "shap_values.parquet"
    original = path.read_bytes()
    values = pd.read_parquet(path)
    change(values)
    values.to_parquet(path, index=False)
    try:
        return run_checks(defs, KEY, name, asset="shap_report")
    finally:
        path.write_bytes(original)


def test_additivity_check_fails_when_one_contribution_is_perturbed(planted):
    settings, defs, _, _ = planted
    feature = json.loads((folder(settings, "production_model") / "model_metadata.json").read_text())["features"][0]

    def nudge(values):
        values.loc[17, feature] += 1e-4

    res = tampered_run(settings, defs, nudge, "shap_additivity")
    evaluation = checks(res)["shap_additivity"]
    assert not res.success and not evaluation.passed  # blocking
    assert evaluation.metadata["rows_over_tolerance"].value == 1 and evaluation.metadata["max_additivity_error"].value == pytest.approx(
        1e-4
    )

    def stale(values):  # values and margin agree with each other, but not with the stored model
        values.loc[3, feature] += 0.5
        values.loc[3, "margin"] += 0.5

    evaluation = checks(tampered_run(settings, defs, stale, "shap_additivity"))["shap_additivity"]
    assert not evaluation.passed and evaluation.metadata["max_margin_vs_model"].value == pytest.approx(0.5)


def test_raw_price_check_fails_when_a_price_is_explained(planted):
    settings, defs, _, _ = planted
    feature = json.loads((folder(settings, "production_model") / "model_metadata.json").read_text())["features"][0]
    res = tampered_run(settings, defs, lambda v: v.rename(columns={feature: "close"}, inplace=True), "shap_no_raw_prices")
    evaluation = checks(res)["shap_no_raw_prices"]
    assert not res.success and not evaluation.passed and evaluation.metadata["raw_prices"].value == "close"


def test_stability_check_warns_when_the_ranking_changes(planted):
    settings, defs, instance, _ = planted
    again = run(defs, KEY, FAST, selection=[dg.AssetKey("shap_report")], instance=instance)
    evaluation = checks(again)["shap_ranking_stable"]
    assert evaluation.passed and evaluation.metadata["top10_overlap"].value == 1.0
    selected = folder(settings, "selected_features") / "selected_features.txt"
    original = selected.read_text()
    selected.write_text("dow\nskew_60\nkurt_60\n")  # other features: another model, another ranking
    try:
        changed = run(defs, KEY, FAST, selection=[dg.AssetKey("production_model"), dg.AssetKey("shap_report")], instance=instance)
    finally:
        selected.write_text(original)
    evaluation = checks(changed)["shap_ranking_stable"]
    assert changed.success and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["top10_overlap"].value == 0.0
