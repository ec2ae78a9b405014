"""The Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV;
Bailey, Borwein, López de Prado & Zhu 2017).

The returns of every trial (columns) over the same periods (rows) are cut into S blocks of
neighbouring periods. For every choice of S/2 blocks as in-sample (C(16, 8) = 12,870 for S = 16),
the trial with the best in-sample Sharpe ratio is picked and its out-of-sample Sharpe ranked
among all trials': omega = rank / (N + 1), logit = ln(omega / (1 - omega)). PBO is the share of
choices whose pick lands at or below the out-of-sample median (logit <= 0). Skill-less trials give
about 0.5; a selection that finds real skill gives near 0.

Vectorised over block sums: each block's count, sum and sum of squares per trial are computed
once, and every choice's in-sample and out-of-sample Sharpe ratios come from one matrix product.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from tb_assets.core.errors import TbError


def cscv_logits(returns_matrix, n_blocks: int = 16) -> np.ndarray:
    """The logit of the in-sample winner's out-of-sample relative rank, one per CSCV choice."""
    m = np.asarray(returns_matrix, dtype="float64")
    if m.ndim != 2:
        raise TbError(f"probability_of_backtest_overfitting: returns_matrix must be 2-D (periods x trials), got shape {m.shape}")
    periods, trials = m.shape
    if trials < 2:
        raise TbError(f"probability_of_backtest_overfitting: need at least 2 trials (columns) to choose among, got {trials}")
    if n_blocks < 2 or n_blocks % 2:
        raise TbError(f"probability_of_backtest_overfitting: n_blocks must be even and at least 2, got {n_blocks}")
    if periods < 2 * n_blocks:
        raise TbError(f"probability_of_backtest_overfitting: {periods} periods cannot make {n_blocks} blocks of at least 2 periods")
    if not np.isfinite(m).all():
        raise TbError(f"probability_of_backtest_overfitting: {int((~np.isfinite(m)).sum())} return(s) are NaN or infinite")
    blocks = np.array_split(np.arange(periods), n_blocks)
    count = np.array([len(b) for b in blocks], dtype="float64")
    total = np.stack([m[b].sum(axis=0) for b in blocks])  # (S, N)
    squares = np.stack([(m[b] ** 2).sum(axis=0) for b in blocks])
    chosen = np.zeros((comb(n_blocks, n_blocks // 2), n_blocks))
    for row, in_sample in enumerate(combinations(range(n_blocks), n_blocks // 2)):
        chosen[row, list(in_sample)] = 1.0
    inside = _sharpe(chosen @ count, chosen @ total, chosen @ squares)
    outside = _sharpe((1 - chosen) @ count, (1 - chosen) @ total, (1 - chosen) @ squares)
    best = np.argmax(inside, axis=1)
    picked = outside[np.arange(len(best)), best][:, None]
    # its rank among the trials out of sample (1 = worst, N = best; ties share the mean rank)
    rank = (outside < picked).sum(axis=1) + ((outside == picked).sum(axis=1) + 1) / 2.0
    omega = rank / (trials + 1.0)
    return np.log(omega / (1.0 - omega))


def probability_of_backtest_overfitting(returns_matrix, n_blocks: int = 16) -> float:
    """PBO of choosing the best of the trials (columns of `returns_matrix`, rows = periods) by
    in-sample Sharpe ratio: the share of CSCV choices where it ranks at or below the median out of sample."""
    return float(np.mean(cscv_logits(returns_matrix, n_blocks) <= 0.0))


def _sharpe(count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratios (n - 1 in the variance) from counts (choices,) and sums (choices, trials);
    a trial with no variation ranks by the sign of its mean (0 when it made nothing)."""
    n = count[:, None]
    mean = total / n
    variance = np.maximum(squares - total * mean, 0.0) / (n - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean / np.sqrt(variance)
    flat = variance <= 1e-300
    return np.where(flat, np.sign(mean) * np.where(mean == 0, 0.0, np.inf), ratio)
