"""`production_model`: LightGBM on all rows with the selected features and the best params."""

import pickle
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from typing import TYPE_CHECKING, Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import PurgedCVConfig, artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.production_model import build_production_model_checks
from tb_assets.core.modeling.cv import purged_holdout
from tb_assets.core.modeling.params import BALANCE_BAND
from tb_assets.reporting.plots import draw_deciles, draw_reliability, draw_roc_pr, figure_png, thumbnail_markdown
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import ModelCard, Selection, TunedParams

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)
if TYPE_CHECKING:
    from tb_assets.core.modeling.evaluation import HoldoutScore

# the positive rate and the lifts over it are kept: without them AUPR, precision@10% and Brier cannot be graded
OOF_KEPT = ("auc", "aupr", "brier", "precision_at_10", "spread", "auc_cv", "positive_rate", "aupr_lift", "precision_at_10_lift",
            "brier_skill")
HOLDOUT_PLOTTED = ("auc", "auc_lower", "aupr", "brier", "precision_at_10", "spread", "n_samples")
PLOTS = {"holdout_roc_pr.png": draw_roc_pr, "holdout_reliability.png": draw_reliability, "holdout_deciles.png": draw_deciles}


class ProductionConfig(PurgedCVConfig):
    sample_weights: bool = Field(default=True, description="Train with the uniqueness weights of the labels")
    balanced: Literal["auto", "true", "false"] = Field(
        default="auto", description=f"Balance the classes with scale_pos_weight: 'auto' when the positive rate is outside {BALANCE_BAND}"
    )
    n_jobs: int = Field(default=2, description="LightGBM threads")
    seed: int = Field(default=0, description="LightGBM seed")


def holdout_record(score: "HoldoutScore", y: np.ndarray, t0: pd.DatetimeIndex, development: np.ndarray, holdout: np.ndarray,
                   overlap: float) -> dict:
    from tb_assets.core.modeling.leakage import auc_lower_bound
    from tb_assets.core.modeling.metrics import auc_standard_error

    ts = t0[holdout]
    se = auc_standard_error(y[holdout], score.proba)
    return {**asdict(score.metrics), "n_samples": len(holdout), "positive_rate": float(y[holdout].mean()),
            "development_samples": len(development), "date_range": [str(ts.min()), str(ts.max())], "auc_se": se,
            "auc_lower": auc_lower_bound(score.metrics.auc, se, overlap)}


def label_overlap(targets: pd.DataFrame) -> float:
    """How many labels share a bar on average (1 / mean uniqueness): what the AUC's bound widens by."""
    return float(1.0 / targets["uniqueness"].mean()) if "uniqueness" in targets.columns else 1.0


def build_production_model_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, deps=["selected_features", "best_params"], kinds={"lightgbm"}, group_name="modeling",
              code_version="2")
    def production_model(
        context: dg.AssetExecutionContext, config: ProductionConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """Trained on every labelled event (sample weights unless disabled). Writes the booster in LightGBM's
        text format, production_model.pkl, feature_importance.csv and model_metadata.json (with the
        out-of-fold metrics of the same params on purged CV, the untouched holdout's metrics and a SHA-256
        of each file), atomically, plus the holdout's ROC / precision-recall curves, reliability diagram and
        decile bars."""
        from sklearn.base import clone
        from sklearn.metrics import average_precision_score, roc_auc_score

        from tb_assets.core.modeling.estimators.class_weight import class_balance
        from tb_assets.core.modeling.estimators.contract import fit
        from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
        from tb_assets.core.modeling.evaluation import Folds, score_folds, score_holdout
        from tb_assets.core.modeling.grades import grade_table
        from tb_assets.core.modeling.leakage import auc_lower_bound
        from tb_assets.core.modeling.metrics import auc_standard_error, summarize

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        selection = Selection.load(root, symbol, timeframe)
        names = selection.selected
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, names)
        params, source = TunedParams.chosen(root, symbol, timeframe)
        weight = data.weight if config.sample_weights else None
        spw = class_balance(data.y, weight, config.balanced)
        recipe = LightGBMClassifier(params, seed=config.seed, threads=config.n_jobs, scale_pos_weight=spw)

        files: dict[str, bytes] = {}
        holdout, holdout_plots = None, {}
        start = selection.holdout_start_ts
        if start is not None:
            development, rows = purged_holdout(data.t1, start)
            scored = score_holdout(recipe, data.X, data.y, weight, development, rows, label=f"holdout events (holdout from {start})")
            holdout = holdout_record(scored, data.y, data.t1.index, development, rows, label_overlap(targets))
            y_holdout = data.y[rows]
            files[ModelCard.HOLDOUT_MODEL] = scored.model.booster_.model_to_string().encode()
            predictions = pd.DataFrame({"ts": data.t1.index[rows], "y": y_holdout, "proba": scored.proba})
            files[ModelCard.HOLDOUT_PREDICTIONS] = predictions.to_parquet(index=False)
            holdout_plots = {name: figure_png(lambda fig, draw=draw: draw(fig, y_holdout, scored.proba), size=(10, 4.5))
                             for name, draw in PLOTS.items()}
            thumbnail = thumbnail_markdown(lambda fig: draw_roc_pr(fig, y_holdout, scored.proba), "holdout ROC and precision-recall")
        splits = data.purged_splits(config.n_splits, config.embargo_pct)
        fold_scores = score_folds(recipe, Folds.build(data.X, data.y, weight, splits, threads=config.n_jobs))
        oof = summarize([f.score for f in fold_scores])
        tested = np.concatenate([f.test for f in fold_scores])  # the pooled out-of-fold predictions give the AUC's standard error
        oof_se = auc_standard_error(data.y[tested], np.concatenate([f.prediction for f in fold_scores]))

        model = fit(clone(recipe), data.X, data.y, weight)
        proba = model.predict_proba(data.X)[:, 1]
        booster = model.booster_
        importance = pd.DataFrame({
            "feature": names,
            "gain": booster.feature_importance("gain"),
            "split": booster.feature_importance("split"),
        }).sort_values("gain", ascending=False)
        files = {
            ModelCard.MODEL: booster.model_to_string().encode(),
            ModelCard.PICKLE: pickle.dumps(model),
            ModelCard.IMPORTANCE: importance.to_csv(index=False).encode(),
            **files, **holdout_plots,
        }
        ts = data.t1.index
        card = ModelCard(
            training_date=datetime.now(timezone.utc).isoformat(),
            n_features=len(names),
            features=names,
            params={**params, "source": source},
            n_estimators=int(params["n_estimators"]),
            train_auc=float(roc_auc_score(data.y, proba)),
            train_aupr=float(average_precision_score(data.y, proba)),
            n_samples=len(data.y),
            positive_rate=data.positive_rate,
            date_range=[str(ts.min()), str(ts.max())],
            balanced=spw is not None,
            scale_pos_weight=spw,
            sample_weights_used=bool(config.sample_weights),
            seed=config.seed,
            cv={"n_splits": config.n_splits, "embargo_pct": config.embargo_pct},
            oof_metrics={**{k: getattr(oof, k) for k in OOF_KEPT}, "auc_se": oof_se,
                         "auc_lower": auc_lower_bound(oof.auc, oof_se, label_overlap(targets))},
            holdout_metrics=holdout,
            library_versions={lib: version(lib) for lib in ("lightgbm", "optuna", "scikit-learn", "numpy", "pandas", "dagster")},
        )
        meta_path = card.save(root, symbol, timeframe, files)
        folder = ModelCard.folder(root, symbol, timeframe)
        pictures = {}
        if holdout is not None:
            pictures = {
                "holdout_curves": dg.MetadataValue.md(thumbnail),
                **{f"plot_{name.removesuffix('.png')}": dg.MetadataValue.path(str(folder / name)) for name in PLOTS},
                **{f"holdout_{k}": holdout[k] for k in HOLDOUT_PLOTTED},
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
                "params_source": source,
                "grades": dg.MetadataValue.md(markdown_table(grade_table(card.oof_metrics, holdout))),
                "feature_importance": dg.MetadataValue.md(markdown_table(importance.head(15))),
                "model_metadata": dg.MetadataValue.path(str(meta_path)),
                "features": ", ".join(names),
                "params": dg.MetadataValue.json(card.params),
            }
        )

    return production_model


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `production_model` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_production_model_asset(partitions_def)], asset_checks=build_production_model_checks(partitions_def))
