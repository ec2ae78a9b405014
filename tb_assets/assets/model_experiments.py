"""`model_experiments`: the training service. Nine algorithms, their grids, one registry."""

from dataclasses import asdict
from typing import Any, Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import bars_only, markdown_table
from tb_assets.assets.modeling import PurgedCVConfig, artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.model_experiments import BLOCKING, EXPERIMENTS, build_model_experiments_checks
from tb_assets.checks.publication import awaited
from tb_assets.reporting.plots import draw_leaderboard, thumbnail_markdown
from tb_assets.resources import ArtifactStore, ModelRegistryResource
from tb_assets.storage.records import ExperimentReport, FeatureCatalog

# scikit-learn, LightGBM, XGBoost and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)

ALGORITHM_NAMES = [
    "linear_regression",
    "elasticnet_regression",
    "random_forest_regressor",
    "xgboost_regressor",
    "lightgbm_regressor",
    "logistic_classification",
    "random_forest_classifier",
    "xgboost_classifier",
    "lightgbm_classifier",
]
RESEARCH_GROUP = "research"


class ExperimentConfig(PurgedCVConfig):
    algorithms: list[str] = Field(default=ALGORITHM_NAMES, description="Algorithms to run: " + ", ".join(ALGORITHM_NAMES))
    grid: Literal["quick", "full"] = Field(
        default="quick",
        description="Grid preset: 'quick' (a few combinations each) or 'full' (the origin's grids: ElasticNet 8x7, "
        "XGBoost/LightGBM/random forest 17-19k combinations each)",
    )
    grids: dict[str, dict[str, list[Any]]] = Field(
        default={},
        description="Explicit grids replacing the preset, e.g. {lightgbm_classifier: {max_depth: [3, 5], "
        "learning_rate: [0.05]}}; write 'none' for None (e.g. random forest max_depth)",
    )
    target_transform: Literal["log_return", "pct_change", "none"] = Field(
        default="log_return",
        description="Regression target, read from the targets table: the forward change over the targets "
        "asset's lookforward bars as a log return, a percent change or the raw price change ('none')",
    )
    classification_target: Literal["direction", "bin"] = Field(
        default="direction",
        description="Classification target, read from the targets table: direction (1 = the close "
        "lookforward bars ahead >= today's) or the triple-barrier bin",
    )
    direction_ties: Literal["up", "drop"] = Field(
        default="up",
        description="A direction outcome of exactly 0 (common on minute bars): 'up' labels it 1 (the >= rule; "
        "metrics add tie_rate and auc_untied, the AUC without ties) or 'drop' leaves it out of the rows",
    )
    holdout_pct: float = Field(
        default=0.2,
        description="The last share of the partition's events kept out of validation and scored once by each "
        "cohort's best: the boundary selected_features draws with the same share (0: no holdout)",
    )
    validation: Literal["auto", "walk_forward", "purged_kfold", "holdout"] = Field(
        default="auto",
        description="walk_forward over the bars' data_split train/test blocks (an expanding window without them), "
        "purged_kfold (purged on label spans, embargoed), holdout (the last 20% of the development rows in time); "
        "auto = walk_forward when the bars carry data_split, else purged_kfold",
    )
    p_value_threshold: float | None = Field(
        default=0.05,
        description="Inside each training fold, drop features whose F-test p-value is at or above this (the best "
        "one is kept if all would go); null keeps all",
    )
    save_all_grid_models: bool = Field(
        default=False,
        description="Fit and save every combination on all rows (default: each cohort's best; every combination "
        "gets a registry row either way)",
    )
    n_jobs: int = Field(default=2, description="Threads per fit (random forest, XGBoost, LightGBM)")
    seed: int = Field(default=0, description="Seed of every model and of the permutation importance")
    parent_model_id: int | None = Field(
        default=None, description="Registry id of a parent model of this partition: train on the features it kept (lineage)"
    )
    feature_whitelist: list[str] | None = Field(default=None, description="Train on exactly these features (overrides the parent's)")
    permutation_repeats: int = Field(default=5, description="Shuffles per feature for the permutation importance")
    permutation_rows: int = Field(default=500, description="Permutation importance on at most this many of the last fold's test rows")
    shap_rows: int = Field(default=200, description="SHAP values of each saved model on this many of the most recent rows")


def _none_strings(grids: dict) -> dict:
    """Dagster config lists cannot hold null: 'none' stands for None in a grid."""
    return {
        a: {p: [None if isinstance(v, str) and v.lower() == "none" else v for v in values] for p, values in g.items()}
        for a, g in grids.items()
    }


def experiment_spec(config: ExperimentConfig, symbol: str, timeframe: str):
    from tb_assets.training.experiment import ExperimentSpec

    values = config.model_dump()
    values["algorithms"] = tuple(values["algorithms"])
    values["grids"] = _none_strings(values["grids"])
    if values["feature_whitelist"] is not None:
        values["feature_whitelist"] = tuple(values["feature_whitelist"])
    return ExperimentSpec(symbol=symbol, timeframe=timeframe, **values)


def leaderboard(result) -> pd.DataFrame:
    """One row per cohort: its best model and score, how many combinations were trained or found
    (short enough for the asset page to show it without a click)."""
    return pd.DataFrame(
        [
            {
                "algorithm": c.algorithm,
                "task": c.task,
                "model": c.best.id,
                "metric": c.best.score_name,
                "value": c.best.score,
                "holdout": (c.best.metrics.get("holdout") or {}).get(c.best.score_name, float("nan")),
                "trained": c.trained,
                "found": c.skipped,
            }
            for c in result.cohorts
        ]
    )


def cohort_table(cohort, top: int = 5) -> pd.DataFrame:
    """A cohort's best `top` models: params, features given -> kept (saved models only), notes."""
    return pd.DataFrame(
        [
            {
                "rank": i,
                "model": r.id,
                r.score_name: r.score,
                "params": ", ".join(f"{k}={v}" for k, v in r.params.items()),
                "features": f"{len(r.features)}" + (f"->{len(r.used_features)}" if r.used_features else ""),
                "notes": r.notes or "",
            }
            for i, r in enumerate(cohort.models[:top], 1)
        ]
    )


def build_model_experiments_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, kinds={"scikitlearn", "xgboost", "lightgbm"}, group_name=RESEARCH_GROUP, code_version="1")
    def model_experiments(
        context: dg.AssetExecutionContext,
        config: ExperimentConfig,
        bars: pd.DataFrame,
        features: pd.DataFrame,
        targets: pd.DataFrame,
        artifacts: ArtifactStore,
        model_registry: ModelRegistryResource,
    ) -> dg.MaterializeResult:
        """The training service: for each algorithm, every combination of its grid scored on the same purged
        validation of the development rows (the chain's rows and uniqueness weights, read from the targets table;
        preprocessing and p-value pruning fitted inside each training fold), every combination registered with
        its fingerprint, cohort, rank and lineage; each cohort's best scored once on the untouched holdout, then
        (or every combination) fitted on all rows and saved (joblib pipeline, LightGBM/XGBoost native files) with
        coefficients, tree, permutation and SHAP importances. Combinations already in the registry are not
        trained again."""
        from tb_assets.training.experiment import Experiment

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        catalog = FeatureCatalog.load(root, symbol, timeframe)
        spec = experiment_spec(config, symbol, timeframe)
        # one experiment of a partition at a time, from its first registry read to its report (registry.partition_lock)
        with model_registry.open() as registry, registry.partition_lock(symbol, timeframe):
            result = Experiment(
                spec,
                bars=bars_only(bars),
                features=features,
                targets=targets,
                catalog=catalog.features,
                groups=catalog.groups,
                registry=registry,
                model_folder=lambda fp: ExperimentReport.model_folder(root, symbol, timeframe, fp),
                progress=context.log.info,
            ).run()
            combos = sum(c.grid_size for c in result.cohorts)
            summary = (
                f"trained {result.trained} new model(s); {result.skipped} of {combos} combination(s) were already in the registry"
                if result.trained
                else f"trained nothing new: all {combos} combination(s) are already in the registry"
            )
            context.log.info(summary)
            board = leaderboard(result)
            report = ExperimentReport(
                spec=asdict(spec),
                features=result.features,
                feature_source=result.feature_source,
                trained=result.trained,
                skipped=result.skipped,
                registry=model_registry.describe(),
                cohorts=[
                    {
                        "algorithm": c.algorithm,
                        "task": c.task,
                        "cohort_id": c.cohort_id,
                        "best_model_id": c.best.id,
                        "model_ids": [r.id for r in c.models],
                        "validation": c.validation,
                        "grid_size": c.grid_size,
                        "trained": c.trained,
                        "skipped": c.skipped,
                        "notes": c.notes,
                    }
                    for c in result.cohorts
                ],
            )
            cv_results = {c.cohort_id: c.cv_results for c in result.cohorts if c.cv_results is not None}
            path = report.save(root, symbol, timeframe, cv_results, awaits=awaited(context, EXPERIMENTS, BLOCKING))
        best = {
            task: max(
                (c.best for c in result.cohorts if c.task == task), key=lambda r: r.score if r.score is not None else -1e9, default=None
            )
            for task in ("regression", "classification")
        }
        numbers = {}
        for task, name in (("regression", "r2"), ("classification", "auc")):
            if best[task] is not None and best[task].score is not None:
                numbers[f"best_{name}"] = float(best[task].score)
                numbers[f"best_{name}_model"] = int(best[task].id)
        return dg.MaterializeResult(
            metadata={
                "summary": summary,
                "trained": result.trained,
                "already_registered": result.skipped,
                **numbers,
                "leaderboard": dg.MetadataValue.md(markdown_table(board.drop(columns=["task"]), max_rows=20)),
                "leaderboard_chart": dg.MetadataValue.md(
                    thumbnail_markdown(lambda fig: draw_leaderboard(fig, board), "best score per algorithm")
                ),
                **{f"cohort_{c.algorithm}": dg.MetadataValue.md(markdown_table(cohort_table(c))) for c in result.cohorts},
                "features": len(result.features),
                "feature_source": result.feature_source,
                "validation": ", ".join(sorted({c.validation for c in result.cohorts})),
                "registry": model_registry.describe(),
                "report": dg.MetadataValue.path(str(path)),
                "version": report.version,
            }
        )

    return model_experiments


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `model_experiments` stage (the research group): its asset and its checks."""
    return dg.Definitions(
        assets=[build_model_experiments_asset(partitions_def)], asset_checks=build_model_experiments_checks(partitions_def)
    )
