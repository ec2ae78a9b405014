"""Market regimes as categorical features, fitted on the past only.

- regime_vix: the VIX level's bucket (0 calm, 1 normal, 2 stressed) against its own expanding
  terciles computed from bars strictly before t.
- regime_gmm: a Gaussian mixture on (1-bar log return, realized volatility), refitted at fixed
  checkpoints on everything up to the checkpoint, labelling the bars until the next one.
  Components are ordered by volatility (0 = calmest), so labels mean the same across refits.

Both depend only on positions counted from the start of the series, so recomputing on any
prefix gives the same values: the no-look-ahead check relies on that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VIX_MIN_HISTORY = 60
GMM_MIN_HISTORY = 180
GMM_COMPONENTS = 3
GMM_MAX_FIT_POINTS = 2000


def regime_vix(vix_close: pd.Series, min_history: int = VIX_MIN_HISTORY) -> pd.Series:
    """0/1/2 by the expanding 1/3 and 2/3 quantiles of earlier VIX closes; NaN before min_history."""
    past = vix_close.shift(1).expanding(min_periods=min_history)
    lo, hi = past.quantile(1 / 3).to_numpy(), past.quantile(2 / 3).to_numpy()
    v = vix_close.to_numpy("float64")
    out = np.where(v <= lo, 0.0, np.where(v <= hi, 1.0, 2.0))
    out[np.isnan(lo) | np.isnan(v)] = np.nan
    return pd.Series(out, index=vix_close.index)


def gmm_refit_every(timeframe: str) -> int:
    """Refit about once a quarter (63 trading days) in bars of the timeframe."""
    from tb_assets.core.data.timeframes import INTRADAY, step

    if timeframe == "1w":
        return 13
    if timeframe in INTRADAY:
        per_day = max(int(pd.Timedelta(minutes=390) / step(timeframe)), 1)
        return 63 * per_day
    return 63


def regime_gmm(
    returns: np.ndarray,
    volatility: np.ndarray,
    refit_every: int,
    min_history: int = GMM_MIN_HISTORY,
    max_fit_points: int = GMM_MAX_FIT_POINTS,
    seed: int = 0,
) -> np.ndarray:
    """Regime label per bar from mixtures fitted on rows <= the last checkpoint <= that bar."""
    # scikit-learn loads here, not with the module: loading the Dagster definitions stays light
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    x = np.column_stack([np.asarray(returns, "float64"), np.asarray(volatility, "float64")])
    n = len(x)
    out = np.full(n, np.nan)
    valid = np.isfinite(x).all(axis=1)
    valid_pos = np.flatnonzero(valid)
    if len(valid_pos) < min_history:
        return out
    first = int(valid_pos[min_history - 1])  # the first checkpoint: min_history usable rows seen
    # one standardisation, from the first checkpoint's data, so each refit can start from the
    # previous mixture (warm start: a few EM steps instead of k-means + EM from scratch)
    mu = x[valid_pos[:min_history]].mean(axis=0)
    sd = x[valid_pos[:min_history]].std(axis=0)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    previous: GaussianMixture | None = None
    # 2-dimensional mixtures: BLAS threads only spin on them (twice the CPU for the same wall time
    # alone, far worse beside another run), so one thread; partitions run side by side instead
    with threadpool_limits(limits=1, user_api="blas"):
        for c in range(first, n, refit_every):
            rows = valid_pos[valid_pos <= c]
            if len(rows) > max_fit_points:  # an even, deterministic thinning of the expanding window
                rows = rows[np.linspace(0, len(rows) - 1, max_fit_points).round().astype(np.int64)]
            warm = {}
            if previous is not None:
                warm = dict(weights_init=previous.weights_, means_init=previous.means_, precisions_init=previous.precisions_)
            gm = GaussianMixture(
                GMM_COMPONENTS, covariance_type="full", random_state=seed, max_iter=200, reg_covar=1e-6,
                init_params="k-means++", **warm,
            )
            gm.fit(z[rows])
            previous = gm
            rank = np.empty(GMM_COMPONENTS)
            rank[np.argsort(gm.means_[:, 1])] = np.arange(GMM_COMPONENTS)  # order by volatility
            block = np.arange(c, min(c + refit_every, n))
            block = block[valid[block]]
            if len(block):
                out[block] = rank[gm.predict(z[block])]
    return out
