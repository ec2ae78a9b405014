"""The one place that assembles dg.Definitions. `defs` is what Dagster loads."""

from __future__ import annotations

import warnings

import dagster as dg

from tb_assets.assets.bars import build_bars_asset
from tb_assets.assets.common import WAREHOUSE_IO
from tb_assets.assets.features import build_features_asset
from tb_assets.assets.best_params import build_best_params_asset
from tb_assets.assets.production_model import build_production_model_asset
from tb_assets.assets.selected_features import build_selected_features_asset
from tb_assets.assets.targets import build_targets_asset
from tb_assets.checks.bars import build_bars_checks
from tb_assets.checks.best_params import build_best_params_checks
from tb_assets.checks.features import build_features_checks
from tb_assets.checks.production_model import build_production_model_checks
from tb_assets.checks.targets import build_targets_checks
from tb_assets.partitions import build_partitions
from tb_assets.resources import ArtifactStore, BarSourceResource, TuningStorage, WarehouseIOManager
from tb_assets.settings import Settings, load_settings

PIPELINE_JOB = "tb_pipeline"

# Partitioned asset checks (DESIGN §5: a check must not load every partition) are a Dagster
# "preview" feature; we depend on it deliberately, so its warning is noise for our users.
warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")


def build_definitions(settings: Settings) -> dg.Definitions:
    """Definitions for one configuration (tests build their own from custom Settings)."""
    partitions = build_partitions(settings)
    bars = build_bars_asset(partitions)
    features = build_features_asset(partitions)
    targets = build_targets_asset(partitions)
    selected_features = build_selected_features_asset(partitions)
    best_params = build_best_params_asset(partitions, selected_features)
    production_model = build_production_model_asset(partitions, [selected_features, best_params])
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="The whole graph for one SYMBOL|TIMEFRAME partition.",
    )
    return dg.Definitions(
        assets=[bars, features, targets, selected_features, best_params, production_model],
        asset_checks=[
            *build_bars_checks(bars, partitions),
            *build_features_checks(features, partitions),
            *build_targets_checks(targets, partitions),
            *build_best_params_checks(best_params, partitions),
            *build_production_model_checks(production_model, partitions),
        ],
        jobs=[pipeline],
        resources={
            "bar_source": BarSourceResource.from_settings(settings),
            WAREHOUSE_IO: WarehouseIOManager(database=str(settings.warehouse_path), schema="main"),
            "artifacts": ArtifactStore(root=str(settings.artifacts_dir)),
            "tuning_storage": TuningStorage(root=str(settings.optuna_dir), storage_url=settings.optuna_storage),
        },
    )


defs = build_definitions(load_settings())
