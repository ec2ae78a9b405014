"""Checks on `model_experiments`: the permuted-label sentinel on each cohort's best model, no raw
price among any model's features, and no drop of the partition's best scores since the last run."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import bars_only, markdown_table
from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.history import latest_values
from tb_assets.checks.publication import judged
from tb_assets.core.features.matrix import raw_price_columns
from tb_assets.resources import ArtifactStore, ModelRegistryResource
from tb_assets.storage.records import ExperimentReport, FeatureCatalog

EXPERIMENTS = dg.AssetKey("model_experiments")
# the blocking checks a new report version waits for before readers open it (checks.publication)
BLOCKING = ("model_experiments_no_raw_prices", "model_experiments_permutation_sentinel")


class ExperimentSentinelConfig(dg.Config):
    auc_tolerance: float = Field(default=0.06, description="A classifier's permuted-label AUC must lie within 0.5 +/- this")
    max_permuted_r2: float = Field(default=0.02, description="A regressor's permuted-target out-of-sample R² must not exceed this")
    seed: int = Field(default=0, description="Seed of the permutation")


class ExperimentRegressionConfig(dg.Config):
    max_r2_drop: float = Field(default=0.02, description="ERROR when the best R² fell more than this below the previous run's")
    max_auc_drop: float = Field(default=0.02, description="ERROR when the best AUC fell more than this below the previous run's")


def _report(artifacts: ArtifactStore, context) -> ExperimentReport:
    """The report under review: the candidate awaiting the blocking checks, else the published one."""
    symbol, timeframe = partition_parts(context)
    return ExperimentReport.load(artifact_root(artifacts), symbol, timeframe, review=True)


def build_model_experiments_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=EXPERIMENTS,
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"bars": dg.AssetIn("bars"), "features": dg.AssetIn("features"), "targets": dg.AssetIn("targets")},
        description="The best model of each cohort, trained again on the same validation with the target permuted, "
        "must score chance: AUC 0.5 +/- a tolerance, R² at most max_permuted_r2. More means rows or features leak.",
    )
    def model_experiments_permutation_sentinel(
        context: dg.AssetCheckExecutionContext,
        config: ExperimentSentinelConfig,
        bars: pd.DataFrame,
        features: pd.DataFrame,
        targets: pd.DataFrame,
        artifacts: ArtifactStore,
        model_registry: ModelRegistryResource,
    ) -> dg.AssetCheckResult:
        from tb_assets.training.experiment import Experiment, ExperimentSpec

        symbol, timeframe = partition_parts(context)
        report = _report(artifacts, context)
        catalog = FeatureCatalog.load(artifact_root(artifacts), symbol, timeframe)
        spec = ExperimentSpec.from_dict(report.spec)
        rows, problems = [], []
        with model_registry.open() as registry:
            experiment = Experiment(
                spec,
                bars=bars_only(bars),
                features=features,
                targets=targets,
                catalog=catalog.features,
                groups=catalog.groups,
                registry=registry,
                model_folder=lambda fp: None,
            )
            for cohort in report.cohorts:
                best = registry.get(cohort["best_model_id"])
                permuted = experiment.sentinel(best, seed=config.seed)[best.score_name]
                if best.score_name == "auc":
                    bad = abs(permuted - 0.5) > config.auc_tolerance
                    rule = f"0.5 +/- {config.auc_tolerance}"
                else:
                    bad = permuted > config.max_permuted_r2
                    rule = f"<= {config.max_permuted_r2}"
                rows.append(
                    {
                        "algorithm": best.algorithm,
                        "model": best.id,
                        "metric": best.score_name,
                        "real": best.score,
                        "permuted": permuted,
                        "rule": rule,
                        "ok": not bad,
                    }
                )
                if bad:
                    problems.append(f"{best.algorithm} (model {best.id}) permuted {best.score_name} {permuted:.3f} is not {rule}")
        result = dg.AssetCheckResult(
            passed=not problems,
            metadata={
                "sentinels": dg.MetadataValue.md(markdown_table(pd.DataFrame(rows), max_rows=20)),
                "problems": "; ".join(problems) or "none",
            },
            description="; ".join(problems) or f"{len(rows)} cohort best(s) score chance on permuted targets",
        )
        return judged(context, report, artifact_root(artifacts), symbol, timeframe, result)

    @dg.asset_check(
        asset=EXPERIMENTS,
        partitions_def=partitions_def,
        blocking=True,
        description="No model of this run was given a raw price level (open/high/low/close/vwap, or a suffixed variant) as a feature.",
    )
    def model_experiments_no_raw_prices(
        context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore, model_registry: ModelRegistryResource
    ) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        report = _report(artifacts, context)
        ids = [i for c in report.cohorts for i in c["model_ids"]]
        with model_registry.open() as registry:
            found = {r.id: raw_price_columns(r.features) for r in registry.find(ids=ids)}
        bad = {i: cols for i, cols in found.items() if cols}
        result = dg.AssetCheckResult(
            passed=not bad and len(found) == len(set(ids)),
            metadata={
                "models_checked": len(found),
                "missing_from_registry": len(set(ids)) - len(found),
                "raw_prices": "; ".join(f"model {i}: {', '.join(cols)}" for i, cols in bad.items()) or "none",
            },
            description=(
                f"{len(bad)} model(s) given raw prices"
                if bad
                else f"{len(set(ids)) - len(found)} model(s) missing from the registry"
                if len(found) != len(set(ids))
                else f"{len(found)} model(s), no raw price"
            ),
        )
        return judged(context, report, artifact_root(artifacts), symbol, timeframe, result)

    @dg.asset_check(
        asset=EXPERIMENTS,
        partitions_def=partitions_def,
        description="ERROR when the partition's best out-of-sample R² or AUC fell by more than the allowed drop "
        "since the previous materialization.",
    )
    def model_experiments_no_regression(context: dg.AssetCheckExecutionContext, config: ExperimentRegressionConfig) -> dg.AssetCheckResult:
        drops, metadata = [], {}
        for name, allowed in (("best_r2", config.max_r2_drop), ("best_auc", config.max_auc_drop)):
            values = latest_values(context, EXPERIMENTS, name)
            if len(values) < 2:
                continue
            drop = values[1] - values[0]
            metadata.update({name: values[0], f"previous_{name}": values[1], f"{name}_drop": drop})
            if drop > allowed:
                drops.append(f"{name} fell {drop:.4f} (from {values[1]:.4f} to {values[0]:.4f}; allowed {allowed})")
        return dg.AssetCheckResult(
            passed=not drops,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                **metadata,
                "compared_with": "previous run" if metadata else "nothing: first run",
                "drops": "; ".join(drops) or "none",
            },
            description="; ".join(drops) or ("no drop since the previous run" if metadata else "first run"),
        )

    return [model_experiments_permutation_sentinel, model_experiments_no_raw_prices, model_experiments_no_regression]
