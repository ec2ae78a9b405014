"""Checks on `shap_report`: the values add up, no raw price is explained, the ranking is stable."""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.history import latest_values
from tb_assets.checks.publication import judged
from tb_assets.core.features.matrix import raw_price_columns
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import ModelCard, ShapSummary

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)

REPORT = dg.AssetKey("shap_report")
# the blocking checks a new report version waits for before readers open it (checks.publication)
BLOCKING = ("shap_additivity", "shap_no_raw_prices")
ADDITIVITY_TOLERANCE = 1e-6
SHAP_META_COLUMNS = ("ts", "base_value", "margin", "probability")


class StabilityConfig(dg.Config):
    min_top10_overlap: float = Field(default=0.6, description="WARN when fewer than this share of the top-10 features stay in the top 10")
    min_spearman: float = Field(
        default=0.5, description="WARN when the rank correlation of mean |SHAP| with the previous report is below this"
    )


def explained_features(values: pd.DataFrame) -> list[str]:
    return [c for c in values.columns if c not in SHAP_META_COLUMNS]


def build_shap_report_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=REPORT,
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"features": dg.AssetIn("features")},
        description=f"Additivity: on every explained row the contributions plus the base value equal the margin, "
        f"and the margin is the stored production model's raw score on that row (within {ADDITIVITY_TOLERANCE:g}).",
    )
    def shap_additivity(context: dg.AssetCheckExecutionContext, features: pd.DataFrame, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        report = ShapSummary.load(root, symbol, timeframe, review=True)
        values = report.values()
        names = explained_features(values)
        total = values[names].to_numpy("float64").sum(axis=1) + values["base_value"].to_numpy("float64")
        gap = np.abs(total - values["margin"].to_numpy("float64"))
        card = ModelCard.load(root, symbol, timeframe)
        model = card.model(root, symbol, timeframe)
        rows = features.set_index("ts").reindex(pd.DatetimeIndex(values["ts"]))
        drift = np.abs(model.raw_score(rows[card.features]) - values["margin"].to_numpy("float64"))
        worst = int(np.argmax(gap)) if len(gap) else 0
        result = dg.AssetCheckResult(
            passed=bool(gap.max() <= ADDITIVITY_TOLERANCE and drift.max() <= ADDITIVITY_TOLERANCE),
            metadata={
                "rows": len(values),
                "max_additivity_error": float(gap.max()),
                "max_margin_vs_model": float(drift.max()),
                "rows_over_tolerance": int((gap > ADDITIVITY_TOLERANCE).sum()),
                "worst_row": str(values["ts"].iloc[worst]) if len(values) else "none",
            },
            description=f"largest additivity error {float(gap.max()):.2e}, margin vs model {float(drift.max()):.2e} "
            f"(tolerance {ADDITIVITY_TOLERANCE:g}) on {len(values):,} rows",
        )
        return judged(context, report, root, symbol, timeframe, result)

    @dg.asset_check(
        asset=REPORT,
        partitions_def=partitions_def,
        blocking=True,
        description="No raw price level among the explained features, and they are exactly the production model's.",
    )
    def shap_no_raw_prices(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        report = ShapSummary.load(root, symbol, timeframe, review=True)
        names = explained_features(report.values())
        prices = raw_price_columns(names)
        model_features = ModelCard.load(root, symbol, timeframe).features
        result = dg.AssetCheckResult(
            passed=not prices and names == model_features,
            metadata={
                "raw_prices": ", ".join(prices) or "none",
                "explained": ", ".join(names),
                "model_features": ", ".join(model_features),
            },
            description=(
                f"raw prices explained: {', '.join(prices)}"
                if prices
                else "explained features differ from the model's"
                if names != model_features
                else f"{len(names)} features, the model's, no raw price"
            ),
        )
        return judged(context, report, root, symbol, timeframe, result)

    @dg.asset_check(
        asset=REPORT,
        partitions_def=partitions_def,
        description="The ranking by mean |SHAP| is stable against the previous report of this partition: top-10 "
        "overlap and Spearman correlation above configurable bounds (WARN).",
    )
    def shap_ranking_stable(context: dg.AssetCheckExecutionContext, config: StabilityConfig) -> dg.AssetCheckResult:
        from tb_assets.core.modeling.explain import ranking_stability

        rankings = latest_values(context, REPORT, "mean_abs_shap")
        if len(rankings) < 2:
            return dg.AssetCheckResult(
                passed=True, metadata={"compared_with": "nothing: first report"}, description="first report: nothing to compare with"
            )
        overlap, rho = ranking_stability(rankings[0], rankings[1])
        passed = overlap >= config.min_top10_overlap and (np.isnan(rho) or rho >= config.min_spearman)
        return dg.AssetCheckResult(
            passed=bool(passed),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "top10_overlap": overlap,
                "spearman": rho,
                "min_top10_overlap": config.min_top10_overlap,
                "min_spearman": config.min_spearman,
            },
            description=f"top-10 overlap {overlap:.2f} (min {config.min_top10_overlap}), Spearman {rho:.2f} (min {config.min_spearman})",
        )

    return [shap_additivity, shap_no_raw_prices, shap_ranking_stable]
