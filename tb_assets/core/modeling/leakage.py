"""Leakage sentinels: what a model must score when there is nothing to learn.

A model fitted on permuted labels, through the very same folds and recipe, must score AUC 0.5
(give or take the noise of the sample); if it scores more, rows or features leak the label.
And an AUC far above what markets allow at the timeframe is a leak until shown otherwise.
"""

from __future__ import annotations

import numpy as np

from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.core.modeling.evaluation import Folds, cv_metrics, threads_of
from tb_assets.core.modeling.models import Estimator


def permuted_label_auc(estimator: Estimator, X, y, weight, splits, seed: int = 0) -> float:
    """Out-of-fold AUC of `estimator` on the same rows, weights and folds with the labels shuffled."""
    permuted = np.random.default_rng(seed).permutation(np.asarray(y))
    return cv_metrics(estimator, Folds.build(X, permuted, weight, splits, threads=threads_of(estimator))).auc


def plausible_ceiling(timeframe: str, daily: float = 0.80, intraday: float = 0.75) -> float:
    """The highest AUC believable without a leak at this timeframe."""
    return intraday if timeframe in INTRADAY else daily


def sentinel_problems(permuted_auc: float, aucs: dict[str, float], *, tolerance: float, ceiling: float, timeframe: str) -> list[str]:
    """One message per rule broken (empty when none): the permuted AUC outside 0.5 +/- tolerance,
    any named AUC (out-of-fold, holdout) above the ceiling."""
    problems = []
    if abs(permuted_auc - 0.5) > tolerance:
        problems.append(f"permuted-label AUC {permuted_auc:.3f} is not 0.5 +/- {tolerance}")
    for name, auc in aucs.items():
        if auc > ceiling:
            problems.append(f"{name} AUC {auc:.3f} is implausibly high for {timeframe} bars (> {ceiling}): look for leakage")
    return problems
