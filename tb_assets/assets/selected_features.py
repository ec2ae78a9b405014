"""`selected_features`: the feature list the models use, chosen without sample weights."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import PurgedCVConfig, partition_training_data
from tb_assets.core.artifacts import write_atomic
from tb_assets.core.selection import select_features
from tb_assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore


class SelectionConfig(PurgedCVConfig):
    p_value_threshold: float = Field(default=0.05, description="Prefilter: drop features whose F-test p-value is above this")
    max_candidates: int = Field(default=30, description="Forward selection considers this many best prefiltered features")
    epsilon: float = Field(default=0.0002, description="Accept a feature only if it raises the mean CV AUC by more than this")
    max_features: int = Field(default=15, description="Stop after this many features")
    n_jobs: int = Field(default=2, description="Candidates evaluated in parallel (threads)")


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
        """F-test prefilter, then forward selection on purged-CV AUC of a small LightGBM (unweighted).
        Writes selected_features.txt (one name per line)."""
        symbol, timeframe = partition_parts(context)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets)
        splits = data.purged_splits(config.n_splits, config.embargo_pct)
        result = select_features(
            data.X, data.y, splits, p_value_threshold=config.p_value_threshold, max_candidates=config.max_candidates,
            epsilon=config.epsilon, max_features=config.max_features, n_jobs=config.n_jobs,
        )
        prefilter = result.prefilter
        context.log.info("standardised coefficients (F-test prefilter):\n" + prefilter.head(40).to_string(index=False))
        path = write_atomic(artifacts.path("selected_features", symbol, timeframe, "selected_features.txt"),
                            ("\n".join(result.selected) + "\n").encode())
        history = result.history.copy()
        return dg.MaterializeResult(
            metadata={
                "n_selected": len(result.selected),
                "selected": ", ".join(result.selected),
                "cv_auc": float(history["auc"].iloc[-1]) if len(history) else 0.5,
                "n_candidates": len(result.candidates),
                "n_prefilter_passed": int((prefilter["p_value"] <= config.p_value_threshold).sum()),
                "n_features_in": data.X.shape[1],
                "samples": len(data.y),
                "history": dg.MetadataValue.md(markdown_table(history) if len(history) else "no feature beat a coin by epsilon"),
                "prefilter": dg.MetadataValue.md(markdown_table(prefilter.head(15))),
                "path": dg.MetadataValue.path(str(path)),
            }
        )

    return selected_features
