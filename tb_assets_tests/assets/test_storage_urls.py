"""The whole chain with the warehouse and the artifacts under fsspec URLs (TB_WAREHOUSE_URL,
TB_ARTIFACTS_URL): every stage reads and writes through the URL, nothing lands in TB_DATA_DIR's
warehouse or artifacts folders, and a changed model file is still caught by its SHA-256."""

import dataclasses
import json
import uuid

import dagster as dg
import fsspec
import pytest

from tb_assets.definitions import build_definitions
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import failure_text, run

FAST = {
    "ops": {
        "best_params": {"config": {"n_trials": 3, "min_auc": 0.0, "max_brier": 0.3}},
        "selected_features": {"config": {"max_features": 4}},
        "shap_report": {"config": {"n_explain": 200, "n_repeats": 1, "top_dependence": 1}},
    }
}


@pytest.mark.cost(90)
def test_the_chain_runs_with_warehouse_and_artifacts_on_fsspec_urls(tmp_path):
    bucket = f"memory://tb-{uuid.uuid4().hex}"
    settings = dataclasses.replace(
        make_settings(
            tmp_path,
            source="synthetic",
            symbols=("SYN1",),
            timeframes=("1d",),
            context_symbols=(),
            synthetic_bars=1500,
            synthetic_signal=0.35,
        ),
        warehouse_url=f"{bucket}/warehouse",
        artifacts_url=f"{bucket}/artifacts",
    )
    defs = build_definitions(settings)
    result = run(defs, "SYN1|1d", FAST, instance=dg.DagsterInstance.ephemeral())
    assert result.success, failure_text(result)
    assert all(e.passed for e in result.get_asset_check_evaluations() if e.severity == dg.AssetCheckSeverity.ERROR)

    fs = fsspec.filesystem("memory")
    root = bucket.removeprefix("memory://")
    for table in ("bars", "features", "targets"):
        assert fs.exists(f"/{root}/warehouse/{table}/symbol=SYN1/timeframe=1d/part-0.parquet")
    models = f"/{root}/artifacts/production_model/SYN1/1d"
    latest = fs.cat(f"{models}/LATEST").decode().strip()
    card = json.loads(fs.cat(f"{models}/versions/{latest}/model_metadata.json"))
    assert fs.exists(f"{models}/versions/{latest}/model.txt") and card["artifact_sha256"]["model.txt"]
    report = fs.cat(f"/{root}/artifacts/shap_report/SYN1/1d/LATEST").decode().strip()
    assert fs.exists(f"/{root}/artifacts/shap_report/SYN1/1d/versions/{report}/shap_report.json")
    assert not (tmp_path / "warehouse").exists() and not (tmp_path / "artifacts").exists()

    # a second run is a new version; once its blocking checks passed it is the latest and the previous stays
    again = run(defs, "SYN1|1d", FAST, selection=[dg.AssetKey("production_model")], instance=dg.DagsterInstance.ephemeral())
    assert again.success, failure_text(again)
    newer = fs.cat(f"{models}/LATEST").decode().strip()
    assert newer > latest and fs.exists(f"{models}/versions/{latest}/model.txt") and not fs.exists(f"{models}/CANDIDATE")

    # the model file changed behind the card's back: shap_report refuses it
    fs.pipe(f"{models}/versions/{newer}/model.txt", b"tree\nnot the trained model\n")
    tampered = run(defs, "SYN1|1d", FAST, selection=[dg.AssetKey("shap_report")], instance=dg.DagsterInstance.ephemeral())
    assert not tampered.success and "does not match the SHA-256" in failure_text(tampered)
