"""The composite objective and the grades against hand-computed values."""

import numpy as np
import pytest

from tb_assets.core.modeling.grades import SHOWN, grade, grade_table, graded
from tb_assets.core.modeling.metrics import (
    CVMetrics,
    FoldMetrics,
    auc_objective,
    composite_score,
    decile_spread,
    fold_metrics,
    precision_at,
    summarize,
)


def cv(auc=0.7, aupr=0.6, brier=0.2, p10=0.8, spread=0.5, auc_cv=0.04, auc_std=0.028):
    return CVMetrics(auc, aupr, brier, p10, spread, auc_cv, auc_std, ())


def test_composite_by_hand():
    # .2*.7 + .15*.6 + .15*(1 - .2/.25) + .2*.8 + .1*.5 + .2*(1 - 5*.04) = .14+.09+.03+.16+.05+.16
    assert composite_score(cv()) == pytest.approx(0.63)
    # a coin: AUC .5, AUPR = base rate .5, Brier .25, P@10 .5, spread 0, perfectly stable
    assert composite_score(cv(0.5, 0.5, 0.25, 0.5, 0.0, 0.0)) == pytest.approx(0.1 + 0.075 + 0 + 0.1 + 0 + 0.2)
    # calibration and stability are clipped at 0, spread may be negative
    assert composite_score(cv(brier=0.30, auc_cv=0.5, spread=-0.2)) == pytest.approx(0.14 + 0.09 + 0 + 0.16 - 0.02 + 0)


def test_auc_objective():
    assert auc_objective(cv(auc=0.66, auc_std=0.03), variance_penalty=2.0) == pytest.approx(0.60)


def test_tail_metrics_by_hand():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0])
    s = np.arange(20)[::-1] / 20.0  # the first rows score highest
    assert precision_at(y, s, 0.10) == 0.5  # top 2 rows: 1, 0
    assert precision_at(y, s, 0.25) == pytest.approx(2 / 5)
    assert decile_spread(y, s) == pytest.approx(0.5 - 0.5)  # top 2: 1,0 ; bottom 2: 1,0
    assert decile_spread(np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]), np.linspace(1, 0, 10)) == 1.0


def test_fold_metrics_and_summary():
    y = np.array([0, 0, 1, 1] * 25)
    perfect = fold_metrics(y, y * 0.8 + 0.1)
    assert perfect.auc == 1.0 and perfect.aupr == 1.0 and perfect.brier == pytest.approx(0.01) and perfect.precision_at_10 == 1.0
    assert fold_metrics(y, 1 - y).auc == 0.0
    s = summarize([FoldMetrics(0.6, 0.5, 0.24, 0.5, 0.1), FoldMetrics(0.7, 0.6, 0.22, 0.7, 0.3)])
    assert s.auc == pytest.approx(0.65) and s.auc_std == pytest.approx(0.05) and s.auc_cv == pytest.approx(0.05 / 0.65)
    assert s.brier == pytest.approx(0.23) and len(s.as_dict()["folds"]) == 2
    with pytest.raises(ValueError, match="both classes"):
        fold_metrics(np.zeros(10), np.linspace(0, 1, 10))


@pytest.mark.parametrize(
    "metric,value,expected",
    [
        ("auc", 0.59, "below"),
        ("auc", 0.60, "acceptable"),
        ("auc", 0.67, "good"),
        ("auc", 0.70, "good"),
        ("auc", 0.71, "excellent"),
        ("aupr_lift", 1.0, "below"),
        ("aupr_lift", 1.10, "acceptable"),
        ("aupr_lift", 1.31, "excellent"),
        ("brier_skill", -0.02, "below"),
        ("brier_skill", 0.0, "below"),
        ("brier_skill", 0.04, "acceptable"),
        ("brier_skill", 0.10, "good"),
        ("brier_skill", 0.21, "excellent"),
        ("precision_at_10_lift", 1.12, "good"),
        ("auc_cv", 0.12, "acceptable"),
        ("auc_cv", 0.07, "good"),
        ("auc_cv", 0.01, "excellent"),
        ("auc_cv", 0.2, "below"),
        ("aupr_lift", float("nan"), "-"),
    ],
)
def test_grades(metric, value, expected):
    assert grade(metric, value) == expected


def test_grades_are_lifts_over_the_positive_rate():
    """At a 50% rate the lifts grade as the raw bounds did; at 64% the same raw numbers are a coin."""
    half = {"auc": 0.66, "aupr": 0.60, "brier": 0.22, "precision_at_10": 0.61, "auc_cv": 0.04, "positive_rate": 0.5}
    assert graded(grade_table(half, None)) == {
        "auc": "good",
        "aupr_lift": "good",
        "precision_at_10_lift": "excellent",
        "brier_skill": "good",
        "auc_cv": "excellent",
    }
    skewed = {**half, "aupr": 0.64, "precision_at_10": 0.65, "brier": 0.2304, "positive_rate": 0.64}
    grades = graded(grade_table(skewed, None))
    assert grades["aupr_lift"] == grades["precision_at_10_lift"] == grades["brier_skill"] == "below"
    table = grade_table(skewed, None).set_index("metric")
    assert table.loc["aupr", "oof"] == 0.64 and table.loc["aupr", "oof_grade"] == "-"  # the raw number stays, ungraded
    assert table.loc["aupr_lift", "oof"] == pytest.approx(1.0) and table.loc["brier_skill", "oof"] == pytest.approx(0.0)


def test_a_coin_on_a_skewed_partition_grades_below_acceptable():
    """Random scores on 64% positives (IXIC|1w's rate): raw AUPR and precision near 0.64 graded
    'good'/'excellent' before; as lifts they are at chance."""
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.64).astype(int)
    coin = summarize([fold_metrics(y[k::5], rng.random(len(y[k::5]))) for k in range(5)])
    assert 0.60 < coin.aupr < 0.68 and 0.58 < coin.precision_at_10 < 0.72  # what the old raw grades called good or better
    assert abs(coin.aupr_lift - 1) < 0.05 and abs(coin.precision_at_10_lift - 1) < 0.12 and coin.brier_skill < 0
    grades = graded(grade_table(coin.as_dict(), None))
    assert grades["aupr_lift"] == "below" and grades["brier_skill"] == "below"
    signal = summarize([fold_metrics(y[k::5], np.clip(y[k::5] * 0.3 + rng.random(len(y[k::5])) * 0.7, 0, 1)) for k in range(5)])
    assert graded(grade_table(signal.as_dict(), None))["aupr_lift"] in ("good", "excellent")


def test_grade_table_puts_the_holdout_beside_the_out_of_fold_grades():
    oof = {"auc": 0.66, "aupr": 0.51, "brier": 0.26, "precision_at_10": 0.61, "auc_cv": 0.04, "positive_rate": 0.45}
    table = grade_table(oof, None)
    assert table["metric"].tolist() == list(SHOWN)
    assert graded(table) == {
        "auc": "good",
        "aupr_lift": "acceptable",
        "precision_at_10_lift": "excellent",
        "brier_skill": "below",
        "auc_cv": "excellent",
    }
    assert "holdout" not in table.columns
    holdout = {"auc": 0.58, "aupr": 0.70, "brier": 0.22, "precision_at_10": 0.5, "positive_rate": 0.5}
    with_holdout = grade_table(oof, holdout)
    assert graded(with_holdout, "holdout_grade") == {
        "auc": "below",
        "aupr_lift": "excellent",
        "precision_at_10_lift": "below",
        "brier_skill": "good",
        "auc_cv": "-",
    }
    assert with_holdout.set_index("metric").loc["auc_cv", "holdout"] == "-"  # one holdout has no fold-to-fold variation
    # a card stored before the positive rate was kept: its lifts cannot be graded, never a crash
    old = grade_table({k: v for k, v in oof.items() if k != "positive_rate"}, None)
    assert graded(old)["aupr_lift"] == "-" and graded(old)["auc"] == "good"


def test_the_zoo_and_the_chain_grade_the_same_predictions_alike():
    """One metrics module: a training-service fold (classification_scores) carries the chain's fold
    metrics and their lifts over the positive rate, so both grade the same predictions the same,
    fold by fold and as the mean over folds."""
    from dataclasses import asdict

    from tb_assets.core.modeling.grades import GRADED
    from tb_assets.core.modeling.metrics import classification_scores, mean_scores

    rng = np.random.default_rng(3)
    folds = []
    for _k in range(4):
        y = (rng.uniform(size=400) < 0.64).astype(int)  # a skewed partition: a coin's AUPR is 0.64, not 0.5
        p = np.clip(0.64 + 0.1 * (y - 0.64) + rng.normal(0, 0.15, 400), 0.01, 0.99)
        folds.append((y, p))
    zoo = [classification_scores(y, p) for y, p in folds]
    chain = [fold_metrics(y, p) for y, p in folds]
    for z, c in zip(zoo, chain):
        assert graded(grade_table(asdict(c), None)) == {m: grade(m, z[m]) for m in GRADED if m != "auc_cv"} | {"auc_cv": "-"}
    mean, cv = mean_scores(zoo), summarize(chain)
    for metric in ("auc", "aupr_lift", "precision_at_10_lift", "brier_skill"):
        assert mean[metric] == pytest.approx(getattr(cv, metric), abs=1e-12)
        assert grade(metric, mean[metric]) == graded(grade_table(cv.as_dict(), None))[metric]


def test_tied_scores_share_the_cut_fairly():
    """All-tied scores: precision@10% is the positive rate and the spread 0, whatever the row order
    (the earliest rows used to take the cut: a one-tree model's ties graded 'good' on noise)."""
    y = np.array([1] * 30 + [0] * 70)
    tied = np.full(100, 0.37)
    assert precision_at(y, tied, 0.10) == pytest.approx(0.30)
    assert decile_spread(y, tied) == pytest.approx(0.0)
    assert fold_metrics(y, tied).precision_at_10 == pytest.approx(0.30)
    # two tie groups: the top 10 are 4 clear winners and 6 of the 12 rows tied at the cut
    s = np.r_[np.full(4, 0.9), np.full(12, 0.5), np.linspace(0.4, 0.0, 84)]
    yy = np.r_[[1, 1, 1, 0], [1] * 3 + [0] * 9, np.zeros(84, dtype=int)]
    assert precision_at(yy, s, 0.10) == pytest.approx((3 + 6 * 3 / 12) / 10)


@pytest.mark.parametrize("seed", range(25))
def test_tie_fair_precision_equals_the_mean_over_tie_orders(seed):
    """Against the slow obvious definition: the plain top-k precision averaged over every order of
    the tied rows (all permutations of a small problem)."""
    from itertools import permutations

    rng = np.random.default_rng(seed)
    n = 7
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 3, n).astype(float)  # few distinct values: many ties
    fraction = rng.choice([0.1, 0.3, 0.5])
    k = max(1, int(np.ceil(fraction * n)))
    results = []
    for order in permutations(range(n)):
        ranked = sorted(range(n), key=lambda i: (-s[i], order.index(i)))
        results.append(y[ranked[:k]].mean())
    assert precision_at(y, s, fraction) == pytest.approx(np.mean(results))
