"""Feature selection without sample weights (low variance is needed to see small gains).

1. Prefilter: a univariate F-test of each standardised, mean-imputed feature against the label;
   features with p above the threshold go (if all would go, the single best stays).
2. Sequential forward selection: add the candidate that raises the mean purged-CV AUC of a small
   LightGBM (`params.SELECTION_PARAMS`, scored by the one engine in `evaluation`) the most, only
   if it gains more than `epsilon`; stop when nothing does.

Two shortcuts make it scale, each one setting away from the exact search:
- `shortlist`: one LightGBM fitted on every candidate ranks them by split gain, and each step tries
  only the best `shortlist` of those not chosen yet (0: every candidate, every step);
- `thin`: each fold fits on every thin-th training row (evaluation.Folds). Overlapping labels
  carry little new information per row, so the asset passes the labels' overlap stride (AFML
  ch. 4: one label in k barely overlaps the next kept one) when folds stay large; 1 fits every row.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import Folds, auc_score, score_folds
from tb_assets.core.modeling.params import SELECTION_PARAMS
from tb_assets.core.modeling.prefilter import univariate_tests


def standardise(X: pd.DataFrame) -> pd.DataFrame:
    """Mean-impute, then z-score each column (a constant column becomes 0). One copy of the
    matrix, changed in place: a million rows of 30 features stay 250 MB, not five times that."""
    values = X.to_numpy("float64", copy=True)
    values[~np.isfinite(values)] = np.nan
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: its mean is NaN, filled with 0 below
        mean = np.nanmean(values, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    missing = np.isnan(values)
    if missing.any():
        values[missing] = np.take(mean, np.nonzero(missing)[1])
    centre = values.mean(axis=0)
    values -= centre
    std = np.sqrt(np.einsum("ij,ij->j", values, values) / len(values)) if len(values) else np.ones(values.shape[1])
    values /= np.where(std == 0.0, 1.0, std)
    return pd.DataFrame(values, columns=X.columns, index=X.index, copy=False)


def f_test_prefilter(X: pd.DataFrame, y: np.ndarray, p_value_threshold: float = 0.05) -> tuple[list[str], pd.DataFrame]:
    """Features whose univariate F-test p-value is at most the threshold, and the full table
    (feature, f_stat, p_value, std_coef: the slope of y on the standardised feature), best first."""
    Z = standardise(X).to_numpy()  # one block: no copy
    y = np.asarray(y, dtype="float64")
    f_stat, p = univariate_tests(Z, y, "classification")  # a perfect separator ranks first, never dropped
    coef = Z.T @ (y - y.mean()) / max(len(y), 1)  # cov(z, y) / var(z), var(z) = 1
    table = pd.DataFrame({"feature": X.columns, "f_stat": f_stat, "p_value": p, "std_coef": coef})
    table = table.sort_values(["p_value", "f_stat"], ascending=[True, False], kind="stable").reset_index(drop=True)
    kept = table.loc[table["p_value"] <= p_value_threshold, "feature"].tolist()
    if not kept and len(table):
        kept = [table["feature"].iloc[0]]  # keep the single best rather than nothing
    return kept, table


def rank_by_gain(X: pd.DataFrame, y: np.ndarray, candidates: Sequence[str], params: dict | None = None) -> list[str]:
    """The candidates ordered by their total split gain in one selection LightGBM fitted on all of
    them and all rows (ties keep the given order)."""
    model = LightGBMClassifier(params or SELECTION_PARAMS, seed=0, threads=1).fit(X[list(candidates)].astype("float64"), y)
    gain = model.booster_.feature_importance(importance_type="gain")
    order = np.argsort(-gain, kind="stable")
    return [candidates[i] for i in order]


def cv_auc(X, y: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]], params: dict | None = None, thin: int = 1) -> float:
    """Mean test AUC of the small, unweighted selection LightGBM over the splits (folds with one
    class are skipped; with `thin` > 1 each fold fits on every thin-th training row), scored by the
    one engine."""
    folds = Folds.build(X, y, None, splits, bin_now=False, thin=thin)
    model = LightGBMClassifier(folds.per_thinned_row(params or SELECTION_PARAMS), seed=0, threads=1)
    return float(np.mean([f.score for f in score_folds(model, folds, scorer=auc_score, skip_one_class=True)]))


@dataclass
class SelectionResult:
    selected: list[str]
    history: pd.DataFrame  # step, feature, auc, gain (accepted steps)
    prefilter: pd.DataFrame
    candidates: list[str] = field(default_factory=list)
    ranking: list[str] | None = None  # the gain ranking the shortlist came from, if one was used
    scored: int = 0  # feature sets scored by purged CV in all: selection's share of the partition's trials


@dataclass(frozen=True)
class SelectionSpec:
    """How features are selected (the selected_features asset's config as plain values)."""

    p_value_threshold: float = 0.05  # the prefilter's
    max_candidates: int | None = 30  # forward selection looks at the prefilter's best this many
    epsilon: float = 0.0002  # a step must raise the CV AUC by more than this
    max_features: int | None = 15
    n_jobs: int = 1  # candidates scored at once
    shortlist: int = 0  # each step tries only the gain ranking's best this many (0: every candidate)
    thin: int = 1  # each fold fits on every thin-th training row (1: every row)
    params: dict | None = None  # the selection LightGBM (params.SELECTION_PARAMS by default)


def forward_select(
    X: pd.DataFrame,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    spec: SelectionSpec = SelectionSpec(),
    *,
    candidates: Sequence[str] | None = None,
    ranking: Sequence[str] | None = None,
) -> tuple[list[str], pd.DataFrame, int]:
    """Greedy forward selection on purged-CV AUC. Returns the selected names, the history
    of accepted steps (step, feature, auc, gain; the first gain is over a coin's 0.5) and how many
    feature sets were scored in all (the trials a deflated Sharpe ratio must count). With a
    `spec.shortlist` and a `ranking`, each step tries only the first `shortlist` candidates of
    `ranking` not chosen yet."""
    epsilon, max_features, n_jobs, params, thin = spec.epsilon, spec.max_features, spec.n_jobs, spec.params, spec.thin
    shortlist = spec.shortlist if ranking is not None else 0
    pool = list(candidates if candidates is not None else X.columns)
    order = [c for c in (ranking if ranking is not None else pool) if c in pool]
    values = X[pool].astype("float64").to_numpy()
    col = {name: i for i, name in enumerate(pool)}
    y = np.asarray(y)
    chosen: list[str] = []
    best = 0.5
    rows = []
    scored = 0
    limit = max_features or len(pool)
    while len(chosen) < limit:
        remaining = [c for c in order if c not in chosen]
        if shortlist:
            remaining = remaining[:shortlist]
        if not remaining:
            break
        scores = Parallel(n_jobs=n_jobs, prefer="threads")(  # LightGBM releases the GIL
            delayed(cv_auc)(values[:, [col[c] for c in (*chosen, cand)]], y, splits, params, thin) for cand in remaining
        )
        scored += len(scores)
        i = int(np.argmax(scores))  # ties: the earlier (better ranked) candidate
        gain = scores[i] - best
        if gain <= epsilon:
            break
        chosen.append(remaining[i])
        best = scores[i]
        rows.append({"step": len(chosen), "feature": remaining[i], "auc": scores[i], "gain": gain})
    return chosen, pd.DataFrame(rows, columns=["step", "feature", "auc", "gain"]), scored


def select_features(
    X: pd.DataFrame, y: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]], spec: SelectionSpec = SelectionSpec()
) -> SelectionResult:
    """Prefilter, then forward selection over the best `spec.max_candidates` survivors (see the
    module for `shortlist` and `thin`; 0 and 1 are the exact search)."""
    kept, table = f_test_prefilter(X, y, spec.p_value_threshold)
    candidates = kept[: spec.max_candidates] if spec.max_candidates else kept
    ranking = rank_by_gain(X, y, candidates) if spec.shortlist and len(candidates) > spec.shortlist else None
    selected, history, scored = forward_select(X, y, splits, spec, candidates=candidates, ranking=ranking)
    if not selected:  # nothing beat a coin by epsilon: keep the prefilter's best so later stages have a model
        selected = candidates[:1]
    return SelectionResult(selected=selected, history=history, prefilter=table, candidates=candidates, ranking=ranking, scored=scored)
