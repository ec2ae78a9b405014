"""`best_params`: LightGBM hyperparameters tuned by Optuna on purged CV, with sample weights."""

import os
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import ScaleConfig, artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.best_params import build_best_params_checks
from tb_assets.resources import ArtifactStore, TuningStorage
from tb_assets.storage.records import Selection, TunedParams

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)


class TuningConfig(ScaleConfig):
    objective: Literal["composite", "auc"] = Field(
        default="composite",
        description="'composite': weighted out-of-fold score (docs/statistics.md); 'auc': mean fold AUC - variance_penalty x std",
    )
    variance_penalty: float = Field(default=1.0, description="For objective 'auc': penalty on the std of fold AUCs")
    n_trials: int = Field(default=15, description="Finished trials the study should hold (a resumed study only runs the rest)")
    timeout: float | None = Field(default=None, description="Stop starting trials after this many seconds")
    n_jobs: int = Field(default=1, description="Trials run in parallel (threads)")
    threads: int = Field(default=0, description="Folds a trial fits side by side, one LightGBM thread each (0: cores / n_jobs)")
    resume: bool = Field(default=True, description="Resume the partition's study; False starts it afresh")
    min_auc: float = Field(default=0.54, description="Prune a trial when a fold AUC is below this")
    max_brier: float = Field(default=0.26, description="Prune a trial when a fold Brier score is above this")
    max_auc_cv: float = Field(default=0.20, description="Prune when fold AUCs' coefficient of variation exceeds this (from fold 3)")
    seed: int = Field(default=0, description="Seed of the sampler and of LightGBM")
    early_stopping: bool = Field(
        default=True,
        description="Stop each fold's boosting when the loss on a purged slice at the end of its training rows stops improving; "
        "n_estimators is then a cap and the tuned value is the rounds kept. False: every trial trains all its rounds (the exact search)",
    )
    early_stopping_fraction: float = Field(
        default=0.15, description="Share of each fold's training rows (the latest) that early stopping validates on"
    )
    on_all_pruned: Literal["use_defaults", "fail"] = Field(
        default="use_defaults",
        description="When every trial is pruned: 'use_defaults' records no params (the best_params_found check fails "
        "with the reason and production_model uses the documented defaults) or 'fail' the run",
    )


def build_best_params_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        deps=["selected_features"],
        kinds={"lightgbm", "optuna"},
        group_name="modeling",
        code_version="1",
    )
    def best_params(
        context: dg.AssetExecutionContext,
        config: TuningConfig,
        features: pd.DataFrame,
        targets: pd.DataFrame,
        artifacts: ArtifactStore,
        tuning_storage: TuningStorage,
    ) -> dg.MaterializeResult:
        """Optuna study per partition (persistent, resumable) over the LightGBM search space, pruning
        hopeless trials fold by fold, on the development events only (selected_features' holdout stays unseen).
        Writes best_params.json, trials_history.csv, param_importance.json."""
        from tb_assets.core.modeling.evaluation import EarlyStopping
        from tb_assets.core.modeling.tuning import AllTrialsPruned, PruningRules, TuningSpec, fold_of_rows, tune

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        selection = Selection.load(root, symbol, timeframe)
        names = selection.selected
        start = selection.holdout_start_ts
        data, _ = partition_training_data(artifacts, symbol, timeframe, features, targets, names).split_holdout(start)
        threads = config.threads or max(1, (os.cpu_count() or 1) // max(1, config.n_jobs))
        storage, study_name = tuning_storage.url(symbol, timeframe), tuning_storage.study_name(symbol, timeframe)
        rules = PruningRules(config.min_auc, config.max_brier, config.max_auc_cv)
        record = {"features": names, "study": study_name, "development_samples": len(data.y), "holdout_start": selection.holdout_start}
        splits = data.purged_splits(config.n_splits, config.embargo_pct)
        thin = config.thin(data, splits)
        stopping = EarlyStopping(fraction=config.early_stopping_fraction) if config.early_stopping and config.at_scale(data) else None
        trial_rows = pd.DataFrame({"ts": data.t1.index, "t1": data.t1.to_numpy(), "y": data.y, "fold": fold_of_rows(splits, len(data.y))})

        def keep_predictions(fingerprint: str, number: int, predictions) -> None:
            TunedParams.keep_trial_rows(root, symbol, timeframe, fingerprint, trial_rows)
            TunedParams.keep_trial(root, symbol, timeframe, fingerprint, number, predictions)

        try:
            spec = TuningSpec(
                storage=storage,
                study_name=study_name,
                n_trials=config.n_trials,
                timeout=config.timeout,
                n_jobs=config.n_jobs,
                objective=config.objective,
                variance_penalty=config.variance_penalty,
                rules=rules,
                resume=config.resume,
                seed=config.seed,
                threads=threads,
                early_stopping=stopping,
                thin=thin,
                keep_predictions=keep_predictions,
            )
            result = tune(data.X, data.y, data.weight, splits, spec, t1=data.t1)
        except AllTrialsPruned as exc:
            if config.on_all_pruned == "fail":
                raise
            context.log.warning(f"no edge found: {exc}")  # a WARN finding, as its check says (best_params_found)
            TunedParams(params=None, all_pruned=True, message=str(exc), **record, trials=exc.counts).save(
                root, symbol, timeframe, exc.study.trials_dataframe(), {}
            )
            return dg.MaterializeResult(
                metadata={
                    "all_pruned": True,
                    "message": str(exc),
                    "trials_pruned": exc.counts.get("pruned", 0),
                    "pruned_by": ", ".join(f"{k}: {v}" for k, v in exc.pruned_by.items()),
                    "study": study_name,
                    "storage": tuning_storage.describe(symbol, timeframe),
                    "development_samples": len(data.y),
                }
            )
        m = result.metrics
        history = result.study.trials_dataframe()
        TunedParams(
            params=result.params,
            all_pruned=False,
            objective=config.objective,
            score=result.score,
            metrics=m.as_dict(),
            **record,
            trials=result.counts,
            fingerprint=result.fingerprint,
        ).save(root, symbol, timeframe, history, result.importance)
        TunedParams.forget_other_problems(root, symbol, timeframe, result.fingerprint)
        top = history[history["state"] == "COMPLETE"].sort_values("value", ascending=False).head(5)
        top = top[["number", "value", *[c for c in top.columns if c.startswith("params_")]]]
        return dg.MaterializeResult(
            metadata={
                "all_pruned": False,
                "best_score": result.score,
                "auc": m.auc,
                "aupr": m.aupr,
                "brier": m.brier,
                "precision_at_10": m.precision_at_10,
                "spread": m.spread,
                "auc_cv": m.auc_cv,
                "trials_complete": result.counts.get("complete", 0),
                "trials_pruned": result.counts.get("pruned", 0),
                "trials_failed": result.counts.get("fail", 0),
                "pruned_by": ", ".join(f"{k}: {v}" for k, v in result.pruned_by.items()) or "none",
                "study": study_name,
                "study_restarted": result.restarted or "no: resumed or new",
                "storage": tuning_storage.describe(symbol, timeframe),
                "development_samples": len(data.y),
                "thinned_to_every": thin,
                "early_stopping": stopping is not None,
                "params": dg.MetadataValue.json(result.params),
                "top_trials": dg.MetadataValue.md(markdown_table(top.rename(columns=lambda c: c.replace("params_", "")))),
                "param_importance": dg.MetadataValue.json(result.importance),
            }
        )

    return best_params


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `best_params` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_best_params_asset(partitions_def)], asset_checks=build_best_params_checks(partitions_def))
