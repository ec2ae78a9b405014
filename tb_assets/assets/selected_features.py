"""`selected_features`: the feature list the models use, chosen without sample weights."""

import json

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import ScaleConfig, artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.core.modeling.cv import holdout_start
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import Selection

# scikit-learn, LightGBM, Optuna and SHAP are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)


class SelectionConfig(ScaleConfig):
    holdout_pct: float = Field(
        default=0.2,
        description="The last share of events that selection and tuning never see (labels reaching into it are purged); "
        "production_model scores a model fitted before it on it (holdout_metrics). 0: no holdout",
    )
    p_value_threshold: float = Field(default=0.05, description="Prefilter: drop features whose F-test p-value is above this")
    max_candidates: int = Field(default=30, description="Forward selection considers this many best prefiltered features")
    epsilon: float = Field(default=0.0002, description="Accept a feature only if it raises the mean CV AUC by more than this")
    max_features: int = Field(default=15, description="Stop after this many features")
    n_jobs: int = Field(default=2, description="Candidates evaluated in parallel (threads)")
    shortlist: int = Field(
        default=8,
        description="Each forward step tries only the best this-many remaining candidates, ranked once by split gain in one "
        "LightGBM on all of them; 0 tries every candidate at every step (the exact search)",
    )


def build_selected_features_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        kinds={"lightgbm", "scikitlearn"},
        group_name="modeling",
        code_version="1",
    )
    def selected_features(
        context: dg.AssetExecutionContext, config: SelectionConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """F-test prefilter, then forward selection on purged-CV AUC of a small LightGBM (unweighted), on
        the development events only (before the holdout). Writes selected_features.txt (one name per line)
        and selection.json (the history and the holdout boundary that tuning and the model reuse)."""
        from tb_assets.core.modeling.selection import SelectionSpec, select_features

        symbol, timeframe = partition_parts(context)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets)
        start = None if config.holdout_pct == 0 else holdout_start(data.t1, config.holdout_pct)
        development, holdout = data.split_holdout(start)
        splits = development.purged_splits(config.n_splits, config.embargo_pct)
        thin = config.thin(development, splits)
        spec = SelectionSpec(
            p_value_threshold=config.p_value_threshold,
            max_candidates=config.max_candidates,
            epsilon=config.epsilon,
            max_features=config.max_features,
            n_jobs=config.n_jobs,
            shortlist=config.shortlist if config.at_scale(development) else 0,
            thin=thin,
        )
        result = select_features(development.X, development.y, splits, spec)
        prefilter = result.prefilter
        context.log.info("standardised coefficients (F-test prefilter):\n" + prefilter.head(40).to_string(index=False))
        history = result.history.copy()
        record = Selection(
            selected=result.selected,
            holdout_pct=config.holdout_pct,
            holdout_start=None if start is None else start.isoformat(),
            development_samples=len(development.y),
            holdout_samples=0 if holdout is None else len(holdout.y),
            history=json.loads(history.to_json(orient="records")),
            scored=result.scored,
        )
        path = record.save(artifact_root(artifacts), symbol, timeframe)
        return dg.MaterializeResult(
            metadata={
                "n_selected": len(result.selected),
                "selected": ", ".join(result.selected),
                "cv_auc": float(history["auc"].iloc[-1]) if len(history) else 0.5,
                "n_candidates": len(result.candidates),
                "feature_sets_scored": result.scored,
                "thinned_to_every": thin,
                "shortlist": ", ".join(result.ranking[: config.shortlist]) if result.ranking else "none: every candidate tried",
                "n_prefilter_passed": int((prefilter["p_value"] <= config.p_value_threshold).sum()),
                "n_features_in": data.X.shape[1],
                "samples": len(development.y),
                "holdout_samples": record.holdout_samples,
                "holdout_start": record.holdout_start or "none",
                "history": dg.MetadataValue.md(markdown_table(history) if len(history) else "no feature beat a coin by epsilon"),
                "prefilter": dg.MetadataValue.md(markdown_table(prefilter.head(15))),
                "path": dg.MetadataValue.path(str(path)),
            }
        )

    return selected_features


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `selected_features` stage (its list is checked where it is used: production_model_features_match)."""
    return dg.Definitions(assets=[build_selected_features_asset(partitions_def)])
