"""Rolling-window and recursive kernels for the indicators: numba loops, one pass each.

Windows end at bar t and hold `n` values; a window with a NaN in it gives NaN (pandas'
`rolling(n, min_periods=n)`). Sums that slide are compensated (Neumaier), so a million bars of
prices do not drift the way plain running sums do; standard deviations are an exact two-pass
over each window (mean first, then the squared deviations), never sum-of-squares minus square
of sums, which loses up to 1e-8 on minute prices.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def _add(total: float, carry: float, v: float) -> tuple[float, float]:
    """Neumaier's compensated addition: total + carry holds the exact sum to about one ulp."""
    t = total + v
    if abs(total) >= abs(v):
        carry += (total - t) + v
    else:
        carry += (v - t) + total
    return t, carry


@numba.njit(cache=True)
def _rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    size = x.shape[0]
    out = np.full(size, np.nan)
    total, carry = 0.0, 0.0
    nans = 0
    for i in range(size):
        if math.isnan(x[i]):
            nans += 1
        else:
            total, carry = _add(total, carry, x[i])
        if i >= n:
            if math.isnan(x[i - n]):
                nans -= 1
            else:
                total, carry = _add(total, carry, -x[i - n])
        if i >= n - 1 and nans == 0:
            out[i] = (total + carry) / n
    return out


def rolling_mean(x, n: int) -> np.ndarray:
    """Mean of the last `n` values (NaN until n values, or when one of them is NaN)."""
    return _rolling_mean(np.asarray(x, dtype="float64"), n)


@numba.njit(cache=True)
def _rolling_mean_std(x: np.ndarray, n: int, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    mean = _rolling_mean(x, n)
    std = np.full(x.shape[0], np.nan)
    for i in range(n - 1, x.shape[0]):
        m = mean[i]
        if math.isnan(m):
            continue
        # the second pass, over the window afresh: four running sums in a fixed order (the same
        # bits wherever the window sits in memory) so the loop is not one long dependency chain
        s0 = s1 = s2 = s3 = 0.0
        j = i - n + 1
        while j + 3 <= i:
            d0, d1, d2, d3 = x[j] - m, x[j + 1] - m, x[j + 2] - m, x[j + 3] - m
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
            j += 4
        while j <= i:
            d0 = x[j] - m
            s0 += d0 * d0
            j += 1
        std[i] = math.sqrt(((s0 + s1) + (s2 + s3)) / (n - ddof))
    return mean, std


def rolling_mean_std(x, n: int, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (`ddof` 1: sample, 0: population) of the last `n` values: the
    mean slides (compensated), the squared deviations from it are summed afresh for each window
    (O(len(x) * n)), so the result is exact to a few ulps whatever the price level, and 0 on a
    flat window."""
    return _rolling_mean_std(np.asarray(x, dtype="float64"), n, ddof)


@numba.njit(cache=True)
def _rolling_extreme(x: np.ndarray, n: int, find_max: bool) -> np.ndarray:
    """Max (min) of the last n values by a monotonic deque: O(len(x)) whatever n."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    dq = np.empty(size, dtype=np.int64)
    head, tail, nans = 0, 0, 0
    for i in range(size):
        if i >= n and math.isnan(x[i - n]):
            nans -= 1
        if math.isnan(x[i]):
            nans += 1
        else:
            while tail > head and ((x[dq[tail - 1]] <= x[i]) if find_max else (x[dq[tail - 1]] >= x[i])):
                tail -= 1
            dq[tail] = i
            tail += 1
        while head < tail and dq[head] <= i - n:
            head += 1
        if i >= n - 1 and nans == 0:
            out[i] = x[dq[head]]
    return out


def rolling_max(x, n: int) -> np.ndarray:
    return _rolling_extreme(np.asarray(x, dtype="float64"), n, True)


def rolling_min(x, n: int) -> np.ndarray:
    return _rolling_extreme(np.asarray(x, dtype="float64"), n, False)


@numba.njit(cache=True)
def _ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """avg_t = avg_{t-1} + alpha (x_t - avg_{t-1}), seeded with the first finite value; a NaN
    input repeats the last average (pandas' ewm(adjust=False) on a series without NaN)."""
    out = np.full(x.shape[0], np.nan)
    avg = np.nan
    for i in range(x.shape[0]):
        v = x[i]
        if math.isnan(avg):
            avg = v
        elif not math.isnan(v):
            avg = avg + alpha * (v - avg)
        out[i] = avg
    return out


def ema(x, span: int) -> np.ndarray:
    """Exponential moving average with alpha = 2 / (span + 1), seeded with the first value."""
    return _ema(np.asarray(x, dtype="float64"), 2.0 / (span + 1.0))


def bars_to_forget(decay: float, tolerance: float = 1e-9) -> int:
    """Bars after which a seed's weight in a recursive average, `decay` per bar, is below
    `tolerance`: what an EMA (decay 1 - alpha) or Wilder's average (1 - 1/n) needs as warm-up so
    its value no longer depends on where the data begins."""
    return int(math.ceil(math.log(tolerance) / math.log(decay)))
