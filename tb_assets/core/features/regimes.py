"""Market regimes as categorical features, fitted on a bounded past only.

- regime_vix: the VIX level's bucket (0 calm, 1 normal, 2 stressed) against the terciles of the
  `VIX_WINDOW` closes strictly before t.
- regime_gmm: a 3-component Gaussian mixture on (1-bar log return, realized volatility), refitted
  at checkpoints on the last `window` usable rows, labelling the bars until the next checkpoint.
  Components are ordered by volatility (0 = calmest), so labels mean the same across refits.

Neither depends on how much earlier history was loaded: windows are bounded, checkpoints sit on a
fixed time grid (the first bar of each `every`-long interval since the epoch), and each fit starts
from its own window's volatility terciles, never from the previous fit. So the same bar gets the
same label whether the data begins a year or a decade earlier (once the declared warm-up is past),
and recomputing on any prefix gives the same values: the no-look-ahead check relies on that.

The mixture is fitted by EM in numba (2-D, full covariances): a few hundred refits on a year of
minute bars cost milliseconds, where scikit-learn's GaussianMixture spends ~20 ms on each one's
checks. The tests hold it to scikit-learn's fit from the same start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns, step
from tb_assets.core.data.timeframes import INTRADAY

VIX_WINDOW = 252
RV_WINDOW = 20  # the realized volatility the mixture sees (indicators.realized_vol)
GMM_COMPONENTS = 3
GMM_MAX_FIT_POINTS = 300
GMM_TOL = 1e-3  # stop EM when the mean log-likelihood moves less (scikit-learn's default)
GMM_MAX_ITER = 200
GMM_REG_COVAR = 1e-6


def regime_vix(vix_close: pd.Series, window: int = VIX_WINDOW) -> pd.Series:
    """0/1/2 by the 1/3 and 2/3 quantiles of the `window` VIX closes before t; NaN before that."""
    past = vix_close.shift(1).rolling(window, min_periods=window)
    lo, hi = past.quantile(1 / 3).to_numpy(), past.quantile(2 / 3).to_numpy()
    v = vix_close.to_numpy("float64")
    out = np.where(v <= lo, 0.0, np.where(v <= hi, 1.0, 2.0))
    out[np.isnan(lo) | np.isnan(v)] = np.nan
    return pd.Series(out, index=vix_close.index)


@dataclass(frozen=True)
class GmmSchedule:
    every: pd.Timedelta  # a checkpoint at the first bar of each interval this long (grid from Monday 1970-01-05)
    window: int  # each fit uses the last `window` usable rows up to its checkpoint


def gmm_schedule(timeframe: str) -> GmmSchedule:
    """Refit every four weeks on a year (daily) or 180 weeks (weekly) of bars, or every week on
    ten cash sessions of bars (intraday; at least 180 rows)."""
    if timeframe == "1w":
        return GmmSchedule(every=pd.Timedelta(weeks=4), window=180)
    if timeframe in INTRADAY:
        per_day = max(int(pd.Timedelta(minutes=390) / step(timeframe)), 1)  # bars in a cash session
        return GmmSchedule(every=pd.Timedelta(weeks=1), window=max(180, 10 * per_day))
    return GmmSchedule(every=pd.Timedelta(weeks=4), window=252)


GRID_ORIGIN_NS = pd.Timestamp("1970-01-05", tz="UTC").value  # a Monday: weekly cells start on Mondays


def checkpoints(ts, every: pd.Timedelta) -> np.ndarray:
    """Positions of the bars that open a new `every`-long cell of the time grid (the first bar
    of the data is not one: nothing says what came before it)."""
    cell = (epoch_ns(pd.DatetimeIndex(ts)) - GRID_ORIGIN_NS) // every.value
    return np.flatnonzero(np.diff(cell) != 0) + 1


@numba.njit(cache=True)
def _constants(covs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per component: the inverse covariance's three entries and the log normaliser with the weight."""
    out = np.empty((covs.shape[0], 4))
    for k in range(covs.shape[0]):
        a, b, c = covs[k, 0, 0], covs[k, 0, 1], covs[k, 1, 1]
        det = a * c - b * b
        out[k, 0], out[k, 1], out[k, 2] = c / det, -b / det, a / det
        out[k, 3] = math.log(weights[k]) - 0.5 * math.log(det) - math.log(2.0 * math.pi)
    return out


@numba.njit(cache=True)
def _log_prob(z0: float, z1: float, mean: np.ndarray, const: np.ndarray) -> float:
    d0, d1 = z0 - mean[0], z1 - mean[1]
    return const[3] - 0.5 * (const[0] * d0 * d0 + 2.0 * const[1] * d0 * d1 + const[2] * d1 * d1)


@numba.njit(cache=True)
def _em(z: np.ndarray, means: np.ndarray, covs: np.ndarray, weights: np.ndarray, tol: float, max_iter: int, reg: float) -> int:
    """EM for a 2-D full-covariance mixture, in place, in scikit-learn's order (E step, M step,
    then stop when the mean log-likelihood moved less than `tol`). Returns the iterations run."""
    n, k_count = z.shape[0], means.shape[0]
    resp = np.empty((n, k_count))
    previous = -np.inf
    for iteration in range(1, max_iter + 1):
        const = _constants(covs, weights)
        total = 0.0
        for i in range(n):
            top = -np.inf
            for k in range(k_count):
                resp[i, k] = _log_prob(z[i, 0], z[i, 1], means[k], const[k])
                top = max(top, resp[i, k])
            s = 0.0
            for k in range(k_count):
                resp[i, k] = math.exp(resp[i, k] - top)
                s += resp[i, k]
            for k in range(k_count):
                resp[i, k] /= s
            total += top + math.log(s)
        current = total / n
        nk_sum = 0.0
        for k in range(k_count):
            nk = 10.0 * 2.220446049250313e-16  # scikit-learn's guard against an empty component
            m0 = m1 = 0.0
            for i in range(n):
                nk += resp[i, k]
                m0 += resp[i, k] * z[i, 0]
                m1 += resp[i, k] * z[i, 1]
            m0 /= nk
            m1 /= nk
            c00 = c01 = c11 = 0.0
            for i in range(n):
                d0, d1 = z[i, 0] - m0, z[i, 1] - m1
                c00 += resp[i, k] * d0 * d0
                c01 += resp[i, k] * d0 * d1
                c11 += resp[i, k] * d1 * d1
            means[k, 0], means[k, 1] = m0, m1
            covs[k, 0, 0], covs[k, 0, 1], covs[k, 1, 0], covs[k, 1, 1] = c00 / nk + reg, c01 / nk, c01 / nk, c11 / nk + reg
            weights[k] = nk
            nk_sum += nk
        for k in range(k_count):
            weights[k] /= nk_sum
        if abs(current - previous) < tol:
            return iteration
        previous = current
    return max_iter


@numba.njit(cache=True)
def tercile_start(z: np.ndarray, k_count: int, reg: float):
    """A start for EM from the data alone: the points split into `k_count` parts by volatility
    (column 1), each part's mean and covariance (+ reg on the diagonal), equal weights. Nothing
    carries over from an earlier fit."""
    order = np.argsort(z[:, 1], kind="mergesort")
    n = z.shape[0]
    means = np.zeros((k_count, 2))
    covs = np.zeros((k_count, 2, 2))
    for k in range(k_count):
        part = order[(k * n) // k_count : ((k + 1) * n) // k_count]
        m = len(part)
        for i in part:
            means[k, 0] += z[i, 0] / m
            means[k, 1] += z[i, 1] / m
        for i in part:
            d0, d1 = z[i, 0] - means[k, 0], z[i, 1] - means[k, 1]
            covs[k, 0, 0] += d0 * d0 / m
            covs[k, 0, 1] += d0 * d1 / m
            covs[k, 1, 1] += d1 * d1 / m
        covs[k, 1, 0] = covs[k, 0, 1]
        covs[k, 0, 0] += reg
        covs[k, 1, 1] += reg
    return means, covs, np.full(k_count, 1.0 / k_count)


@numba.njit(cache=True)
def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = np.zeros(2)
    sd = np.zeros(2)
    n = x.shape[0]
    for j in range(2):
        for i in range(n):
            mu[j] += x[i, j]
        mu[j] /= n
        for i in range(n):
            sd[j] += (x[i, j] - mu[j]) ** 2
        sd[j] = math.sqrt(sd[j] / n)
        if sd[j] == 0.0:
            sd[j] = 1.0
    z = np.empty_like(x)
    for i in range(n):
        for j in range(2):
            z[i, j] = (x[i, j] - mu[j]) / sd[j]
    return z, mu, sd


@numba.njit(cache=True)
def _fit_and_label(x, fit_rows, label_rows, out, k_count, tol, max_iter, reg) -> int:
    """Standardise the fit rows, fit the mixture from its tercile start, and write each label
    row's component, ranked by volatility (0 calmest), into `out`. Returns EM's iterations."""
    z, mu, sd = _standardise(x[fit_rows])
    means, covs, weights = tercile_start(z, k_count, reg)
    iterations = _em(z, means, covs, weights, tol, max_iter, reg)
    rank = np.empty(k_count)
    rank[np.argsort(means[:, 1], kind="mergesort")] = np.arange(k_count)
    const = _constants(covs, weights)
    for i in label_rows:
        z0, z1 = (x[i, 0] - mu[0]) / sd[0], (x[i, 1] - mu[1]) / sd[1]
        best, arg = -np.inf, 0
        for k in range(k_count):
            lp = _log_prob(z0, z1, means[k], const[k])
            if lp > best:
                best, arg = lp, k
        out[i] = rank[arg]
    return iterations


def fit_mixture(z: np.ndarray, tol: float = GMM_TOL, max_iter: int = GMM_MAX_ITER, reg: float = GMM_REG_COVAR):
    """(means, covariances, weights) that EM finds on `z` (n x 2) from `tercile_start`."""
    z = np.ascontiguousarray(z, dtype="float64")
    means, covs, weights = tercile_start(z, GMM_COMPONENTS, reg)
    _em(z, means, covs, weights, tol, max_iter, reg)
    return means, covs, weights


def regime_gmm(
    ts, returns: np.ndarray, volatility: np.ndarray, schedule: GmmSchedule, max_fit_points: int = GMM_MAX_FIT_POINTS
) -> np.ndarray:
    """Regime label per bar from the mixture fitted at the last checkpoint at or before it, on
    the `schedule.window` usable rows up to that checkpoint; NaN before the first checkpoint with
    a full window (`symbol_features` cuts those rows: they are this feature's warm-up)."""
    x = np.ascontiguousarray(np.column_stack([np.asarray(returns, "float64"), np.asarray(volatility, "float64")]))
    n = len(x)
    out = np.full(n, np.nan)
    valid = np.isfinite(x).all(axis=1)
    valid_pos = np.flatnonzero(valid)
    usable_upto = np.cumsum(valid)  # usable rows at or before each position
    cps = checkpoints(ts, schedule.every)
    cps = cps[usable_upto[cps] >= schedule.window]
    bounds = np.append(cps, n)
    for j, c in enumerate(cps):
        upto = usable_upto[c]
        rows = valid_pos[upto - schedule.window : upto]
        if len(rows) > max_fit_points:  # an even, deterministic thinning counted from the checkpoint
            rows = rows[np.linspace(0, len(rows) - 1, max_fit_points).round().astype(np.int64)]
        block = valid_pos[usable_upto[c] - 1 : usable_upto[bounds[j + 1] - 1]]  # usable rows in [c, next)
        _fit_and_label(x, rows, block, out, GMM_COMPONENTS, GMM_TOL, GMM_MAX_ITER, GMM_REG_COVAR)
    return out
