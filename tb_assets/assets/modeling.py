"""Shared pieces of the modeling assets: reading a partition's matrix and labels."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.core.modeling.training_data import TrainingData, training_data
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import FeatureCatalog


class PurgedCVConfig(dg.Config):
    """The cross-validation every modeling asset scores with (keep them equal across the chain)."""

    n_splits: int = Field(default=5, description="Purged k-fold splits")
    embargo_pct: float = Field(default=0.01, description="Embargo after each test fold, as a share of the samples")


class ThinningConfig(dg.Config):
    """Thinning overlapping labels at scale (AFML ch. 4): what selection, tuning and the CPCV backtest share."""

    thinning: bool = Field(
        default=True,
        description="Fit each fold on every k-th training row (weighted k times; min_child_samples stays in all-row units), "
        "k = how many labels one label overlaps (+1), while folds keep thin_min_rows rows; False fits every row (the exact search)",
    )
    thin_min_rows: int = Field(default=10_000, description="Thinning never leaves a training fold fewer rows than this")
    exact_below: int = Field(
        default=20_000,
        description="Partitions with fewer development events than this run the exact search whatever the shortcuts say "
        "(it is cheap there, and small samples are where a shortcut could move the result)",
    )

    def at_scale(self, data: TrainingData) -> bool:
        """Whether the shortcuts apply to these development events."""
        return len(data.y) >= self.exact_below

    def thin(self, data: TrainingData, splits) -> int:
        """The stride the folds' training rows are thinned by (1: every row)."""
        return data.thinning(splits, self.thin_min_rows) if self.thinning and self.at_scale(data) else 1


class ScaleConfig(PurgedCVConfig, ThinningConfig):
    """The shortcuts selection and tuning share at scale, each one setting away from the exact search."""


def artifact_root(artifacts: ArtifactStore):
    return artifacts.root_path


def partition_training_data(
    artifacts: ArtifactStore, symbol: str, timeframe: str, features: pd.DataFrame, targets: pd.DataFrame, names: list[str] | None = None
) -> TrainingData:
    """Events with their features; `names` defaults to the partition's whole catalog."""
    if names is None:
        names = FeatureCatalog.load(artifact_root(artifacts), symbol, timeframe).features
    return training_data(features, targets, names)
