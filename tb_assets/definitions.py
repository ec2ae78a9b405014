"""The one place that assembles dg.Definitions. `defs` is what Dagster loads.

Each stage module exposes its own definitions (its asset and that asset's checks); this module
merges them and adds what spans the whole graph: the partition space, the job and the resources.
"""

from __future__ import annotations

import warnings

import dagster as dg

from tb_assets.assets import bars, best_params, features, production_model, selected_features, shap_report, targets
from tb_assets.assets.common import WAREHOUSE_IO
from tb_assets.partitions import build_partitions
from tb_assets.resources import ArtifactStore, BarSourceResource, TuningStorage, WarehouseIOManager
from tb_assets.settings import Settings, load_settings

PIPELINE_JOB = "tb_pipeline"
# the chain in order: bars -> features -> targets -> selected_features -> best_params -> production_model -> shap_report
STAGES = (bars, features, targets, selected_features, best_params, production_model, shap_report)

# Partitioned asset checks (DESIGN §5: a check must not load every partition) are a Dagster
# "preview" feature; we depend on it deliberately, so its warning is noise for our users.
warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")


def build_definitions(settings: Settings) -> dg.Definitions:
    """Definitions for one configuration (tests build their own from custom Settings)."""
    partitions = build_partitions(settings)
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="The whole graph for one SYMBOL|TIMEFRAME partition.",
    )
    shared = dg.Definitions(
        jobs=[pipeline],
        resources={
            "bar_source": BarSourceResource.from_settings(settings),
            WAREHOUSE_IO: WarehouseIOManager(database=str(settings.warehouse_path), schema="main"),
            "artifacts": ArtifactStore(root=str(settings.artifacts_dir)),
            "tuning_storage": TuningStorage(root=str(settings.optuna_dir), storage_url=settings.optuna_storage),
        },
    )
    return dg.Definitions.merge(*(stage.definitions(partitions) for stage in STAGES), shared)


defs = build_definitions(load_settings())
