"""Bet sizes from predicted probabilities (López de Prado, AFML ch. 10).

A classifier's probability p of the label it predicts says how sure it is, not how much to bet:
under the null that the bet is a coin among K outcomes, z = (p - 1/K) / sqrt(p (1 - p)) is the
test statistic of p against 1/K, and the size is 2 Phi(z) - 1, in [0, 1) (10.1). Sizes of the
bets active at the same bar are averaged, so one bar's position does not depend on how many
events happened to start near it (10.2); a size can be rounded to a step so tiny changes do
not trade (10.3) and capped.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from tb_assets.core.errors import TbError


def bet_size(prob, n_classes: int = 2, side=None, *, step: float = 0.0, cap: float = 1.0) -> np.ndarray:
    """Signed bet sizes in [-cap, cap] from probabilities (vectorised; a scalar gives a 0-d array).

    - `side` None, `n_classes` 2: `prob` is the probability of the up label (`bin` = 1). The bet
      takes the predicted side (+1 when prob > 0.5, -1 below) and its size comes from the
      probability of that side, max(prob, 1 - prob): bet_size(0.6) = 0.1617, bet_size(0.4) = -0.1617.
    - `side` given (meta-labeling: a primary model chose the side, +1 or -1): `prob` is the
      probability that the side is right; below 0.5 there is no bet (size 0).
    - `n_classes` K > 2: `prob` is the probability of the predicted class and `side` its sign.
    """
    if n_classes < 2:
        raise TbError(f"bet_size: n_classes must be at least 2, got {n_classes}")
    if not 0.0 < cap <= 1.0:
        raise TbError(f"bet_size: cap must be in (0, 1], got {cap}")
    if step < 0.0 or step > 1.0:
        raise TbError(f"bet_size: step must be in [0, 1], got {step}")
    p = np.asarray(prob, dtype="float64")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        bad = p[np.isnan(p) | (p < 0) | (p > 1)].flat[0]
        raise TbError(f"bet_size: probabilities must be in [0, 1], got {bad!r}")
    if side is None:
        if n_classes != 2:
            raise TbError(f"bet_size: with {n_classes} classes, give `side` (the sign of each predicted class)")
        direction = np.where(p > 0.5, 1.0, np.where(p < 0.5, -1.0, 0.0))
        sure = np.maximum(p, 1.0 - p)
    else:
        direction = np.asarray(side, dtype="float64")
        if not np.isin(direction, (-1.0, 0.0, 1.0)).all():
            raise TbError("bet_size: side must be -1, 0 or +1")
        sure = p
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (sure - 1.0 / n_classes) / np.sqrt(sure * (1.0 - sure))
    z = np.where(np.isnan(z), 0.0, z)  # p = 1/K exactly with p(1-p) = 0 cannot happen for K >= 2; 0/0 guard
    size = np.clip(2.0 * ndtr(z) - 1.0, 0.0, None)  # a meta-label below chance bets nothing
    if step > 0.0:
        size = discretize_size(size, step)
    return direction * np.minimum(size, cap)


def discretize_size(size, step: float) -> np.ndarray:
    """Sizes rounded to multiples of `step` (AFML 10.3), within [-1, 1]."""
    if not 0.0 < step <= 1.0:
        raise TbError(f"discretize_size: step must be in (0, 1], got {step}")
    return np.clip(np.round(np.asarray(size, dtype="float64") / step) * step, -1.0, 1.0)


def average_active_sizes(t0, t1, sizes, at) -> np.ndarray:
    """At each time of `at` (sorted), the mean size of the bets active then, 0 where none is
    (AFML 10.2). A bet is active from its start t0 up to, not including, its end t1 (its label is
    known at t1). O(n + m): starts and ends are counted into the bars once, then accumulated."""
    start, end, at = (np.asarray(v).astype("datetime64[ns]").astype("int64") for v in (t0, t1, at))
    sizes = np.asarray(sizes, dtype="float64")
    if not (len(start) == len(end) == len(sizes)):
        raise TbError(f"average_active_sizes: t0, t1 and sizes differ in length ({len(start)}, {len(end)}, {len(sizes)})")
    if len(at) > 1 and (np.diff(at) < 0).any():
        raise TbError("average_active_sizes: `at` must be sorted")
    # bet i counts at the bars with start <= time < end: from the first bar at or after its start
    # to the last bar before its end
    first = np.searchsorted(at, start, side="left")
    stop = np.searchsorted(at, end, side="left")
    live = first < stop
    total = np.zeros(len(at) + 1)
    count = np.zeros(len(at) + 1)
    np.add.at(total, first[live], sizes[live])
    np.add.at(total, stop[live], -sizes[live])
    np.add.at(count, first[live], 1.0)
    np.add.at(count, stop[live], -1.0)
    total, count = np.cumsum(total)[:-1], np.cumsum(count)[:-1]
    out = np.zeros(len(at))
    held = count > 0.5
    out[held] = total[held] / count[held]
    return out
