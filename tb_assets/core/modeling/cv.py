"""Cross-validation for overlapping labels: purging and embargo (AFML ch. 7).

Sample i spans the closed interval [t0_i, t1_i]. For a test block, the test window is
[first test t0, max test t1]. A training sample is purged when its interval intersects the
window (t0_i <= window end and t1_i >= window start), so no training label shares a bar with a
test label. Then the `embargo` samples that start right after the window are dropped too, since
features with memory (moving averages) still carry the test period into them.

The popular open-source version builds the window's start from a label *end* time (t1 of the
first test sample) and keeps training samples that start before it but end inside the test
period; the tests pin that this one does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.errors import TbError


def label_intervals(t1: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every label in epoch nanoseconds, from `t1` indexed by t0; refuses samples
    out of time order or ending before they start."""
    t0, end = epoch_ns(t1.index), epoch_ns(t1)
    if not (np.diff(t0) >= 0).all():
        raise TbError("samples must be sorted by t0 (the index of t1)")
    if (end < t0).any():
        i = int(np.flatnonzero(end < t0)[0])
        raise TbError(f"sample {i} ends ({t1.iloc[i]}) before it starts ({t1.index[i]})")
    return t0, end


def purge_and_embargo(t0: np.ndarray, t1: np.ndarray, test: np.ndarray, candidates: np.ndarray, embargo: int) -> np.ndarray:
    """Training positions among `candidates` that survive purging against `test`, and the embargo."""
    start, end = t0[test].min(), t1[test].max()
    keep = ~((t0[candidates] <= end) & (t1[candidates] >= start))
    train = candidates[keep]
    if embargo > 0:
        after = np.flatnonzero(t0 > end)[:embargo]  # the first `embargo` samples after the window
        train = np.setdiff1d(train, after, assume_unique=True)
    return train


class PurgedKFold:
    """K contiguous test folds in time order, each with purged and embargoed training indices.

    scikit-learn compatible: `split(X, y=None, groups=None)` yields positional (train, test)
    arrays and `get_n_splits()` returns n_splits. `t1` is indexed by t0 and aligned with X's rows.
    """

    def __init__(self, n_splits: int = 5, t1: pd.Series | None = None, embargo_pct: float = 0.0):
        if n_splits < 2:
            raise TbError(f"n_splits must be at least 2, got {n_splits}")
        if t1 is None:
            raise TbError("PurgedKFold needs t1 (label end times indexed by label start)")
        if not 0.0 <= embargo_pct < 1.0:
            raise TbError(f"embargo_pct must be in [0, 1), got {embargo_pct}")
        self.n_splits, self.t1, self.embargo_pct = n_splits, t1, embargo_pct

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split(self, X=None, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.t1)
        if X is not None and len(X) != n:
            raise TbError(f"X has {len(X)} rows but t1 has {n}")
        if n < self.n_splits:
            raise TbError(f"{n} samples cannot make {self.n_splits} folds")
        t0, t1 = label_intervals(self.t1)
        embargo = int(n * self.embargo_pct)
        positions = np.arange(n)
        for test in np.array_split(positions, self.n_splits):
            candidates = np.setdiff1d(positions, test, assume_unique=True)
            yield purge_and_embargo(t0, t1, test, candidates, embargo), test


def walk_forward_splits(t1: pd.Series, n_splits: int = 5, embargo_pct: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding window: fold k trains on every block before test block k (blocks 1..n_splits of
    n_splits + 1), purged against the test window; training never follows the test."""
    n = len(t1)
    if n < n_splits + 1:
        raise TbError(f"{n} samples cannot make {n_splits} walk-forward folds")
    t0, end = label_intervals(t1)
    blocks = np.array_split(np.arange(n), n_splits + 1)
    embargo = int(n * embargo_pct)
    out = []
    for k in range(1, n_splits + 1):
        test = blocks[k]
        candidates = np.concatenate(blocks[:k])
        out.append((purge_and_embargo(t0, end, test, candidates, embargo), test))
    return out


def data_split_splits(t1: pd.Series, data_split: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds from a `data_split` column: each run of 'train' rows followed by the run of 'test'
    rows after it, the train block purged against its test window."""
    labels = pd.Series(data_split).reindex(t1.index).astype("string").str.lower().to_numpy()
    if pd.isna(labels).any() or not set(labels) <= {"train", "test"}:
        raise TbError("data_split must be 'train' or 'test' on every sample")
    t0, end = label_intervals(t1)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    runs = np.split(np.arange(len(labels)), change)
    out = []
    for a, b in zip(runs, runs[1:]):
        if labels[a[0]] == "train" and labels[b[0]] == "test":
            out.append((purge_and_embargo(t0, end, b, a, 0), b))
    if not out:
        raise TbError("data_split has no train block followed by a test block")
    return out


def holdout_start(t1: pd.Series, holdout_pct: float) -> pd.Timestamp:
    """Start (t0) of the holdout made of the last `holdout_pct` of samples."""
    if not 0.0 < holdout_pct < 1.0:
        raise TbError(f"holdout_pct must be in (0, 1), got {holdout_pct}")
    n = len(t1)
    cut = n - int(round(n * holdout_pct))
    if cut < 1 or cut >= n:
        raise TbError(f"{n} samples cannot keep a {holdout_pct:.0%} holdout")
    return pd.Timestamp(t1.index[cut])


def purged_holdout(t1: pd.Series, start: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """(development, holdout) positions: samples starting at or after `start` are the holdout, and
    every earlier sample whose label reaches into it is purged from development.

    The boundary is a time, not a share, so bars appended later join the holdout and the rows
    that selection and tuning saw stay the rows they saw. Selecting features and tuning on
    development only leaves the holdout untouched: a model fitted on development and scored on
    the holdout measures what selection cannot flatter.
    """
    t0, end = label_intervals(t1)
    start_ns = epoch_ns([pd.Timestamp(start)])[0]
    holdout = np.flatnonzero(t0 >= start_ns)
    development = np.flatnonzero((t0 < start_ns) & (end < start_ns))
    return development, holdout
