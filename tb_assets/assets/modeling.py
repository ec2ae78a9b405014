"""Shared pieces of the modeling assets: reading a partition's matrix and labels."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.features import CATALOG
from tb_assets.core.modeling.training_data import TrainingData, training_data
from tb_assets.resources import ArtifactStore


SELECTION = "selection.json"  # selected_features' record: features, history and the holdout boundary


class PurgedCVConfig(dg.Config):
    """The cross-validation every modeling asset scores with (keep them equal across the chain)."""

    n_splits: int = Field(default=5, description="Purged k-fold splits")
    embargo_pct: float = Field(default=0.01, description="Embargo after each test fold, as a share of the samples")


def partition_training_data(
    artifacts: ArtifactStore, symbol: str, timeframe: str, features: pd.DataFrame, targets: pd.DataFrame, names: list[str] | None = None
) -> TrainingData:
    """Events with their features; `names` defaults to the partition's whole catalog."""
    if names is None:
        names = artifacts.read_json("features", symbol, timeframe, CATALOG)["features"]
    return training_data(features, targets, names)


def stored_holdout_start(artifacts: ArtifactStore, symbol: str, timeframe: str) -> pd.Timestamp | None:
    """Where the holdout that selected_features kept out begins (None: it kept none). Tuning and the
    production model's holdout metrics use the same boundary, so the holdout stays unseen."""
    path = artifacts.path("selected_features", symbol, timeframe, SELECTION)
    if not path.exists():
        raise dg.Failure(f"{symbol}|{timeframe}: {path} is missing: materialize selected_features again")
    start = artifacts.read_json("selected_features", symbol, timeframe, SELECTION)["holdout_start"]
    return None if start is None else pd.Timestamp(start)


def read_selected(artifacts: ArtifactStore, symbol: str, timeframe: str) -> list[str]:
    path = artifacts.path("selected_features", symbol, timeframe, "selected_features.txt")
    if not path.exists():
        raise dg.Failure(f"{symbol}|{timeframe}: selected_features is not materialized ({path} missing)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
