"""The champion/challenger gate: DeLong's paired test, its level on equal models, its power."""

import lightgbm as lgb
import numpy as np
import pytest
from scipy.special import expit

from tb_assets.core.errors import TbError
from tb_assets.core.live.promotion import PromotionRule, paired_auc_test


def slow_paired_variance(y, a, b):
    """DeLong's variance of AUC(b) - AUC(a) from its definition: the kernel psi over every pair."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)

    def psi(s):
        return np.array([[1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0 for j in neg] for i in pos])

    ka, kb = psi(a), psi(b)
    v10 = np.vstack([ka.mean(axis=1), kb.mean(axis=1)])
    v01 = np.vstack([ka.mean(axis=0), kb.mean(axis=0)])
    s10, s01 = np.cov(v10), np.cov(v01)
    return (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / len(pos) + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / len(neg), ka.mean(), kb.mean()


@pytest.mark.parametrize("seed", range(5))
def test_the_paired_variance_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(150)
    y = (rng.random(150) < expit(x)).astype(int)
    a = np.round(x + rng.standard_normal(150), 1)  # ties decided as the kernel says: half
    b = x + 0.5 * rng.standard_normal(150)
    var, auc_a, auc_b = slow_paired_variance(y, a, b)
    test = paired_auc_test(y, a, b, rule=PromotionRule(min_events=10))
    assert test.champion_auc == pytest.approx(auc_a) and test.challenger_auc == pytest.approx(auc_b)
    assert test.standard_error == pytest.approx(np.sqrt(var), rel=1e-9)
    assert paired_auc_test(y, a, b, overlap=4.0, rule=PromotionRule(min_events=10)).standard_error == pytest.approx(2 * np.sqrt(var))


def test_an_equally_good_challenger_wins_no_more_often_than_the_level():
    wins = 0
    for seed in range(1000):
        rng = np.random.default_rng([seed, 1])
        x = rng.standard_normal(300)
        y = (rng.random(300) < expit(1.0 * x)).astype(int)
        champion, challenger = x + rng.standard_normal(300), x + rng.standard_normal(300)
        wins += paired_auc_test(y, champion, challenger).promote
    assert wins / 1000 <= 0.05 + 0.015, wins  # 5% level, its binomial noise over 1,000 seeds


def world(rng, n, k=8):
    """Events whose label follows three of k features."""
    X = rng.standard_normal((n, k))
    y = (rng.random(n) < expit(1.2 * X[:, 0] - 0.8 * X[:, 1] + 0.6 * X[:, 2])).astype(int)
    return X, y


def blind(X):
    """The features without the third one that drives the label."""
    out = X.copy()
    out[:, 2] = 0.0
    return out


def fitted(X, y, seed):
    return lgb.LGBMClassifier(
        n_estimators=60, num_leaves=7, learning_rate=0.05, min_child_samples=20, verbose=-1, n_jobs=1, random_state=seed
    ).fit(X, y)


def test_a_better_challenger_is_promoted_and_one_trained_on_permuted_labels_is_not():
    better = permuted = 0
    for seed in range(20):
        rng = np.random.default_rng([seed, 28])
        X, y = world(rng, 3000)
        champion = fitted(blind(X), y, seed)  # it never saw one of the three features that matter
        challenger = fitted(X, y, seed)
        noise = fitted(X, rng.permutation(y), seed)
        X_new, y_new = world(rng, 1000)  # the untouched window: neither model trained on it
        p_champion = champion.predict_proba(blind(X_new))[:, 1]
        better += paired_auc_test(y_new, p_champion, challenger.predict_proba(X_new)[:, 1]).promote
        permuted += paired_auc_test(y_new, p_champion, noise.predict_proba(X_new)[:, 1]).promote
    assert better >= 19 and permuted <= 1, (better, permuted)


def test_too_few_events_promote_nothing_and_mismatched_inputs_are_refused():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(60)
    y = (x > 0).astype(int)
    test = paired_auc_test(y, rng.random(60), x)
    assert not test.promote and "at least 100" in test.reason
    with pytest.raises(TbError, match="same events"):
        paired_auc_test(y, x, x[:-1])
