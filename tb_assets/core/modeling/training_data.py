"""The rows a model learns from: features joined to labelled events on the event start."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.features.matrix import raw_price_columns
from tb_assets.core.labels.weights import thinning
from tb_assets.core.modeling.cv import PurgedKFold, purged_holdout


@dataclass
class TrainingData:
    X: pd.DataFrame  # features, one row per event, in time order
    y: np.ndarray  # the triple-barrier bin (0/1)
    weight: np.ndarray  # average uniqueness, mean 1
    t1: pd.Series  # label end, indexed by event start: what purging needs

    def purged_splits(self, n_splits: int = 5, embargo_pct: float = 0.01) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(PurgedKFold(n_splits, self.t1, embargo_pct).split(self.X))

    def thinning(self, splits, min_rows: int) -> int:
        """The stride the modeling stages may thin these splits' training folds by (labels.weights.thinning)."""
        return thinning(self.t1, min(len(train) for train, _ in splits), min_rows)

    @property
    def positive_rate(self) -> float:
        return float(np.mean(self.y))

    def take(self, positions: np.ndarray) -> TrainingData:
        return TrainingData(self.X.iloc[positions].reset_index(drop=True), self.y[positions], self.weight[positions], self.t1.iloc[positions])

    def split_holdout(self, start: pd.Timestamp | None) -> tuple[TrainingData, TrainingData | None]:
        """(development, holdout) at `start` (see cv.purged_holdout); None: all rows, no holdout."""
        if start is None:
            return self, None
        development, holdout = purged_holdout(self.t1, start)
        return self.take(development), self.take(holdout)


def model_inputs(features: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """`ts` and the named columns of the feature matrix: what any model may learn from. A raw
    price, or a name the matrix lacks, is an error."""
    prices = raw_price_columns(feature_names)
    if prices:
        raise TbError(f"raw price columns cannot be model inputs: {', '.join(prices)}")
    missing = [f for f in feature_names if f not in features.columns]
    if missing:
        raise TbError(f"features missing from the matrix: {', '.join(missing[:10])}")
    return features[["ts", *feature_names]]


def training_data(features: pd.DataFrame, targets: pd.DataFrame, feature_names: list[str]) -> TrainingData:
    """Inner join on `ts` (the event start): every labelled event with its feature row."""
    f = model_inputs(features, feature_names)
    t = targets[["ts", "t1", "bin", "weight"]]
    rows = f.merge(t, on="ts", how="inner").sort_values("ts").reset_index(drop=True)
    if rows.empty:
        raise TbError("no labelled event has a feature row")
    t1 = pd.Series(pd.DatetimeIndex(rows["t1"]), index=pd.DatetimeIndex(rows["ts"]))
    return TrainingData(
        X=rows[feature_names].astype("float64"),
        y=rows["bin"].to_numpy("int64"),
        weight=rows["weight"].to_numpy("float64"),
        t1=t1,
    )
