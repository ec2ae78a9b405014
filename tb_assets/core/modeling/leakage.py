"""Leakage sentinels: what a model must score when there is nothing to learn.

A model fitted on permuted labels, through the very same folds and recipe, must score AUC 0.5
(give or take the noise of the sample); if it scores more, rows or features leak the label.
And an AUC far above what markets allow at the timeframe is a leak until shown otherwise.

That ceiling is judged on the AUC's lower confidence bound, not its point estimate: a weekly
holdout of 150 events has a standard error near 0.04, so a good model at 0.79 would flip across a
fixed 0.80 with the next data update. The bound is one-sided 95%: DeLong's standard error
(metrics.auc_standard_error) widened for overlapping labels. Events whose labels share bars are
not independent; with c labels on a bar on average (1 / mean uniqueness, AFML ch. 4) the sample
holds about n / c independent outcomes, so the variance is multiplied by c. A leak is far above
the ceiling and many events deep (a volume column that encodes the next bars' return: AUC 0.86 on
6,000 events, bound 0.83), so it stays blocked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.core.modeling.estimators.contract import Estimator
from tb_assets.core.modeling.evaluation import Folds, score_folds, threads_of
from tb_assets.core.modeling.metrics import fold_metrics, summarize


def permuted(y, seed: int = 0) -> np.ndarray:
    """The labels shuffled: the one permutation every sentinel of the project uses."""
    return np.random.default_rng(seed).permutation(np.asarray(y))


def permuted_label_scores(estimator: Estimator, X, y, weight, splits, *, scorer: Callable = fold_metrics, seed: int = 0) -> list:
    """Each fold's score of `estimator` fitted on the same rows, weights and folds with the labels
    shuffled (anything fitted inside the estimator, e.g. `Preprocessed`'s p-value filter, sees the
    shuffled training labels only). Any model of the project, the chain's or the zoo's."""
    folds = Folds.build(X, permuted(y, seed), weight, splits, bin_now=False, threads=threads_of(estimator))
    return [f.score for f in score_folds(estimator, folds, scorer=scorer)]


def permuted_label_auc(estimator: Estimator, X, y, weight, splits, seed: int = 0) -> float:
    """Out-of-fold AUC (the mean over folds) of `estimator` with the labels shuffled."""
    return summarize(permuted_label_scores(estimator, X, y, weight, splits, seed=seed)).auc


def plausible_ceiling(timeframe: str, daily: float = 0.80, intraday: float = 0.75) -> float:
    """The highest AUC believable without a leak at this timeframe."""
    return intraday if timeframe in INTRADAY else daily


CONFIDENCE_Z = 1.6449  # one-sided 95%


def auc_lower_bound(auc: float, standard_error: float, overlap: float = 1.0, z: float = CONFIDENCE_Z) -> float:
    """The one-sided lower confidence bound of an AUC: auc - z * se * sqrt(overlap), with `overlap`
    the mean number of labels sharing a bar (1: independent rows). No standard error: the AUC itself."""
    if not np.isfinite(standard_error):
        return float(auc)
    return float(auc - z * standard_error * np.sqrt(max(overlap, 1.0)))


def sentinel_problems(
    permuted_auc: float, aucs: dict[str, tuple[float, float]], *, tolerance: float, ceiling: float, timeframe: str
) -> list[str]:
    """One message per rule broken (empty when none): the permuted AUC outside 0.5 +/- tolerance,
    any named AUC (out-of-fold, holdout: (AUC, its lower confidence bound)) whose lower bound is
    above the ceiling."""
    problems = []
    if abs(permuted_auc - 0.5) > tolerance:
        problems.append(f"permuted-label AUC {permuted_auc:.3f} is not 0.5 +/- {tolerance}")
    for name, (auc, lower) in aucs.items():
        if lower > ceiling:
            problems.append(
                f"{name} AUC {auc:.3f} (95% lower bound {lower:.3f}) is implausibly high for {timeframe} bars "
                f"(> {ceiling}): look for leakage"
            )
    return problems
