"""Checks on `production_model`: metric grades, regressions and the leakage sentinels."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import artifact_root, partition_training_data
from tb_assets.checks.history import latest_values
from tb_assets.core.features.matrix import raw_price_columns
from tb_assets.partitions import partition_parts
from tb_assets.records import ModelCard, Selection
from tb_assets.resources import ArtifactStore

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)

MODEL = dg.AssetKey("production_model")


class RegressionConfig(dg.Config):
    max_auc_drop: float = Field(default=0.02, description="ERROR when the out-of-fold AUC fell more than this below the previous model")


class HoldoutConfig(dg.Config):
    max_optimism: float = Field(
        default=0.05, description="WARN when the out-of-fold AUC exceeds the untouched holdout's AUC by more than this"
    )


class SentinelConfig(dg.Config):
    permutation_tolerance: float = Field(default=0.06, description="The permuted-label CV AUC must lie within 0.5 +/- this")
    max_plausible_auc_daily: float = Field(default=0.80, description="An out-of-fold AUC above this on 1d/1w bars is suspect")
    max_plausible_auc_intraday: float = Field(default=0.75, description="An out-of-fold AUC above this on intraday bars is suspect")
    seed: int = Field(default=0, description="Seed of the label permutation")
    threads: int = Field(default=2, description="LightGBM threads (the scores do not depend on it: fits are deterministic)")


def model_card(artifacts: ArtifactStore, context) -> ModelCard:
    symbol, timeframe = partition_parts(context)
    return ModelCard.load(artifact_root(artifacts), symbol, timeframe)


def build_production_model_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(asset=MODEL, partitions_def=partitions_def,
                    description="Grades each out-of-fold metric against the project's targets, AUPR, precision@10% and Brier "
                                "as lift and skill over the positive rate (WARN when one is below Acceptable).")
    def production_model_grades(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        from tb_assets.core.modeling.metrics import grade_table, graded

        card = model_card(artifacts, context)
        table = grade_table(card.oof_metrics, card.holdout_metrics)
        grades = graded(table)
        return dg.AssetCheckResult(
            passed="below" not in grades.values(), severity=dg.AssetCheckSeverity.WARN,
            metadata={"grades": dg.MetadataValue.md(markdown_table(table)), **{f"grade_{k}": v for k, v in grades.items()}},
        )

    @dg.asset_check(asset=MODEL, partitions_def=partitions_def,
                    description="ERROR when the out-of-fold AUC fell more than max_auc_drop below the previous materialization.")
    def production_model_no_regression(context: dg.AssetCheckExecutionContext, config: RegressionConfig) -> dg.AssetCheckResult:
        aucs = latest_values(context, MODEL, "oof_auc")
        if len(aucs) < 2:
            return dg.AssetCheckResult(passed=True, metadata={"compared_with": "nothing: first model"})
        drop = aucs[1] - aucs[0]
        return dg.AssetCheckResult(
            passed=drop <= config.max_auc_drop, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"oof_auc": aucs[0], "previous_oof_auc": aucs[1], "drop": drop, "max_auc_drop": config.max_auc_drop},
        )

    @dg.asset_check(asset=MODEL, partitions_def=partitions_def,
                    description="WARN when the out-of-fold AUC beats the AUC on the holdout that selection and tuning never "
                    "saw by more than max_optimism: the out-of-fold numbers are flattered by selection (or the market changed).")
    def production_model_holdout_confirms(
        context: dg.AssetCheckExecutionContext, config: HoldoutConfig, artifacts: ArtifactStore
    ) -> dg.AssetCheckResult:
        card = model_card(artifacts, context)
        holdout = card.holdout_metrics
        if holdout is None:
            return dg.AssetCheckResult(passed=True, metadata={"holdout": "none (selected_features ran with holdout_pct 0)"})
        optimism = card.oof_metrics["auc"] - holdout["auc"]
        return dg.AssetCheckResult(
            passed=optimism <= config.max_optimism, severity=dg.AssetCheckSeverity.WARN,
            metadata={"oof_auc": card.oof_metrics["auc"], "holdout_auc": holdout["auc"], "optimism": optimism,
                      "max_optimism": config.max_optimism, "holdout_samples": holdout["n_samples"]},
        )

    @dg.asset_check(asset=MODEL, partitions_def=partitions_def, blocking=True,
                    additional_ins={"features": dg.AssetIn("features"), "targets": dg.AssetIn("targets")},
                    description="Leakage sentinels: the same purged CV on permuted labels must score AUC 0.5 +/- a tolerance, "
                    "and an out-of-fold AUC implausibly high for the timeframe is an error.")
    def production_model_leakage_sentinels(
        context: dg.AssetCheckExecutionContext, config: SentinelConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.AssetCheckResult:
        from tb_assets.core.modeling.leakage import permuted_label_auc, plausible_ceiling, sentinel_problems
        from tb_assets.core.modeling.models import LightGBMClassifier

        symbol, timeframe = partition_parts(context)
        card = model_card(artifacts, context)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, card.features)
        # the model's own recipe and folds, on shuffled labels
        recipe = LightGBMClassifier(card.params, seed=card.seed, threads=config.threads, scale_pos_weight=card.scale_pos_weight)
        weight = data.weight if card.sample_weights_used else None
        perm_auc = permuted_label_auc(recipe, data.X, data.y, weight, data.purged_splits(**card.cv), seed=config.seed)
        ceiling = plausible_ceiling(timeframe, config.max_plausible_auc_daily, config.max_plausible_auc_intraday)
        aucs = {"out-of-fold": card.oof_metrics["auc"]}
        if card.holdout_metrics is not None:
            aucs["holdout"] = card.holdout_metrics["auc"]
        problems = sentinel_problems(perm_auc, aucs, tolerance=config.permutation_tolerance, ceiling=ceiling, timeframe=timeframe)
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={"permuted_auc": perm_auc, **{f"{name.replace('out-of-fold', 'oof')}_auc": auc for name, auc in aucs.items()},
                      "plausible_ceiling": ceiling, "problems": "; ".join(problems) or "none"},
        )

    @dg.asset_check(asset=MODEL, partitions_def=partitions_def, blocking=True,
                    description="The model's features are exactly selected_features, and none is a raw price.")
    def production_model_features_match(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        used = model_card(artifacts, context).features
        selected = Selection.names(artifact_root(artifacts), symbol, timeframe)
        prices = raw_price_columns(used)
        return dg.AssetCheckResult(
            passed=used == selected and not prices,
            metadata={"model_features": ", ".join(used), "selected_features": ", ".join(selected), "raw_prices": ", ".join(prices) or "none"},
        )

    return [production_model_grades, production_model_no_regression, production_model_holdout_confirms,
            production_model_leakage_sentinels, production_model_features_match]
