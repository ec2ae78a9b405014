"""Checks on `production_model`: metric grades, regressions and the leakage sentinels."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.history import latest_values
from tb_assets.checks.publication import judged
from tb_assets.core.features.matrix import raw_price_columns
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import ModelCard, Selection

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
    max_plausible_auc_daily: float = Field(
        default=0.80, description="An AUC whose 95% lower confidence bound is above this on 1d/1w bars is a leak until shown otherwise"
    )
    max_plausible_auc_intraday: float = Field(
        default=0.75, description="An AUC whose 95% lower confidence bound is above this on intraday bars is a leak until shown otherwise"
    )
    seed: int = Field(default=0, description="Seed of the label permutation")
    threads: int = Field(default=2, description="LightGBM threads (the scores do not depend on it: fits are deterministic)")


# the blocking checks a new model version waits for before readers open it (checks.publication)
BLOCKING = ("production_model_features_match", "production_model_leakage_sentinels")


def model_card(artifacts: ArtifactStore, context) -> ModelCard:
    """The model under review: the candidate awaiting the blocking checks, else the published one."""
    symbol, timeframe = partition_parts(context)
    return ModelCard.load(artifact_root(artifacts), symbol, timeframe, review=True)


def build_production_model_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=MODEL,
        partitions_def=partitions_def,
        description="Grades each out-of-fold metric against the project's targets, AUPR, precision@10% and Brier "
        "as lift and skill over the positive rate (WARN when one is below Acceptable).",
    )
    def production_model_grades(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        from tb_assets.core.modeling.grades import grade_table, graded

        card = model_card(artifacts, context)
        table = grade_table(card.oof_metrics, card.holdout_metrics)
        grades = graded(table)
        holdout = graded(table, "holdout_grade") if card.holdout_metrics is not None else {}
        return dg.AssetCheckResult(
            passed="below" not in grades.values(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "grades": dg.MetadataValue.md(markdown_table(table)),
                **{f"grade_{k}": v for k, v in grades.items()},
                **{f"holdout_grade_{k}": v for k, v in holdout.items() if k != "auc_cv"},
            },
            description=", ".join(f"{k} {v}" for k, v in grades.items()) + " (out of fold)",
        )

    @dg.asset_check(
        asset=MODEL,
        partitions_def=partitions_def,
        description="ERROR when the out-of-fold AUC fell more than max_auc_drop below the previous materialization.",
    )
    def production_model_no_regression(context: dg.AssetCheckExecutionContext, config: RegressionConfig) -> dg.AssetCheckResult:
        # only models whose out-of-fold AUC was read the same way (metrics_version) are compared
        aucs = latest_values(context, MODEL, "oof_auc", same="metrics_version")
        if len(aucs) < 2:
            return dg.AssetCheckResult(
                passed=True,
                metadata={"compared_with": "nothing: first model (of this metrics_version)"},
                description="first model whose out-of-fold AUC is read this way: nothing to compare with",
            )
        drop = aucs[1] - aucs[0]
        return dg.AssetCheckResult(
            passed=drop <= config.max_auc_drop,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"oof_auc": aucs[0], "previous_oof_auc": aucs[1], "drop": drop, "max_auc_drop": config.max_auc_drop},
            description=f"out-of-fold AUC {aucs[0]:.3f}, previous {aucs[1]:.3f} (drop {drop:+.3f}, limit {config.max_auc_drop})",
        )

    @dg.asset_check(
        asset=MODEL,
        partitions_def=partitions_def,
        description="WARN when the out-of-fold AUC beats the AUC on the holdout that selection and tuning never "
        "saw by more than max_optimism: the out-of-fold numbers are flattered by selection (or the market changed).",
    )
    def production_model_holdout_confirms(
        context: dg.AssetCheckExecutionContext, config: HoldoutConfig, artifacts: ArtifactStore
    ) -> dg.AssetCheckResult:
        card = model_card(artifacts, context)
        holdout = card.holdout_metrics
        if holdout is None:
            return dg.AssetCheckResult(
                passed=True,
                metadata={"holdout": "none (selected_features ran with holdout_pct 0)"},
                description="no holdout (holdout_pct 0)",
            )
        optimism = card.oof_metrics["auc"] - holdout["auc"]
        return dg.AssetCheckResult(
            passed=optimism <= config.max_optimism,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "oof_auc": card.oof_metrics["auc"],
                "holdout_auc": holdout["auc"],
                "optimism": optimism,
                "max_optimism": config.max_optimism,
                "holdout_samples": holdout["n_samples"],
            },
            description=f"out-of-fold AUC {card.oof_metrics['auc']:.3f} vs holdout {holdout['auc']:.3f} (optimism {optimism:+.3f})",
        )

    @dg.asset_check(
        asset=MODEL,
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"features": dg.AssetIn("features"), "targets": dg.AssetIn("targets")},
        description="Leakage sentinels: the same purged CV on permuted labels must score AUC 0.5 +/- a tolerance, "
        "and an out-of-fold or holdout AUC implausibly high for the timeframe is an error, judged on its one-sided "
        "95% lower confidence bound (DeLong, widened for overlapping labels) so noise cannot flip it.",
    )
    def production_model_leakage_sentinels(
        context: dg.AssetCheckExecutionContext,
        config: SentinelConfig,
        features: pd.DataFrame,
        targets: pd.DataFrame,
        artifacts: ArtifactStore,
    ) -> dg.AssetCheckResult:
        from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
        from tb_assets.core.modeling.leakage import permuted_label_auc, plausible_ceiling, sentinel_problems

        symbol, timeframe = partition_parts(context)
        card = model_card(artifacts, context)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, card.features)
        # the model's own recipe and folds, on shuffled labels
        recipe = LightGBMClassifier(card.params, seed=card.seed, threads=config.threads, scale_pos_weight=card.scale_pos_weight)
        weight = data.weight if card.sample_weights_used else None
        perm_auc = permuted_label_auc(recipe, data.X, data.y, weight, data.purged_splits(**card.cv), seed=config.seed)
        ceiling = plausible_ceiling(timeframe, config.max_plausible_auc_daily, config.max_plausible_auc_intraday)
        # each AUC with its lower confidence bound (a card from before the bounds were kept: the AUC itself)
        named = {"out-of-fold": card.oof_metrics, "holdout": card.holdout_metrics}
        aucs = {name: (m["auc"], m.get("auc_lower", m["auc"])) for name, m in named.items() if m is not None}
        problems = sentinel_problems(perm_auc, aucs, tolerance=config.permutation_tolerance, ceiling=ceiling, timeframe=timeframe)
        short = {"out-of-fold": "oof", "holdout": "holdout"}
        result = dg.AssetCheckResult(
            passed=not problems,
            metadata={
                "permuted_auc": perm_auc,
                **{f"{short[name]}_auc": auc for name, (auc, _) in aucs.items()},
                **{f"{short[name]}_auc_lower": lower for name, (_, lower) in aucs.items()},
                "plausible_ceiling": ceiling,
                "problems": "; ".join(problems) or "none",
            },
            description="; ".join(problems) or f"permuted-label AUC {perm_auc:.3f}; AUCs below the {ceiling} ceiling",
        )
        return judged(context, card, artifact_root(artifacts), symbol, timeframe, result)

    @dg.asset_check(
        asset=MODEL,
        partitions_def=partitions_def,
        blocking=True,
        description="The model's features are exactly selected_features, and none is a raw price.",
    )
    def production_model_features_match(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        card = model_card(artifacts, context)
        used = card.features
        selected = Selection.names(artifact_root(artifacts), symbol, timeframe)
        prices = raw_price_columns(used)
        result = dg.AssetCheckResult(
            passed=used == selected and not prices,
            metadata={
                "model_features": ", ".join(used),
                "selected_features": ", ".join(selected),
                "raw_prices": ", ".join(prices) or "none",
            },
            description=(
                f"raw prices used: {', '.join(prices)}"
                if prices
                else "the model's features differ from selected_features"
                if used != selected
                else f"{len(used)} selected features, no raw price"
            ),
        )
        return judged(context, card, artifact_root(artifacts), symbol, timeframe, result)

    return [
        production_model_grades,
        production_model_no_regression,
        production_model_holdout_confirms,
        production_model_leakage_sentinels,
        production_model_features_match,
    ]
