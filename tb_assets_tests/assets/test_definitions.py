"""`defs` loads, validates, and follows the project's Dagster conventions."""

import dagster as dg
import pandas as pd

from tb_assets.definitions import LIVE_JOB, PIPELINE_JOB, build_definitions, defs
from tb_assets_tests.conftest import make_settings


def test_defs_load_and_every_job_schedule_and_sensor_validates():
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    for job in repo.get_all_jobs():
        assert job.name
    for schedule in repo.schedule_defs:
        assert schedule.job_name in {j.name for j in repo.get_all_jobs()}
    for sensor in repo.sensor_defs:
        assert sensor.name


def test_default_partitions_are_the_sample_universe():
    job = defs.resolve_job_def(PIPELINE_JOB)
    assert sorted(job.partitions_def.get_partition_keys()) == ["IXIC|1d", "IXIC|1w", "SPX|1d", "SPX|1w", "VIX|1d", "VIX|1w"]
    dims = [d.name for d in job.partitions_def.partitions_defs]
    assert dims == ["symbol", "timeframe"]


def test_bars_asset_conventions(tmp_path):
    d = build_definitions(make_settings(tmp_path, symbols=("AAA",), timeframes=("5m", "1h")))
    graph = d.resolve_asset_graph()
    node = graph.get(dg.AssetKey("bars"))
    # the warehouse has no single writer: only the steps reading the bar source share a pool, unlimited unless a user caps it
    assert d.resolve_assets_def(dg.AssetKey("bars")).op.pool == "bar_source"
    assert d.resolve_assets_def(dg.AssetKey("targets")).op.pool is None
    assert {"parquet", "pandas"} <= set(node.kinds)
    assert node.group_name == "bars"
    checks = {c.name: graph.get_check_spec(c) for c in graph.asset_check_keys}
    assert set(checks) == {
        "bars_valid_ohlcv",
        "features_no_raw_prices",
        "features_no_lookahead",
        "features_mostly_finite",
        "features_schema_unchanged",
        "targets_t1_valid",
        "targets_weights_valid",
        "targets_positive_rate",
        "best_params_found",
        "production_model_grades",
        "production_model_no_regression",
        "production_model_holdout_confirms",
        "production_model_leakage_sentinels",
        "production_model_features_match",
        "shap_additivity",
        "shap_no_raw_prices",
        "shap_ranking_stable",
        "model_experiments_permutation_sentinel",
        "model_experiments_no_raw_prices",
        "model_experiments_no_regression",
        "strategy_backtest_purged",
        "dsr_significant",
        "pbo",
        "cost_drag",
        "training_serving_parity",
        "realized_decay",
        "feature_drift",
        "calibration_drift",
    }
    for name, spec in checks.items():
        assert spec.partitions_def is not None, name  # a check must not load every partition
    blocking = {name for name, spec in checks.items() if spec.blocking}
    assert blocking == {
        "bars_valid_ohlcv",
        "features_no_raw_prices",
        "features_no_lookahead",
        "targets_t1_valid",
        "targets_weights_valid",
        "production_model_leakage_sentinels",
        "production_model_features_match",
        "shap_additivity",
        "shap_no_raw_prices",
        "model_experiments_permutation_sentinel",
        "model_experiments_no_raw_prices",
        "strategy_backtest_purged",
        "training_serving_parity",
    }  # the contracts later stages rely on, leakage first
    feats = d.resolve_assets_def(dg.AssetKey("features"))
    assert feats.op.pool == "bar_source" and graph.get(dg.AssetKey("features")).group_name == "features"
    assert graph.get(dg.AssetKey("features")).parent_keys == {dg.AssetKey("bars")}
    assert graph.get(dg.AssetKey("targets")).parent_keys == {dg.AssetKey("bars"), dg.AssetKey("features")}
    assert sorted(d.resolve_job_def(PIPELINE_JOB).partitions_def.get_partition_keys()) == ["AAA|1h", "AAA|5m"]
    # the chain ends at shap_report, in its own group, after the production model
    shap = graph.get(dg.AssetKey("shap_report"))
    assert shap.group_name == "explain" and dg.AssetKey("production_model") in shap.parent_keys
    assert graph.get(dg.AssetKey("production_model")).parent_keys >= {dg.AssetKey("selected_features"), dg.AssetKey("best_params")}
    # the live side: signals after the production model, in its own group; no feed to go stale for the sample
    live = graph.get(dg.AssetKey("signals"))
    assert live.group_name == "live" and {dg.AssetKey("production_model"), dg.AssetKey("bars")} <= live.parent_keys
    assert live.freshness_policy is None
    files = build_definitions(make_settings(tmp_path, source="parquet", raw_dir=str(tmp_path), symbols=("AAA",), timeframes=("1h",)))
    policy = files.resolve_asset_graph().get(dg.AssetKey("signals")).freshness_policy
    assert policy.fail_window.to_timedelta() == pd.Timedelta("3h") + pd.Timedelta("3D")
    live_job = files.resolve_job_def(LIVE_JOB).asset_layer.executable_asset_keys
    assert set(live_job) == {dg.AssetKey("bars"), dg.AssetKey("signals"), dg.AssetKey("model_health")}
    # the training service: research, beside the chain, never refreshed by the schedule
    zoo = graph.get(dg.AssetKey("model_experiments"))
    assert zoo.group_name == "research" and zoo.parent_keys == {dg.AssetKey("bars"), dg.AssetKey("features"), dg.AssetKey("targets")}
    assert zoo.automation_condition is None and graph.get(dg.AssetKey("bars")).automation_condition is not None
    # the strategy layer: after the production model (and shap_report, whose pictures its tearsheet shows), refreshed with the chain
    backtest, trades, report = (graph.get(dg.AssetKey(k)) for k in ("strategy_backtest", "strategy_trades", "strategy_report"))
    assert {backtest.group_name, trades.group_name, report.group_name} == {"strategy"}
    assert dg.AssetKey("production_model") in backtest.parent_keys and dg.AssetKey("strategy_backtest") in trades.parent_keys
    assert report.parent_keys >= {dg.AssetKey("strategy_trades"), dg.AssetKey("shap_report")}
    assert report.automation_condition is not None


def test_each_stage_module_exposes_its_asset_and_checks(tmp_path):
    """definitions.py only merges; a check names its asset by key, so a stage stands on its own."""
    from tb_assets.assets.partitions import build_partitions
    from tb_assets.definitions import RESEARCH, STAGES

    partitions = build_partitions(make_settings(tmp_path))
    names = []
    for stage in (*STAGES, *RESEARCH):
        part = stage.definitions(partitions)
        (asset,) = part.assets
        names.append(asset.key.to_user_string())
        for check in part.asset_checks or []:
            assert all(key.asset_key == asset.key for key in check.check_keys), stage.__name__
    assert names == [
        "bars",
        "features",
        "targets",
        "selected_features",
        "best_params",
        "production_model",
        "shap_report",
        "strategy_backtest",
        "strategy_trades",
        "strategy_report",
        "signals",
        "model_health",
        "model_experiments",
    ]


def test_storage_urls_with_credentials_reach_dagster_as_env_vars(monkeypatch):
    """An object store's URL may carry its key: the UI's Resources page and every run snapshot
    show the variable's name, never the URL (it was shown in plain text)."""
    from tb_assets.settings import load_settings

    monkeypatch.setenv("TB_WAREHOUSE_URL", "memory://user:S3cretW@bucket/warehouse")
    monkeypatch.setenv("TB_ARTIFACTS_URL", "memory://user:S3cretA@bucket/artifacts")
    resources = build_definitions(load_settings()).resources
    shown = {name: resources[name]._get_non_default_public_field_values() for name in ("warehouse", "warehouse_io_manager", "artifacts")}
    assert shown == {
        "warehouse": {"url": "TB_WAREHOUSE_URL"},
        "warehouse_io_manager": {"url": "TB_WAREHOUSE_URL"},
        "artifacts": {"root": "TB_ARTIFACTS_URL"},
    }
    assert all(isinstance(value, dg.EnvVar) for fields in shown.values() for value in fields.values())
