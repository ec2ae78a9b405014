"""The composite objective and the grades against hand-computed values."""

import numpy as np
import pytest

from tb_assets.core.modeling.metrics import (
    CVMetrics,
    FoldMetrics,
    auc_objective,
    composite_score,
    decile_spread,
    fold_metrics,
    grade,
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
    [("auc", 0.59, "below"), ("auc", 0.60, "acceptable"), ("auc", 0.67, "good"), ("auc", 0.70, "good"), ("auc", 0.71, "excellent"),
     ("aupr", 0.55, "acceptable"), ("aupr", 0.66, "excellent"), ("brier", 0.26, "below"), ("brier", 0.24, "acceptable"),
     ("brier", 0.21, "good"), ("brier", 0.19, "excellent"), ("precision_at_10", 0.56, "good"), ("auc_cv", 0.12, "acceptable"),
     ("auc_cv", 0.07, "good"), ("auc_cv", 0.01, "excellent"), ("auc_cv", 0.2, "below")],
)
def test_grades(metric, value, expected):
    assert grade(metric, value) == expected


def test_grade_table_puts_the_holdout_beside_the_out_of_fold_grades():
    from tb_assets.core.modeling.metrics import grade_table

    oof = {"auc": 0.66, "aupr": 0.51, "brier": 0.26, "precision_at_10": 0.61, "auc_cv": 0.04}
    table = grade_table(oof, None)
    assert table["metric"].tolist() == ["auc", "aupr", "brier", "precision_at_10", "auc_cv"]
    assert table["oof_grade"].tolist() == ["good", "acceptable", "below", "excellent", "excellent"]
    assert "holdout" not in table.columns
    holdout = {"auc": 0.58, "aupr": 0.70, "brier": 0.22, "precision_at_10": 0.5}
    with_holdout = grade_table(oof, holdout)
    assert with_holdout["holdout_grade"].tolist() == ["below", "excellent", "good", "acceptable", "-"]
    assert with_holdout["holdout"].tolist()[-1] == "-"  # one holdout has no fold-to-fold variation
