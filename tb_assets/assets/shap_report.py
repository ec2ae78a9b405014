"""`shap_report`: exact TreeSHAP of the production model, rankings by regime, permutation importance."""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.publication import awaited
from tb_assets.checks.shap_report import BLOCKING, REPORT, build_shap_report_checks
from tb_assets.reporting.plots import (
    draw_regime_heatmap,
    draw_shap_bar,
    figure_png,
    shap_beeswarm_png,
    shap_dependence_png,
    thumbnail_markdown,
)
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import FeatureCatalog, ModelCard, Selection, ShapSummary

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)

RANKING_KEPT = 50  # features whose mean |SHAP| the metadata keeps for the stability check


class ShapConfig(dg.Config):
    n_explain: int = Field(default=2000, description="Development events explained besides the holdout (the most recent ones)")
    max_rows: int = Field(default=5000, description="At most this many events are explained in all (the most recent)")
    n_repeats: int = Field(default=5, description="Shuffles per feature for the permutation importance on the holdout")
    top_dependence: int = Field(default=3, description="Dependence plots for this many top features")
    threads: int = Field(default=2, description="Threads for TreeSHAP and the permutation importance")
    seed: int = Field(default=0, description="Seed of the permutation importance")


def build_shap_report_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, deps=["production_model"], kinds={"lightgbm", "shap"}, group_name="explain", code_version="1")
    def shap_report(
        context: dg.AssetExecutionContext, config: ShapConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """Exact TreeSHAP (LightGBM's own pred_contrib) of the production model on the holdout events and the
        last n_explain development events; mean |SHAP| ranking beside the model's gain ranking, the ranking
        within each market regime, and the holdout AUC drop when each feature is shuffled (of the model fitted
        on development only, so the holdout stays out of sample). Writes shap_values.parquet, shap_summary.csv,
        regime_importance.csv, permutation_importance.csv and the plots."""
        from tb_assets.core.modeling.explanation import ExplanationSpec, explain_production_model

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        card = ModelCard.load(root, symbol, timeframe)
        model = card.model(root, symbol, timeframe, threads=config.threads)  # with its class weight and calibrator
        catalog = FeatureCatalog.load(root, symbol, timeframe)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, card.features)
        start = Selection.load(root, symbol, timeframe).holdout_start_ts
        holdout_model = None if start is None else card.model(root, symbol, timeframe, holdout=True, threads=config.threads)
        spec = ExplanationSpec(
            n_explain=config.n_explain, max_rows=config.max_rows, n_repeats=config.n_repeats, threads=config.threads, seed=config.seed
        )
        gain = card.feature_importance(root, symbol, timeframe).set_index("feature")["gain"]
        report = explain_production_model(model, holdout_model, data, start, gain, features.set_index("ts")[catalog.regime_columns], spec)
        X, summary, by_regime, permutation = report.X, report.summary, report.by_regime, report.permutation
        values, explanation, rows, n_holdout, error = (
            report.values,
            report.explanation,
            report.rows,
            report.holdout_rows,
            report.max_additivity_error,
        )

        top = summary["feature"].head(config.top_dependence).tolist()
        plots = {
            "shap_beeswarm.png": shap_beeswarm_png(explanation.values, X),
            "shap_bar.png": figure_png(lambda fig: draw_shap_bar(fig, summary), size=(8, 0.3 * min(20, len(summary)) + 1.5)),
            "shap_regimes.png": figure_png(lambda fig: draw_regime_heatmap(fig, by_regime), size=(10, 5)),
            **{f"shap_dependence_{name}.png": shap_dependence_png(name, explanation.values, X) for name in top},
        }
        mean_abs = dict(zip(summary["feature"], summary["mean_abs_shap"].astype(float)))
        record = ShapSummary(
            explainer=explanation.kind,
            features=card.features,
            rows_explained=len(rows),
            holdout_rows=n_holdout,
            development_rows=len(rows) - n_holdout,
            model_sha256=card.artifact_sha256[ModelCard.MODEL],
            max_additivity_error=error,
            mean_abs_shap=mean_abs,
        )
        path = record.save(
            root,
            symbol,
            timeframe,
            {
                ShapSummary.VALUES: values,
                ShapSummary.SUMMARY: summary,
                ShapSummary.REGIMES: by_regime,
                ShapSummary.PERMUTATION: permutation,
            },
            plots,
            awaits=awaited(context, REPORT, BLOCKING),
        )
        folder = record.location
        leader = summary.iloc[0]
        return dg.MaterializeResult(
            metadata={
                "ranking": dg.MetadataValue.md(thumbnail_markdown(lambda fig: draw_shap_bar(fig, summary, top=10), "mean |SHAP|")),
                "top_feature": str(leader["feature"]),
                "top_feature_share": float(leader["share"]),
                "rows_explained": len(rows),
                "holdout_rows_explained": n_holdout,
                "base_value": float(np.mean(explanation.base_value)),
                "max_additivity_error": error,
                "explainer": explanation.kind,
                "shap_summary": dg.MetadataValue.md(markdown_table(summary, max_rows=15)),
                "permutation_importance": dg.MetadataValue.md(
                    markdown_table(permutation, max_rows=15) if len(permutation) else "no holdout (holdout_pct 0)"
                ),
                "regimes": ", ".join(catalog.regime_columns) or "none in the feature matrix",
                "mean_abs_shap": dg.MetadataValue.json(dict(list(mean_abs.items())[:RANKING_KEPT])),
                **{f"plot_{name.removesuffix('.png')}": dg.MetadataValue.path(str(folder / name)) for name in plots},
                "report": dg.MetadataValue.path(str(path)),
                "version": record.version,
            }
        )

    return shap_report


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `shap_report` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_shap_report_asset(partitions_def)], asset_checks=build_shap_report_checks(partitions_def))
