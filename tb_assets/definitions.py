"""The one place that assembles dg.Definitions. `defs` is what Dagster loads.

Each stage module exposes its own definitions (its asset and that asset's checks); this module
merges them and adds what spans the whole graph: the partition space, the job, the resources,
the scheduled refresh (every asset on TB_REFRESH_CRON) and the daemon's sensors.
"""

from __future__ import annotations

import warnings

import dagster as dg

from tb_assets.assets import (
    bars,
    best_params,
    features,
    model_experiments,
    model_health,
    production_model,
    selected_features,
    shap_report,
    signals,
    strategy_backtest,
    strategy_report,
    strategy_trades,
    targets,
)
from tb_assets.assets.common import WAREHOUSE_IO
from tb_assets.assets.partitions import build_partitions
from tb_assets.automation.alert_sensor import build_alert_sensor
from tb_assets.automation.freshness import signals_freshness
from tb_assets.automation.new_data import build_new_data_sensor
from tb_assets.automation.notifier import AlertNotifier
from tb_assets.automation.refresh import build_automation_sensor, with_refresh
from tb_assets.automation.retrain import build_retrain_sensor
from tb_assets.core.errors import ConfigError
from tb_assets.resources import (
    ArtifactStore,
    BarSourceResource,
    ModelRegistryResource,
    TuningStorage,
    Warehouse,
    WarehouseIOManager,
)
from tb_assets.resources.secrets import from_environment
from tb_assets.runs.outage_retry import retry_after_database_outage
from tb_assets.runs.stranded_steps import build_stranded_steps_sensor
from tb_assets.settings import Settings, dagster_cron_problem, load_settings

PIPELINE_JOB = "tb_pipeline"
LIVE_JOB = "tb_live"
# the chain in order: bars -> features -> targets -> selected_features -> best_params -> production_model -> shap_report,
# then the strategy: strategy_backtest -> strategy_trades -> strategy_report, then the live side: signals -> model_health
STAGES = (
    bars,
    features,
    targets,
    selected_features,
    best_params,
    production_model,
    shap_report,
    strategy_backtest,
    strategy_trades,
    strategy_report,
    signals,
    model_health,
)
# what new bars run (the new-data sensor): the bars, the champion's signals for them and its health, never a retraining
LIVE = ("bars", "signals", "model_health")
# research: launched on demand (Materialize, `tb run --select model_experiments`), not by the scheduled refresh
RESEARCH = (model_experiments,)

# Partitioned asset checks (DESIGN §5: a check must not load every partition) are a Dagster
# "preview" feature; we depend on it deliberately, so its warning is noise for our users.
warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")
# the same for giving every asset the refresh condition in one place (map_asset_specs, "preview")
warnings.filterwarnings("ignore", message=".*map_(resolved_)?asset_specs.*")


def build_definitions(settings: Settings) -> dg.Definitions:
    """Definitions for one configuration (tests build their own from custom Settings)."""
    problem = dagster_cron_problem(settings.refresh_cron)  # the settings' own check is structural only
    if problem:
        raise ConfigError(problem)
    partitions = build_partitions(settings)
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="The whole graph for one SYMBOL|TIMEFRAME partition.",
    )
    live = dg.define_asset_job(
        LIVE_JOB,
        selection=dg.AssetSelection.assets(*LIVE),
        description="New bars: the partition's bars and the champion model's signals for them (no retraining).",
    )
    staged = [
        stage.definitions(partitions, signals_freshness(settings)) if stage is signals else stage.definitions(partitions)
        for stage in STAGES
    ]
    chain = with_refresh(dg.Definitions.merge(*staged), settings.refresh_cron)
    assets = dg.Definitions.merge(chain, *(stage.definitions(partitions) for stage in RESEARCH))
    # a step cut by the instance's database going away marks its run for a retry (runs/outage_retry.py)
    assets = dg.Definitions(assets=[a.with_hooks({retry_after_database_outage}) for a in assets.assets], asset_checks=assets.asset_checks)
    shared = dg.Definitions(
        jobs=[pipeline, live],
        # one process per run by default: a process per step costs seconds of imports each, and
        # partitions already run side by side as separate runs (TB_EXECUTOR=multiprocess for a
        # process per step, e.g. on a big worker)
        executor=dg.in_process_executor if settings.executor == "in_process" else dg.multiprocess_executor,
        sensors=[
            build_automation_sensor(settings.refresh_cron, running=settings.automation),
            build_new_data_sensor(LIVE_JOB, partitions, settings.new_data_interval_s),
            build_alert_sensor(
                {key for d in [*assets.assets, *assets.asset_checks] for key in d.check_keys}, interval_s=settings.alerts.interval_s
            ),
            build_stranded_steps_sensor(),
            build_retrain_sensor(PIPELINE_JOB),
        ],
        resources={
            "bar_source": BarSourceResource.from_settings(settings),
            # an object store's URL may carry its credentials: the UI shows the variable's name (resources.secrets)
            WAREHOUSE_IO: WarehouseIOManager(url=from_environment("TB_WAREHOUSE_URL", settings.warehouse)),
            "warehouse": Warehouse(url=from_environment("TB_WAREHOUSE_URL", settings.warehouse)),
            "artifacts": ArtifactStore(root=from_environment("TB_ARTIFACTS_URL", settings.artifacts), reports_url=settings.reports_url),
            "model_registry": ModelRegistryResource(
                path=str(settings.registry_path), url=from_environment("TB_REGISTRY_URL", settings.registry_url)
            ),
            "tuning_storage": TuningStorage(
                root=str(settings.optuna_dir), storage_url=from_environment("TB_OPTUNA_STORAGE", settings.optuna_storage)
            ),
            "notifier": AlertNotifier.from_settings(settings),
        },
    )
    return dg.Definitions.merge(assets, shared)


defs = build_definitions(load_settings())
