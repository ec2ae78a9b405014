"""Shared pieces of the modeling assets: reading a partition's matrix and labels."""


import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.core.modeling.training_data import TrainingData, training_data
from tb_assets.records import FeatureCatalog
from tb_assets.resources import ArtifactStore


class PurgedCVConfig(dg.Config):
    """The cross-validation every modeling asset scores with (keep them equal across the chain)."""

    n_splits: int = Field(default=5, description="Purged k-fold splits")
    embargo_pct: float = Field(default=0.01, description="Embargo after each test fold, as a share of the samples")


def artifact_root(artifacts: ArtifactStore):
    return artifacts.root_path


def partition_training_data(
    artifacts: ArtifactStore, symbol: str, timeframe: str, features: pd.DataFrame, targets: pd.DataFrame, names: list[str] | None = None
) -> TrainingData:
    """Events with their features; `names` defaults to the partition's whole catalog."""
    if names is None:
        names = FeatureCatalog.load(artifact_root(artifacts), symbol, timeframe).features
    return training_data(features, targets, names)
