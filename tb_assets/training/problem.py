"""The rows a zoo model learns from: the chain's own rows (`TrainingData`: features, label, weight,
label end), for the target the experiment names, read from the `targets` table.

Targets are computed once, by the `targets` asset: the triple-barrier `bin` of each event, and its
forward-return columns (`fwd_*`, ending at `fwd_t1`, `lookforward` bars ahead). Regression targets
are the forward change transformed (`log_return`, `pct_change`, `none` = the raw price change);
classification targets are the direction (`fwd_direction`: 1 when the close `lookforward` bars
ahead is at or above today's; exact ties are marked, or dropped with `ties='drop'`) or the
triple-barrier `bin`. Rows whose outcome is not known yet
are not rows.

Labels overlap (a 5-bar forward return shares 4 bars with the next one; a triple-barrier label up
to its vertical barrier), so every row carries the average uniqueness of its label over its span
(AFML ch. 4), normalised to mean 1: the `targets` table's own `weight` for the bin, the same
computation on the forward spans otherwise. The zoo trains and scores with them, as the chain does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.errors import TbError
from tb_assets.core.labels import forward
from tb_assets.core.labels.weights import average_uniqueness, normalize_mean_one
from tb_assets.core.modeling.training_data import TrainingData, training_data

TRANSFORMS = tuple(forward.TRANSFORMS)
CLASSIFICATION_TARGETS = ("direction", "bin")
# a direction outcome of exactly 0 (the close `lookforward` bars ahead equals today's: 7-9% of SPY's
# one-minute outcomes): 'up' labels it 1 (the >= rule), 'drop' leaves it out of the rows
TIE_POLICIES = ("up", "drop")


@dataclass
class Problem:
    task: str  # 'regression' or 'classification'
    target: str  # 'log_return' | 'pct_change' | 'none' (regression) or 'direction' | 'bin'
    rows: TrainingData  # features, label, uniqueness weight, label end: the chain's rows type
    close: np.ndarray  # C[t]: what a predicted change is added to
    future_close: np.ndarray  # C[t1]
    data_split: np.ndarray | None  # 'train'/'test' per sample when the bars carry them
    lookforward: int  # bars to the forward targets' end (the targets asset's setting)
    ties: np.ndarray | None = None  # direction only: the rows whose outcome is an exact tie (labelled up)
    ties_dropped: int = 0  # direction with ties 'drop': the tied outcomes left out

    @property
    def tie_rate(self) -> float:
        return float(np.mean(self.ties)) if self.ties is not None and len(self.ties) else 0.0

    @property
    def X(self) -> pd.DataFrame:
        return self.rows.X

    @property
    def y(self) -> np.ndarray:
        return self.rows.y

    @property
    def weight(self) -> np.ndarray:
        return self.rows.weight

    @property
    def t1(self) -> pd.Series:
        return self.rows.t1

    @property
    def features(self) -> list[str]:
        return list(self.X.columns)

    def version(self) -> str:
        """SHA-256 of the rows (times, feature values, targets, weights): the data a model was trained on."""
        digest = hashlib.sha256()
        digest.update(np.asarray(epoch_ns(self.t1.index)).tobytes())
        digest.update(pd.util.hash_pandas_object(self.X, index=False).to_numpy().tobytes())
        digest.update(",".join(self.features).encode())
        digest.update(np.asarray(self.y, dtype="float64").tobytes())
        digest.update(np.asarray(self.weight, dtype="float64").tobytes())
        return digest.hexdigest()

    def take(self, positions: np.ndarray) -> Problem:
        """The rows at `positions` (development or holdout)."""
        return replace(
            self,
            rows=self.rows.take(positions),
            close=self.close[positions],
            future_close=self.future_close[positions],
            data_split=None if self.data_split is None else self.data_split[positions],
            ties=None if self.ties is None else self.ties[positions],
        )


def label_columns(task: str, target: str) -> tuple[str, str]:
    """(label column, label-end column) of the targets table for a task's target."""
    if task == "regression":
        if target not in forward.TRANSFORMS:
            raise TbError(f"target_transform must be one of {', '.join(forward.TRANSFORMS)}, got {target!r}")
        return forward.TRANSFORMS[target], forward.END
    if target == "bin":
        return "bin", "t1"
    if target == "direction":
        return forward.DIRECTION, forward.END
    raise TbError(f"classification_target must be one of {', '.join(CLASSIFICATION_TARGETS)}, got {target!r}")


def lookforward_of(targets: pd.DataFrame, bar_ts: pd.DatetimeIndex) -> int:
    """How many bars the targets table's forward targets look ahead (the same for every row)."""
    if forward.END not in targets.columns or not targets[forward.END].notna().any():
        raise TbError(f"the targets table holds no forward targets ({forward.END}): materialize targets again")
    known = targets[forward.END].notna().to_numpy()
    bars = epoch_ns(bar_ts)
    ahead = np.searchsorted(bars, epoch_ns(targets.loc[known, forward.END])) - np.searchsorted(bars, epoch_ns(targets.loc[known, "ts"]))
    if ahead.min() != ahead.max():
        raise TbError(f"the targets table's forward targets look {ahead.min()} to {ahead.max()} bars ahead: materialize targets again")
    return int(ahead[0])


def build_problem(
    bars: pd.DataFrame, features: pd.DataFrame, targets: pd.DataFrame, names: list[str], *, task: str, target: str, ties: str = "up"
) -> Problem:
    """The samples of one task: the targets table's rows whose `target` is known, joined to their
    feature rows (`training_data`: raw prices and missing names refused), with uniqueness weights.
    A direction target's exact ties are labelled up and marked (`ties='up'`) or left out ('drop')."""
    if ties not in TIE_POLICIES:
        raise TbError(f"direction_ties must be one of {', '.join(TIE_POLICIES)}, got {ties!r}")
    label, end = label_columns(task, target)
    missing = [c for c in (label, end) if targets is None or c not in targets.columns]
    if missing:
        raise TbError(f"the targets table has no {' or '.join(missing)} column: materialize targets again")
    b = bars.sort_values("ts").reset_index(drop=True)
    bar_ts = pd.DatetimeIndex(b["ts"])
    known = targets[targets[label].notna() & targets[end].notna()]
    tied, dropped = None, 0
    if target == "direction":
        change = forward.TRANSFORMS["none"]
        if change not in known.columns:
            raise TbError(f"the targets table has no {change} column: materialize targets again")
        tied = (known[change] == 0).to_numpy()
        if ties == "drop":
            known, dropped, tied = known[~tied], int(tied.sum()), None
    if known.empty:
        raise TbError(f"no event has a known {target} target yet" + (f" ({dropped} tied outcomes dropped)" if dropped else ""))
    view = pd.DataFrame({"ts": known["ts"].to_numpy(), "t1": known[end].to_numpy(), "label": known[label].to_numpy()})
    if target == "bin":
        view["weight"] = known["weight"].to_numpy("float64")
    else:  # the forward spans' own overlap
        spans = pd.Series(pd.DatetimeIndex(view["t1"]), index=pd.DatetimeIndex(view["ts"]))
        view["weight"] = normalize_mean_one(average_uniqueness(spans, bar_ts).to_numpy())
    rows = training_data(features, view, names, label="label", dtype="float64" if task == "regression" else "int64")
    if tied is not None:  # in the rows' order (the join keeps events with a feature row, by time)
        tied = pd.Series(tied, index=pd.DatetimeIndex(view["ts"])).reindex(rows.t1.index).to_numpy(bool)
    close = pd.Series(b["close"].to_numpy("float64"), index=bar_ts)
    split = b["data_split"] if "data_split" in b.columns and b["data_split"].notna().all() else None
    return Problem(
        task=task,
        target=target,
        rows=rows,
        close=close.reindex(rows.t1.index).to_numpy("float64"),
        future_close=close.reindex(pd.DatetimeIndex(rows.t1)).to_numpy("float64"),
        data_split=None if split is None else pd.Series(split.astype(str).to_numpy(), index=bar_ts).reindex(rows.t1.index).to_numpy(),
        lookforward=lookforward_of(targets, bar_ts),
        ties=tied,
        ties_dropped=dropped,
    )
