"""`production_model`: LightGBM on all rows with the selected features and the best params."""

import pickle
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from typing import TYPE_CHECKING, Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import PurgedCVConfig, artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.production_model import BLOCKING, MODEL, build_production_model_checks
from tb_assets.checks.publication import awaited
from tb_assets.core.modeling.params import BALANCE_BAND
from tb_assets.reporting.plots import draw_deciles, draw_reliability, draw_roc_pr, figure_png, thumbnail_markdown
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import ModelCard, Selection, TunedParams

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)
if TYPE_CHECKING:
    pass

METRICS_VERSION = 2  # how the out-of-fold metrics are read: the regression check compares equal versions only
HOLDOUT_PLOTTED = ("auc", "auc_lower", "aupr", "brier", "precision_at_10", "spread", "n_samples")
PLOTS = {"holdout_roc_pr.png": draw_roc_pr, "holdout_reliability.png": draw_reliability, "holdout_deciles.png": draw_deciles}


class ProductionConfig(PurgedCVConfig):
    sample_weights: bool = Field(default=True, description="Train with the uniqueness weights of the labels")
    balanced: Literal["auto", "true", "false"] = Field(
        default="auto", description=f"Balance the classes with scale_pos_weight: 'auto' when the positive rate is outside {BALANCE_BAND}"
    )
    n_jobs: int = Field(default=2, description="LightGBM threads")
    seed: int = Field(default=0, description="LightGBM seed")


def build_production_model_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        deps=["selected_features", "best_params"],
        kinds={"lightgbm"},
        group_name="modeling",
        code_version="3",
    )
    def production_model(
        context: dg.AssetExecutionContext, config: ProductionConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """Trained on every labelled event (sample weights unless disabled). Writes the booster in LightGBM's
        text format, production_model.pkl (with its calibrator), feature_importance.csv and model_metadata.json
        (the class weight, the probability calibrator chosen by out-of-fold Brier on purged CV of the development
        events, the out-of-fold metrics, the untouched holdout's metrics and a SHA-256 of each file), atomically,
        plus the holdout's ROC / precision-recall curves, reliability diagram and decile bars."""
        from tb_assets.core.labels.weights import label_overlap
        from tb_assets.core.modeling.grades import grade_table
        from tb_assets.core.modeling.production import ProductionSpec, train_production_model

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        selection = Selection.load(root, symbol, timeframe)
        names = selection.selected
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, names)
        params, source = TunedParams.chosen(root, symbol, timeframe)
        spec = ProductionSpec(
            sample_weights=config.sample_weights,
            balanced=config.balanced,
            n_jobs=config.n_jobs,
            seed=config.seed,
            n_splits=config.n_splits,
            embargo_pct=config.embargo_pct,
        )
        overlap = label_overlap(targets["uniqueness"])
        trained = train_production_model(data, params, selection.holdout_start_ts, spec, overlap=overlap)
        model, importance, holdout = trained.model, trained.importance, trained.holdout

        files = {
            ModelCard.MODEL: model.booster_.model_to_string().encode(),  # the booster; the card holds its class weight and calibration
            ModelCard.PICKLE: pickle.dumps(model),
            ModelCard.IMPORTANCE: importance.to_csv(index=False).encode(),
        }
        if holdout is not None:
            y_holdout, proba = data.y[holdout.rows], holdout.proba  # calibrated
            plots = {**PLOTS, "holdout_reliability.png": partial(draw_reliability, overlap=overlap)}  # bands widened as the AUC's
            files[ModelCard.HOLDOUT_MODEL] = holdout.score.model.booster_.model_to_string().encode()
            files[ModelCard.HOLDOUT_PREDICTIONS] = holdout.predictions(data).to_parquet(index=False)
            files.update(
                {name: figure_png(lambda fig, draw=draw: draw(fig, y_holdout, proba), size=(10, 4.5)) for name, draw in plots.items()}
            )
            thumbnail = thumbnail_markdown(lambda fig: draw_roc_pr(fig, y_holdout, proba), "holdout ROC and precision-recall")
        ts = data.t1.index
        card = ModelCard(
            training_date=datetime.now(UTC).isoformat(),
            n_features=len(names),
            features=names,
            params={**params, "source": source},
            n_estimators=int(params["n_estimators"]),
            train_auc=trained.train_auc,
            train_aupr=trained.train_aupr,
            n_samples=len(data.y),
            positive_rate=data.positive_rate,
            date_range=[str(ts.min()), str(ts.max())],
            balanced=trained.scale_pos_weight is not None,
            scale_pos_weight=trained.scale_pos_weight,
            development_scale_pos_weight=trained.development_scale_pos_weight,
            calibration=trained.calibration.as_dict(),
            data_end=str(features["ts"].max()),
            sample_weights_used=bool(config.sample_weights),
            seed=config.seed,
            cv={"n_splits": config.n_splits, "embargo_pct": config.embargo_pct},
            oof_metrics=trained.oof_metrics,
            holdout_metrics=None if holdout is None else holdout.record,
            library_versions={lib: version(lib) for lib in ("lightgbm", "optuna", "scikit-learn", "numpy", "pandas", "dagster")},
        )
        # a new version: readers open it once the blocking checks of this run passed (the previous stays till then)
        meta_path = card.save(root, symbol, timeframe, files, awaits=awaited(context, MODEL, BLOCKING))
        folder = card.location
        pictures = {}
        if holdout is not None:
            pictures = {
                "holdout_curves": dg.MetadataValue.md(thumbnail),
                **{f"plot_{name.removesuffix('.png')}": dg.MetadataValue.path(str(folder / name)) for name in PLOTS},
                **{f"holdout_{k}": holdout.record[k] for k in HOLDOUT_PLOTTED},
            }
        return dg.MaterializeResult(
            metadata={
                **{f"oof_{k}": float(v) for k, v in card.oof_metrics.items()},
                **pictures,
                "holdout_start": selection.holdout_start or "none",
                "train_auc": card.train_auc,
                "n_samples": card.n_samples,
                "n_features": card.n_features,
                "positive_rate": card.positive_rate,
                "balanced": card.balanced,
                "calibration": trained.calibration.method,
                "calibration_choice": trained.calibration.describe(),
                "params_source": source,
                # 2: out of fold on the development events, with calibrated probabilities (1: every event, uncalibrated)
                "metrics_version": METRICS_VERSION,
                "grades": dg.MetadataValue.md(markdown_table(grade_table(card.oof_metrics, card.holdout_metrics))),
                "feature_importance": dg.MetadataValue.md(markdown_table(importance.head(15))),
                "model_metadata": dg.MetadataValue.path(str(meta_path)),
                "version": card.version,
                "features": ", ".join(names),
                "params": dg.MetadataValue.json(card.params),
            }
        )

    return production_model


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `production_model` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_production_model_asset(partitions_def)], asset_checks=build_production_model_checks(partitions_def))
