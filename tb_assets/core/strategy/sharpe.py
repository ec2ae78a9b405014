"""Is a Sharpe ratio real? The Probabilistic Sharpe Ratio, the Deflated Sharpe Ratio and the
minimum track record length (Bailey & López de Prado 2012, 2014).

Every Sharpe ratio here is **per period** (the mean return of one bar, or one day, over its
standard deviation), and kurtosis is **non-excess** (3 for a normal distribution): the formulas
are written in those units. An annualised Sharpe put in their place turns the paper's DSR of
0.9004 into 0.99999994, which is why the functions refuse one outright.

The moments a strategy's returns are judged by (`return_moments`): Sharpe = mean / standard
deviation with n - 1 in the denominator; skewness and kurtosis are the plain sample moments
(scipy.stats with bias=True: central moments over n), which is what the papers' estimators use.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

from tb_assets.core.errors import TbError

EULER_GAMMA = 0.5772156649015329


def return_moments(returns) -> tuple[float, int, float, float]:
    """(per-period Sharpe, number of periods, skewness, non-excess kurtosis) of a return series."""
    r = np.asarray(returns, dtype="float64")
    if r.ndim != 1 or len(r) < 2:
        raise TbError(f"return_moments: need a series of at least 2 returns, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise TbError(f"return_moments: {int((~np.isfinite(r)).sum())} return(s) are NaN or infinite")
    centred = r - r.mean()
    m2 = float(np.mean(centred**2))
    if m2 == 0.0:
        raise TbError("return_moments: every return is the same; a Sharpe ratio needs variation")
    sharpe = float(r.mean() / r.std(ddof=1))
    skew = float(np.mean(centred**3) / m2**1.5)
    kurtosis = float(np.mean(centred**4) / m2**2)
    return sharpe, len(r), skew, kurtosis


def sharpe_ratio(returns) -> float:
    """Per-period Sharpe ratio: mean / standard deviation (n - 1), no annualisation."""
    return return_moments(returns)[0]


def _check(sharpe: float, n_obs: int, skew: float, kurtosis: float, annualized: bool, where: str) -> float:
    if annualized:
        raise TbError(
            f"{where}: the formula takes the per-period Sharpe ratio; divide an annualised one by "
            "sqrt(periods per year) (and a variance of annualised Sharpe ratios by periods per year)"
        )
    if n_obs < 2:
        raise TbError(f"{where}: need at least 2 observations, got {n_obs}")
    if kurtosis < 1.0:
        raise TbError(
            f"{where}: kurtosis {kurtosis:g} is below 1, impossible for a non-excess kurtosis "
            "(a normal distribution has 3): was an excess kurtosis given? add 3"
        )
    if not all(math.isfinite(v) for v in (sharpe, skew, kurtosis)):
        raise TbError(f"{where}: Sharpe {sharpe}, skew {skew} and kurtosis {kurtosis} must be finite")
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if spread <= 0.0:
        raise TbError(
            f"{where}: 1 - skew*SR + (kurtosis-1)/4*SR^2 = {spread:g} is not positive (Sharpe {sharpe:g}, skew {skew:g}, "
            f"kurtosis {kurtosis:g}): these moments cannot come from one return series"
        )
    return spread


def probabilistic_sharpe_ratio(
    sharpe: float, n_obs: int, skew: float, kurtosis: float, benchmark: float = 0.0, *, annualized: bool = False
) -> float:
    """P(true Sharpe > benchmark) given the observed per-period Sharpe of `n_obs` returns with
    their skewness and non-excess kurtosis (PSR, Bailey & López de Prado 2012)."""
    spread = _check(sharpe, n_obs, skew, kurtosis, annualized, "probabilistic_sharpe_ratio")
    return float(ndtr((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(spread)))


def expected_maximum_sharpe(n_trials: int, trials_sharpe_variance: float) -> float:
    """The Sharpe ratio the best of `n_trials` skill-less trials reaches on average, given the
    variance of the trials' (per-period) Sharpe ratios (the DSR's benchmark, False Strategy theorem)."""
    if n_trials < 2:
        raise TbError(f"expected_maximum_sharpe: need at least 2 trials to deflate by, got {n_trials}")
    if not trials_sharpe_variance >= 0.0:
        raise TbError(f"expected_maximum_sharpe: the trials' Sharpe variance must be >= 0, got {trials_sharpe_variance}")
    return float(
        math.sqrt(trials_sharpe_variance)
        * ((1.0 - EULER_GAMMA) * ndtri(1.0 - 1.0 / n_trials) + EULER_GAMMA * ndtri(1.0 - 1.0 / (n_trials * math.e)))
    )


def deflated_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    skew: float,
    kurtosis: float,
    n_trials: int,
    trials_sharpe_variance: float,
    *,
    annualized: bool = False,
) -> float:
    """PSR against the expected best Sharpe of `n_trials` noise trials (DSR, Bailey & López de
    Prado 2014): the probability that the chosen strategy's Sharpe beats what selection alone
    would produce. Below 0.95 it is not distinguishable from the best of N noise trials."""
    if annualized:
        _check(sharpe, n_obs, skew, kurtosis, annualized, "deflated_sharpe_ratio")
    benchmark = expected_maximum_sharpe(n_trials, trials_sharpe_variance)
    _check(sharpe, n_obs, skew, kurtosis, False, "deflated_sharpe_ratio")
    return probabilistic_sharpe_ratio(sharpe, n_obs, skew, kurtosis, benchmark)


def minimum_track_record_length(sharpe: float, skew: float, kurtosis: float, benchmark: float = 0.0, confidence: float = 0.95) -> float:
    """Periods of returns needed before the observed per-period Sharpe beats `benchmark` with
    `confidence` (MinTRL, Bailey & López de Prado 2012); infinite when it does not beat it at all."""
    if not 0.5 <= confidence < 1.0:
        raise TbError(f"minimum_track_record_length: confidence must be in [0.5, 1), got {confidence}")
    spread = _check(sharpe, 2, skew, kurtosis, False, "minimum_track_record_length")
    if sharpe <= benchmark:
        return math.inf
    return float(1.0 + spread * (ndtri(confidence) / (sharpe - benchmark)) ** 2)
