"""The rows a zoo model learns from: features at bar t, a target known `lookforward` bars later.

Regression targets are the forward change of the close over `lookforward` bars, transformed
(`log_return` = log(C[t+h]/C[t]), `pct_change` = C[t+h]/C[t] - 1, `none` = C[t+h] - C[t]);
classification targets are the direction (1 when C[t+h] >= C[t]) or the triple-barrier `bin` of
the `targets` table. Each row's label spans [t, t1] (t1 = the bar h ahead, or the barrier touch):
what purging needs. Rows whose future is not known yet are not rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.training_data import model_inputs

TRANSFORMS = ("log_return", "pct_change", "none")
CLASSIFICATION_TARGETS = ("direction", "bin")


@dataclass
class Problem:
    task: str  # 'regression' or 'classification'
    target: str  # 'log_return' | 'pct_change' | 'none' (regression) or 'direction' | 'bin'
    X: pd.DataFrame  # features, one row per sample, in time order
    y: np.ndarray
    t1: pd.Series  # label end, indexed by the sample's bar time (t0)
    close: np.ndarray  # C[t]: what a predicted change is added to
    future_close: np.ndarray  # C[t1]
    data_split: np.ndarray | None  # 'train'/'test' per sample when the bars carry them

    @property
    def features(self) -> list[str]:
        return list(self.X.columns)

    def version(self) -> str:
        """SHA-256 of the rows (times, feature values, targets): the data a model was trained on."""
        digest = hashlib.sha256()
        digest.update(np.asarray(self.t1.index.asi8).tobytes())
        digest.update(pd.util.hash_pandas_object(self.X, index=False).to_numpy().tobytes())
        digest.update(",".join(self.features).encode())
        digest.update(np.asarray(self.y, dtype="float64").tobytes())
        return digest.hexdigest()

    def restrict(self, names: list[str]) -> Problem:
        return Problem(self.task, self.target, self.X[names], self.y, self.t1, self.close, self.future_close, self.data_split)


def transform_change(close: np.ndarray, future: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log_return":
        return np.log(future / close)
    if transform == "pct_change":
        return future / close - 1.0
    if transform == "none":
        return future - close
    raise TbError(f"target_transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")


def price_from_change(close: np.ndarray, change: np.ndarray, transform: str) -> np.ndarray:
    """The future price a predicted (transformed) change implies: what rmse_price scores."""
    if transform == "log_return":
        return close * np.exp(change)
    if transform == "pct_change":
        return close * (1.0 + change)
    return close + change


def build_problem(bars: pd.DataFrame, features: pd.DataFrame, names: list[str], *, task: str, target: str, lookforward: int,
                  targets: pd.DataFrame | None = None) -> Problem:
    """The samples of one task. `bars` and `features` of one partition (column `ts`); `targets`
    (the triple-barrier table) only for target 'bin'."""
    inputs = model_inputs(features, names)
    if lookforward < 1:
        raise TbError(f"lookforward must be at least 1 bar, got {lookforward}")
    b = bars.sort_values("ts").reset_index(drop=True)
    ts = pd.DatetimeIndex(b["ts"])
    close = b["close"].to_numpy("float64")
    split = b["data_split"] if "data_split" in b.columns and b["data_split"].notna().all() else None
    frame = pd.DataFrame({"ts": ts, "close": close, "split": split.to_numpy() if split is not None else None})
    if task == "classification" and target == "bin":
        if targets is None:
            raise TbError("classification_target 'bin' needs the targets table")
        events = targets[["ts", "t1", "bin"]].rename(columns={"bin": "y"})
        frame = frame.merge(events, on="ts", how="inner")
        future = pd.Series(close, index=ts).reindex(pd.DatetimeIndex(frame["t1"])).to_numpy("float64")
        frame["future"] = future
    else:
        future = np.full(len(b), np.nan)
        future[:-lookforward] = close[lookforward:]
        frame["t1"], frame["future"] = pd.Series(ts).shift(-lookforward), future
        frame = frame[np.isfinite(future)]
        if task == "regression":
            frame["y"] = transform_change(frame["close"].to_numpy(), frame["future"].to_numpy(), target)
        elif target == "direction":
            frame["y"] = (frame["future"] >= frame["close"]).astype("int64")
        else:
            raise TbError(f"classification_target must be one of {', '.join(CLASSIFICATION_TARGETS)}, got {target!r}")
    rows = inputs.merge(frame, on="ts", how="inner").sort_values("ts").reset_index(drop=True)
    if rows.empty:
        raise TbError(f"no bar with features has a known {target} target {lookforward} bars ahead")
    return Problem(
        task=task, target=target,
        X=rows[names].astype("float64"),
        y=rows["y"].to_numpy("int64" if task == "classification" else "float64"),
        t1=pd.Series(pd.DatetimeIndex(rows["t1"]), index=pd.DatetimeIndex(rows["ts"])),
        close=rows["close"].to_numpy("float64"),
        future_close=rows["future"].to_numpy("float64"),
        data_split=None if split is None else rows["split"].astype(str).to_numpy(),
    )
