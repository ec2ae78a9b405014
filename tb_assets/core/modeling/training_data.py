"""The rows a model learns from: features joined to labelled events on the event start."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.errors import TbError
from tb_assets.core.features.matrix import raw_price_columns
from tb_assets.core.labels.weights import thinning
from tb_assets.core.modeling.cv import PurgedKFold, purged_holdout


@dataclass
class TrainingData:
    X: pd.DataFrame  # features, one row per event, in time order
    y: np.ndarray  # the label: the triple-barrier bin (0/1) for the chain; the training service's target
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
        X = pd.DataFrame({c: self.X[c].to_numpy()[positions] for c in self.X.columns}, copy=False)  # one copy per column
        return TrainingData(X, self.y[positions], self.weight[positions], self.t1.iloc[positions])

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


def training_data(
    features: pd.DataFrame, targets: pd.DataFrame, feature_names: list[str], *, label: str = "bin", dtype: str = "int64"
) -> TrainingData:
    """Inner join on `ts` (the event start): every labelled event with its feature row, in time
    order. Joined by position on the timestamps, each feature column copied once (a million rows
    of 34 features: one copy, not the four a frame merge, sort and cast make). `targets` holds
    `ts`, `t1`, `weight` and the `label` column (the triple-barrier `bin` unless named)."""
    model_inputs(features.iloc[:0], feature_names)  # the names' checks, on no rows
    f_ts, t_ts = epoch_ns(features["ts"]), epoch_ns(targets["ts"])
    for name, stamps in (("features", f_ts), ("targets", t_ts)):
        if len(np.unique(stamps)) != len(stamps):
            raise TbError(f"{name} hold the same ts twice: one row per bar or event expected")
    _, f_rows, t_rows = np.intersect1d(f_ts, t_ts, assume_unique=True, return_indices=True)  # sorted by ts
    if len(f_rows) == 0:
        raise TbError("no labelled event has a feature row")
    X = pd.DataFrame({name: features[name].to_numpy("float64")[f_rows] for name in feature_names}, copy=False)
    starts = pd.DatetimeIndex(targets["ts"]).take(t_rows)
    t1 = pd.Series(pd.DatetimeIndex(targets["t1"]).take(t_rows), index=starts)
    return TrainingData(
        X=X,
        y=targets[label].to_numpy(dtype)[t_rows],
        weight=targets["weight"].to_numpy("float64")[t_rows],
        t1=t1,
    )
