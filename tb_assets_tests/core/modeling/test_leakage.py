"""The permuted-label sentinel and the plausibility ceiling, without Dagster."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from tb_assets.core.modeling.cv import PurgedKFold
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import Folds, score_folds
from tb_assets.core.modeling.leakage import auc_lower_bound, permuted_label_auc, plausible_ceiling, sentinel_problems
from tb_assets.core.modeling.metrics import auc_standard_error, summarize
from tb_assets.core.modeling.params import DEFAULT_PARAMS


def test_permuted_labels_score_a_coin_where_the_real_ones_do_not():
    rng = np.random.default_rng(1)
    n = 2000
    X = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * X["signal"]))).astype(int).to_numpy()
    t = pd.date_range("2015-01-01", periods=n, freq="D", tz="UTC")
    splits = list(PurgedKFold(5, pd.Series(t + pd.Timedelta(days=2), index=t), 0.01).split(X))
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 60})
    real = summarize([f.score for f in score_folds(model, Folds.build(X, y, None, splits))]).auc
    permuted = permuted_label_auc(model, X, y, None, splits, seed=0)
    assert real > 0.75 and abs(permuted - 0.5) < 0.05
    assert permuted_label_auc(model, X, y, None, splits, seed=0) == permuted  # seeded: repeatable
    assert permuted_label_auc(model, X, y, None, splits, seed=1) != permuted


def test_sentinel_rules():
    assert plausible_ceiling("1d") == 0.80 and plausible_ceiling("1w") == 0.80 and plausible_ceiling("5m") == 0.75
    assert plausible_ceiling("1h", daily=0.9, intraday=0.7) == 0.7
    assert sentinel_problems(0.52, {"out-of-fold": (0.6, 0.55), "holdout": (0.58, 0.5)}, tolerance=0.06, ceiling=0.8, timeframe="1d") == []
    problems = sentinel_problems(0.62, {"out-of-fold": (0.6, 0.55), "holdout": (0.85, 0.82)}, tolerance=0.06, ceiling=0.8, timeframe="1d")
    assert problems == [
        "permuted-label AUC 0.620 is not 0.5 +/- 0.06",
        "holdout AUC 0.850 (95% lower bound 0.820) is implausibly high for 1d bars (> 0.8): look for leakage",
    ]
    # a point estimate above the ceiling whose lower bound is not: noise, not a leak
    assert sentinel_problems(0.5, {"holdout": (0.81, 0.74)}, tolerance=0.06, ceiling=0.8, timeframe="1w") == []
    assert sentinel_problems(0.43, {}, tolerance=0.06, ceiling=0.8, timeframe="1d")  # below the band too


def plain_delong_se(y, s):
    """DeLong's standard error the obvious way: the full positive x negative comparison matrix."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 120), st.integers(0, 10_000), st.sampled_from([2, 5, 1000]))
def test_delong_standard_error_matches_the_comparison_matrix(n, seed, levels):
    """Midranks against the O(mn) matrix, ties included (few score levels tie most pairs)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2], y[2:4] = 0, 1
    s = np.round(rng.normal(size=n) + 0.8 * y, 0) if levels == 2 else rng.integers(0, levels, n).astype(float) + 0.3 * y
    assert auc_standard_error(y, s) == pytest.approx(plain_delong_se(y, s), rel=1e-9, abs=1e-12)


def test_a_good_weekly_model_is_not_one_update_from_a_leak_but_a_leak_is_blocked():
    """The sample's VIX|1w: holdout AUC ~0.80 on ~150 weekly events whose labels overlap ~5 deep
    must not trip a 0.80 ceiling; a volume column encoding the next bars' return (AUC ~0.86 on
    6,000 events) must, with any plausible overlap."""
    rng = np.random.default_rng(0)

    def scores_with_auc(n, separation):
        y = rng.integers(0, 2, n)
        return y, rng.normal(size=n) + separation * y

    y, s = scores_with_auc(150, 1.2)
    auc = roc_auc_score(y, s)
    assert 0.76 < auc < 0.86
    weekly = auc_lower_bound(auc, auc_standard_error(y, s), overlap=5.0)
    assert weekly < 0.80 and not sentinel_problems(0.5, {"holdout": (auc, weekly)}, tolerance=0.06, ceiling=0.8, timeframe="1w")
    y, s = scores_with_auc(6000, 1.52)
    auc = roc_auc_score(y, s)
    assert 0.84 < auc < 0.88
    for overlap in (1.0, 5.0, 10.0):
        leak = auc_lower_bound(auc, auc_standard_error(y, s), overlap=overlap)
        assert sentinel_problems(0.5, {"out-of-fold": (auc, leak)}, tolerance=0.06, ceiling=0.75, timeframe="5m")
    assert auc_lower_bound(0.7, float("nan")) == 0.7  # no standard error (one class): the AUC itself
