"""`production_model`: LightGBM on all rows with the selected features and the best params."""

import hashlib
import pickle
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Literal

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.metrics import average_precision_score, roc_auc_score

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import PurgedCVConfig, partition_training_data, read_selected, stored_holdout_start
from tb_assets.core.artifacts import write_atomic, write_json
from tb_assets.core.modeling.cv import purged_holdout
from tb_assets.core.modeling.metrics import grade
from tb_assets.core.modeling.training_data import TrainingData
from tb_assets.core.modeling.tuning import DEFAULT_PARAMS, Folds, evaluate, lgb_params
from tb_assets.core.labels.weights import scale_pos_weight
from tb_assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore

BALANCE_BAND = (0.4, 0.6)  # 'auto' balances when the positive rate is outside this
METADATA_FIELDS = (
    "training_date", "n_features", "features", "params", "n_estimators", "train_auc", "train_aupr", "n_samples",
    "positive_rate", "date_range", "balanced", "scale_pos_weight", "sample_weights_used",
    "oof_metrics", "holdout_metrics", "library_versions", "artifact_sha256",
)
GRADED = ("auc", "aupr", "brier", "precision_at_10", "auc_cv")
HOLDOUT_PLOTTED = ("auc", "aupr", "brier", "precision_at_10", "spread", "n_samples")


class ProductionConfig(PurgedCVConfig):
    sample_weights: bool = Field(default=True, description="Train with the uniqueness weights of the labels")
    balanced: Literal["auto", "true", "false"] = Field(
        default="auto", description=f"Balance the classes with scale_pos_weight: 'auto' when the positive rate is outside {BALANCE_BAND}"
    )
    n_jobs: int = Field(default=2, description="LightGBM threads")
    seed: int = Field(default=0, description="LightGBM seed")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chosen_params(artifacts: ArtifactStore, symbol: str, timeframe: str) -> tuple[dict, str]:
    path = artifacts.path("best_params", symbol, timeframe, "best_params.json")
    if not path.exists():
        return dict(DEFAULT_PARAMS), "defaults (best_params not materialized)"
    doc = artifacts.read_json("best_params", symbol, timeframe, "best_params.json")
    if doc.get("params") is None:
        return dict(DEFAULT_PARAMS), "defaults (every tuning trial was pruned)"
    return doc["params"], "best_params"


def grade_table(oof: dict, holdout: dict | None) -> pd.DataFrame:
    """Each graded metric's out-of-fold value and grade, beside the holdout's (no CV on one holdout)."""
    table = pd.DataFrame({"metric": GRADED, "oof": [oof[k] for k in GRADED], "oof_grade": [grade(k, oof[k]) for k in GRADED]})
    if holdout is not None:
        table["holdout"] = [holdout.get(k, "-") for k in GRADED]  # one holdout has no fold-to-fold CV
        table["holdout_grade"] = [grade(k, holdout[k]) if k in holdout else "-" for k in GRADED]
    return table


def holdout_metrics(data: TrainingData, start: pd.Timestamp | None, params: dict, *, weight: np.ndarray | None,
                    spw: float | None, seed: int, threads: int) -> dict | None:
    """The same recipe fitted on the development events and scored on the holdout they never saw,
    exactly as one out-of-fold split is scored: selection and tuning cannot flatter it."""
    if start is None:
        return None
    development, holdout = purged_holdout(data.t1, start)
    for name, rows in (("holdout", holdout), ("development", development)):
        if len(np.unique(data.y[rows])) < 2:
            raise dg.Failure(f"the {name} events (holdout from {start}) hold one class only: change holdout_pct on selected_features")
    m = evaluate(params, Folds.build(data.X, data.y, weight, [(development, holdout)]), seed=seed, threads=threads,
                 scale_pos_weight=spw).folds[0]
    ts = data.t1.index[holdout]
    return {**asdict(m), "n_samples": len(holdout), "positive_rate": float(data.y[holdout].mean()),
            "development_samples": len(development), "date_range": [str(ts.min()), str(ts.max())]}


def build_production_model_asset(partitions_def: dg.PartitionsDefinition, deps: list) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, deps=deps, kinds={"lightgbm"}, group_name="modeling", code_version="1")
    def production_model(
        context: dg.AssetExecutionContext, config: ProductionConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """Trained on every labelled event (sample weights unless disabled). Writes the booster in LightGBM's
        text format, production_model.pkl, feature_importance.csv and model_metadata.json (with the
        out-of-fold metrics of the same params on purged CV and a SHA-256 of each file), atomically."""
        symbol, timeframe = partition_parts(context)
        names = read_selected(artifacts, symbol, timeframe)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, names)
        params, source = chosen_params(artifacts, symbol, timeframe)
        weight = data.weight if config.sample_weights else None
        rate = data.positive_rate
        balanced = config.balanced == "true" or (config.balanced == "auto" and not BALANCE_BAND[0] <= rate <= BALANCE_BAND[1])
        spw = scale_pos_weight(data.y, weight) if balanced else None

        start = stored_holdout_start(artifacts, symbol, timeframe)
        holdout = holdout_metrics(data, start, params, weight=weight, spw=spw, seed=config.seed, threads=config.n_jobs)
        folds = Folds.build(data.X, data.y, weight, data.purged_splits(config.n_splits, config.embargo_pct))
        oof = evaluate(params, folds, seed=config.seed, threads=config.n_jobs, scale_pos_weight=spw)

        model = lgb.LGBMClassifier(**lgb_params(params, seed=config.seed, threads=config.n_jobs, scale_pos_weight=spw),
                                   n_estimators=int(params["n_estimators"]))
        model.fit(data.X, data.y, sample_weight=weight)
        proba = model.predict_proba(data.X)[:, 1]
        booster = model.booster_
        importance = pd.DataFrame({
            "feature": names,
            "gain": booster.feature_importance("gain"),
            "split": booster.feature_importance("split"),
        }).sort_values("gain", ascending=False)

        folder = ("production_model", symbol, timeframe)
        paths = {
            "model.txt": write_atomic(artifacts.path(*folder, "model.txt"), booster.model_to_string().encode()),
            "production_model.pkl": write_atomic(artifacts.path(*folder, "production_model.pkl"), pickle.dumps(model)),
            "feature_importance.csv": write_atomic(artifacts.path(*folder, "feature_importance.csv"), importance.to_csv(index=False).encode()),
        }
        ts = data.t1.index
        meta = {
            "training_date": datetime.now(timezone.utc).isoformat(),
            "n_features": len(names),
            "features": names,
            "params": {**params, "source": source},
            "n_estimators": int(params["n_estimators"]),
            "train_auc": float(roc_auc_score(data.y, proba)),
            "train_aupr": float(average_precision_score(data.y, proba)),
            "n_samples": len(data.y),
            "positive_rate": rate,
            "date_range": [str(ts.min()), str(ts.max())],
            "balanced": bool(balanced),
            "scale_pos_weight": spw,
            "sample_weights_used": bool(config.sample_weights),
            "oof_metrics": {k: getattr(oof, k) for k in ("auc", "aupr", "brier", "precision_at_10", "spread", "auc_cv")},
            "holdout_metrics": holdout,
            "library_versions": {lib: version(lib) for lib in ("lightgbm", "optuna", "scikit-learn", "numpy", "pandas", "dagster")},
            "artifact_sha256": {name: sha256(p) for name, p in paths.items()},
        }
        assert tuple(meta) == METADATA_FIELDS
        meta_path = write_json(artifacts.path(*folder, "model_metadata.json"), meta)
        holdout_md = {} if holdout is None else {f"holdout_{k}": holdout[k] for k in HOLDOUT_PLOTTED}
        return dg.MaterializeResult(
            metadata={
                **{f"oof_{k}": float(v) for k, v in meta["oof_metrics"].items()},
                **holdout_md,
                "holdout_start": "none" if start is None else start.isoformat(),
                "train_auc": meta["train_auc"],
                "n_samples": meta["n_samples"],
                "n_features": meta["n_features"],
                "positive_rate": rate,
                "balanced": bool(balanced),
                "params_source": source,
                "grades": dg.MetadataValue.md(markdown_table(grade_table(meta["oof_metrics"], holdout))),
                "feature_importance": dg.MetadataValue.md(markdown_table(importance.head(15))),
                "model_metadata": dg.MetadataValue.path(str(meta_path)),
                "features": ", ".join(names),
                "params": dg.MetadataValue.json(meta["params"]),
            }
        )

    return production_model
