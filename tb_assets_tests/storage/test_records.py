"""Typed hand-offs: each record round-trips, missing files name the asset to materialize, the model
card's files are verified against their SHA-256 before use."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.storage.records import METADATA_FIELDS, FeatureCatalog, MissingArtifact, ModelCard, Selection, ShapSummary, TunedParams


def test_feature_catalog_round_trip_and_regime_columns(tmp_path):
    catalog = FeatureCatalog("SPX", "1d", ["ret_1", "regime_gmm", "dow", "regime_vix"], {"ret_1": "standard"}, rows=10)
    path = catalog.save(tmp_path)
    assert path.parent.parent == tmp_path / "features" / "SPX" / "1d" / "versions" and path.name == "feature_catalog.json"
    assert (tmp_path / "features" / "SPX" / "1d" / "LATEST").read_text().strip() == path.parent.name == catalog.version
    loaded = FeatureCatalog.load(tmp_path, "SPX", "1d")
    assert loaded == catalog and loaded.regime_columns == ["regime_gmm", "regime_vix"]
    with pytest.raises(MissingArtifact, match=r"IXIC\|1d: .*feature_catalog.json is missing: materialize features"):
        FeatureCatalog.load(tmp_path, "IXIC", "1d")


def test_selection_list_of_record_is_the_text_file(tmp_path):
    record = Selection(["a", "b"], 0.2, "2020-01-01T00:00:00+00:00", 80, 20, [{"step": 1, "feature": "a"}])
    names = record.save(tmp_path, "SPX", "1d")
    assert names.read_text() == "a\nb\n"
    assert Selection.load(tmp_path, "SPX", "1d") == record
    assert Selection.load(tmp_path, "SPX", "1d").holdout_start_ts == pd.Timestamp("2020-01-01", tz="UTC")
    names.write_text("a\nb\nc\n")  # edited by hand: the text file wins
    assert Selection.names(tmp_path, "SPX", "1d") == ["a", "b", "c"] == Selection.load(tmp_path, "SPX", "1d").selected
    with pytest.raises(MissingArtifact, match="selected_features is not materialized"):
        Selection.names(tmp_path, "SPX", "1w")


def test_tuned_params_choose_defaults_when_missing_or_all_pruned(tmp_path):
    assert TunedParams.chosen(tmp_path, "SPX", "1d") == (DEFAULT_PARAMS, "defaults (best_params not materialized)")
    pruned = TunedParams(None, True, ["a"], "s", 10, None, {"pruned": 3}, message="every trial pruned")
    pruned.save(tmp_path, "SPX", "1d", pd.DataFrame({"number": [0]}), {})
    assert TunedParams.chosen(tmp_path, "SPX", "1d") == (DEFAULT_PARAMS, "defaults (every tuning trial was pruned)")
    found = TunedParams({**DEFAULT_PARAMS, "max_depth": 7}, False, ["a"], "s", 10, None, {"complete": 3}, score=0.5)
    found.save(tmp_path, "SPX", "1d", pd.DataFrame({"number": [0, 1]}), {"max_depth": 1.0})
    assert TunedParams.chosen(tmp_path, "SPX", "1d") == ({**DEFAULT_PARAMS, "max_depth": 7}, "best_params")
    folder = TunedParams.folder(tmp_path, "SPX", "1d")
    assert folder == found.location and (folder / "trials_history.csv").read_text().splitlines() == ["number", "0", "1"]
    assert TunedParams.load(tmp_path, "SPX", "1d") == found


def card():
    return ModelCard(
        "2026-01-01",
        1,
        ["a"],
        {"max_depth": 3},
        10,
        0.6,
        0.6,
        100,
        0.5,
        ["x", "y"],
        False,
        None,
        True,
        0,
        {"n_splits": 5, "embargo_pct": 0.01},
        {"auc": 0.5},
        None,
        {"lightgbm": "4"},
    )


def test_model_card_files_are_verified_before_use(tmp_path):
    c = card()
    path = c.save(tmp_path, "SPX", "1d", {"model.txt": b"tree", "feature_importance.csv": b"feature,gain,split\na,1.0,2\n"})
    loaded = ModelCard.load(tmp_path, "SPX", "1d")
    assert tuple(k for k in loaded.__dict__ if not k.startswith("_")) == METADATA_FIELDS and METADATA_FIELDS[-1] == "artifact_sha256"
    assert set(loaded.artifact_sha256) == {"model.txt", "feature_importance.csv"}
    assert loaded.verified(tmp_path, "SPX", "1d", "model.txt").read_bytes() == b"tree"
    assert loaded.feature_importance(tmp_path, "SPX", "1d")["gain"].tolist() == [1.0]
    (path.parent / "model.txt").write_bytes(b"another tree")
    with pytest.raises(TbError, match="does not match the SHA-256 in model_metadata.json"):
        loaded.verified(tmp_path, "SPX", "1d", "model.txt")
    with pytest.raises(MissingArtifact, match="holdout_model.txt is missing"):
        loaded.verified(tmp_path, "SPX", "1d", "holdout_model.txt")


def test_a_file_the_card_does_not_vouch_for_is_refused_and_a_corrupt_model_never_reaches_lightgbm(tmp_path):
    """Fail closed: a file with no SHA-256 entry in the card is an error, not a pass. And a flipped
    byte in model.txt is refused by name before LightGBM parses it (its parser aborts the whole
    process on a third of such files)."""
    from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 5}).fit(X, (X["a"] > 0).astype(int))
    text = model.booster_.model_to_string().encode()
    c = card()
    c.save(tmp_path, "SPX", "1d", {"model.txt": text})
    loaded = ModelCard.load(tmp_path, "SPX", "1d")
    np.testing.assert_allclose(loaded.model(tmp_path, "SPX", "1d").predict_proba(X), model.predict_proba(X))
    folder = loaded.location
    (folder / "holdout_model.txt").write_bytes(text)  # present, but the card never recorded it
    with pytest.raises(TbError, match="records no SHA-256 for holdout_model.txt"):
        loaded.model(tmp_path, "SPX", "1d", holdout=True)
    for _ in range(30):
        flipped = bytearray(text)
        flipped[int(rng.integers(len(text)))] ^= 1 << int(rng.integers(8))
        (folder / "model.txt").write_bytes(bytes(flipped))
        with pytest.raises(TbError, match=r"model.txt does not match the SHA-256"):
            loaded.model(tmp_path, "SPX", "1d")
    (folder / "model.txt").write_bytes(text[: len(text) // 2])  # cut short, read without a card
    with pytest.raises(TbError, match=r"model.txt is not a LightGBM model in its text format"):
        LightGBMClassifier.from_model_file(folder / "model.txt")


def test_shap_summary_writes_its_tables_and_plots(tmp_path):
    values = pd.DataFrame(
        {"ts": pd.date_range("2020", periods=3, tz="UTC"), "a": [0.1, 0.2, 0.3], "base_value": 0.0, "margin": [0.1, 0.2, 0.3]}
    )
    record = ShapSummary("tree", ["a"], 3, 1, 2, "abc", 0.0, {"a": 0.2})
    record.save(
        tmp_path,
        "SPX",
        "1d",
        {ShapSummary.VALUES: values, ShapSummary.SUMMARY: pd.DataFrame({"feature": ["a"]})},
        {"shap_bar.png": b"\x89PNG"},
    )
    loaded = ShapSummary.load(tmp_path, "SPX", "1d")
    pd.testing.assert_frame_equal(loaded.values(), values)
    assert loaded.plots == {"shap_bar.png": str(record.location / "shap_bar.png")}
    with pytest.raises(MissingArtifact, match="materialize shap_report"):
        ShapSummary.load(tmp_path, "SPX", "1w")
    assert np.isclose(pd.read_csv(loaded.file(ShapSummary.SUMMARY)).shape[0], 1)
