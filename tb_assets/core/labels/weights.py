"""Sample weights for overlapping labels (AFML ch. 4), in O(bars + events).

A label spans the closed interval [t0, t1] of bars. Concurrency c_t counts the labels alive at
bar t (a difference array, then a cumulative sum); a label's average uniqueness is the mean of
1 / c_t over its bars (a prefix sum of 1 / c, read at both ends). No bars x events matrix.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.errors import TbError

SHORT_SPAN = 16  # bars counted without branching before the search falls back to galloping


@numba.njit(cache=True)
def _spans(bars: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """searchsorted(bars, t0, 'left') and searchsorted(bars, t1, 'right') - 1 in one walk: the
    starts move forward with t0 (sorted); each end counts the bars <= t1 among the SHORT_SPAN after
    its start (a fixed loop, no unpredictable branch: most labels span a few bars), galloping
    and bisecting only past them. O(events x log span), not O(events x log bars)."""
    n, m = bars.shape[0], t0.shape[0]
    start = np.empty(m, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    j = 0
    for i in range(m):
        while j < n and bars[j] < t0[i]:
            j += 1
        start[i] = j
        x = t1[i]
        if j + SHORT_SPAN < n:
            window = bars[j + 1 : j + 1 + SHORT_SPAN]  # a fixed-length view: LLVM vectorises the count
            count = 0
            for k in range(SHORT_SPAN):
                count += window[k] <= x
            if 0 < count < SHORT_SPAN or (count == 0 and bars[j] <= x):
                end[i] = j + count
                continue
        if j >= n or bars[j] > x:
            end[i] = np.searchsorted(bars, x, side="right") - 1  # before its start: an error below
            continue
        lo, step = j, 1  # bars[lo] <= x: gallop to a bound past it, then bisect
        while lo + step < n and bars[lo + step] <= x:
            lo += step
            step *= 2
        hi = min(lo + step, n)  # bars[hi] > x, or the end
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if bars[mid] <= x:
                lo = mid
            else:
                hi = mid
        end[i] = lo
    return start, end


def label_spans(t1: pd.Series, bar_index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each label's first and last bar in `bar_index` (t0 = t1.index)."""
    bars = epoch_ns(bar_index)  # int64 ns: tz-aware values never become objects
    t0, ends = epoch_ns(t1.index), epoch_ns(t1)
    if t1.index.is_monotonic_increasing:  # pandas caches it: labels come from the sorted targets
        start, end = _spans(bars, t0, ends)
    else:  # labels out of time order: the plain binary searches
        start = np.searchsorted(bars, t0, side="left").astype(np.int64)
        end = (np.searchsorted(bars, ends, side="right") - 1).astype(np.int64)
    if (end < start).any():
        bad = int(np.flatnonzero(end < start)[0])
        raise TbError(f"label starting {t1.index[bad]} ends before it starts ({t1.iloc[bad]})")
    return start, end


def _concurrency(start: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    diff = np.bincount(start, minlength=n + 1) - np.bincount(end + 1, minlength=n + 1)
    return np.cumsum(diff[:-1])


def concurrency(t1: pd.Series, bar_index: pd.DatetimeIndex) -> pd.Series:
    """Number of labels whose closed interval [t0, t1] contains each bar."""
    start, end = label_spans(t1, bar_index)
    return pd.Series(_concurrency(start, end, len(bar_index)), index=bar_index, name="concurrency")


@numba.njit(cache=True)
def _average_uniqueness(start: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """Concurrency by a difference array, then the mean of 1 / c over each span by a prefix sum:
    one kernel, three linear passes."""
    diff = np.zeros(n + 1, dtype=np.int64)
    for i in range(start.shape[0]):
        diff[start[i]] += 1
        diff[end[i] + 1] -= 1
    prefix = np.zeros(n + 1)  # prefix[t] = sum of 1 / c over bars before t
    c = 0
    for t in range(n):
        c += diff[t]
        prefix[t + 1] = prefix[t] + (1.0 / c if c > 0 else 0.0)
    out = np.empty(start.shape[0])
    for i in range(start.shape[0]):
        out[i] = (prefix[end[i] + 1] - prefix[start[i]]) / (end[i] - start[i] + 1)
    return out


def average_uniqueness(t1: pd.Series, bar_index: pd.DatetimeIndex) -> pd.Series:
    """Mean of 1 / concurrency over each label's bars (1 for a label that overlaps nothing)."""
    start, end = label_spans(t1, bar_index)
    return pd.Series(_average_uniqueness(start, end, len(bar_index)), index=t1.index, name="uniqueness")


def return_attribution(t1: pd.Series, close: pd.Series) -> pd.Series:
    """AFML snippet 4.10: |sum over the label's bars of log-return / concurrency|, scaled to mean 1.

    Labels over large absolute returns that they do not share with other labels weigh more.
    """
    index = pd.DatetimeIndex(close.index)
    start, end = label_spans(t1, index)
    c = _concurrency(start, end, len(index))
    r = np.log(close.to_numpy("float64"))
    r = np.concatenate([[0.0], np.diff(r)])
    share = np.zeros(len(c) + 1)
    np.divide(r, c, out=share[1:], where=c > 0)
    prefix = np.cumsum(share)
    # the return of bar t0 happened before the label started: attribute bars t0+1 .. t1
    w = np.abs(prefix[end + 1] - prefix[start + 1])
    return pd.Series(normalize_mean_one(w), index=t1.index, name="weight")


def time_decay(uniqueness: pd.Series, last_weight: float = 1.0) -> pd.Series:
    """AFML snippet 4.11: weights decaying linearly in cumulative uniqueness, the newest label 1.

    last_weight = 1: no decay; 0: the oldest label weighs 0; in (-1, 0): the oldest fraction of
    labels weighs 0. Labels must be in time order.
    """
    if not -1.0 < last_weight <= 1.0:
        raise TbError(f"last_weight must be in (-1, 1], got {last_weight}")
    x = uniqueness.cumsum().to_numpy("float64")
    total = x[-1] if len(x) else 1.0
    slope = (1.0 - last_weight) / total if last_weight >= 0 else 1.0 / ((last_weight + 1.0) * total)
    const = 1.0 - slope * total
    return pd.Series(np.maximum(const + slope * x, 0.0), index=uniqueness.index, name="decay")


def label_overlap(uniqueness) -> float:
    """How many labels share a bar on average: 1 / mean uniqueness (1 when none overlap). n such
    events hold about n / overlap independent outcomes: what a confidence bound widens by."""
    mean = float(np.mean(np.asarray(uniqueness, dtype="float64")))
    if not 0.0 < mean <= 1.0:
        raise TbError(f"uniqueness must average in (0, 1], got {mean}")
    return 1.0 / mean


def normalize_mean_one(w: np.ndarray | pd.Series) -> np.ndarray:
    w = np.asarray(w, dtype="float64")
    mean = w.mean() if len(w) else 1.0
    if not np.isfinite(mean) or mean <= 0:
        raise TbError("weights must have a positive finite mean")
    return w / mean


def uniqueness_weights(t1: pd.Series, bar_index: pd.DatetimeIndex) -> pd.Series:
    """The project's sample weight: average uniqueness scaled to mean 1."""
    u = average_uniqueness(t1, bar_index)
    return pd.Series(normalize_mean_one(u.to_numpy()), index=u.index, name="weight")


def scale_pos_weight(y: np.ndarray | pd.Series, sample_weight: np.ndarray | pd.Series | None = None) -> float:
    """LightGBM/XGBoost `scale_pos_weight` that balances the classes: weight of negatives over
    weight of positives (1.0 when one class is absent)."""
    y = np.asarray(y)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype="float64")
    pos, neg = w[y == 1].sum(), w[y != 1].sum()
    return float(neg / pos) if pos > 0 and neg > 0 else 1.0


def weight_problems(weights: np.ndarray | pd.Series, tolerance: float = 1e-6) -> list[str]:
    """What is wrong with sample weights (empty when nothing): finite, positive, mean 1."""
    w = np.asarray(weights, dtype="float64")
    problems = []
    if not np.isfinite(w).all():
        problems.append(f"{int((~np.isfinite(w)).sum())} non-finite weight(s)")
    if (w <= 0).any():
        problems.append(f"{int((w <= 0).sum())} weight(s) <= 0")
    if len(w) and np.isfinite(w).all() and abs(w.mean() - 1.0) > tolerance:
        problems.append(f"mean weight {w.mean():.6g}, expected 1")
    return problems


def overlap_stride(t1: pd.Series) -> int:
    """Keep every k-th label and the kept ones barely overlap: k = 1 + the mean number of later
    labels that start before a label ends (labels in time order). Overlapping labels carry little
    new information each (AFML ch. 4); the modeling stages may fit on every k-th one."""
    if len(t1) == 0:
        return 1
    t0, end = epoch_ns(t1.index), epoch_ns(t1)
    later = np.searchsorted(t0, end, side="right") - np.arange(len(t0)) - 1
    return max(1, int(round(1.0 + float(np.mean(later)))))


def thinning(t1: pd.Series, fold_rows: int, min_rows: int) -> int:
    """The stride to thin training folds of `fold_rows` rows by: `overlap_stride`, but never below
    `min_rows` kept rows (1 when folds are small: the exact path)."""
    return max(1, min(overlap_stride(t1), fold_rows // max(1, min_rows)))
