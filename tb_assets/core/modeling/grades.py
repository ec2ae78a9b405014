"""Grades: each metric judged against its chance level and the project's targets.

AUPR and precision@10% of a coin equal the positive rate, and Brier of the best constant forecast
is rate x (1 - rate), so those three are graded as lift over the rate (value / rate) and as Brier
skill (1 - Brier / (rate (1 - rate))); the raw numbers are kept beside them. A coin on a
64%-positive partition grades below Acceptable, not "excellent". Pure numpy and pandas: the
command line grades model cards without loading scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (acceptable, good, excellent) lower bounds; for auc_cv: upper bounds (lower is better). At a 50%
# positive rate the lift and skill bounds are the raw bounds the project used before (AUPR .58/.65,
# precision .55/.60, Brier .23/.20); Acceptable asks for a little more than chance.
GRADES: dict[str, tuple[float, float, float]] = {
    "auc": (0.60, 0.65, 0.70),
    "aupr_lift": (1.05, 1.16, 1.30),
    "precision_at_10_lift": (1.05, 1.10, 1.20),
    "brier_skill": (0.005, 0.08, 0.20),
    "auc_cv": (0.15, 0.10, 0.05),
}
LOWER_IS_BETTER = {"auc_cv"}


def against_chance(m: dict) -> dict:
    """aupr_lift and precision_at_10_lift (value / positive rate) and brier_skill (1 - Brier /
    (rate (1 - rate)), 0 for the best constant forecast) of a metrics dict; NaN without a rate."""
    rate = float(m.get("positive_rate", float("nan")))
    constant = rate * (1.0 - rate)
    ok = np.isfinite(rate) and 0.0 < rate < 1.0
    return {
        "aupr_lift": m["aupr"] / rate if ok else float("nan"),
        "precision_at_10_lift": m["precision_at_10"] / rate if ok else float("nan"),
        "brier_skill": 1.0 - m["brier"] / constant if ok else float("nan"),
    }


def grade(metric: str, value: float) -> str:
    """'excellent', 'good', 'acceptable' or 'below' against the project's targets ('-' for NaN:
    a stored metric from before the positive rate was kept)."""
    if not np.isfinite(value):
        return "-"
    acceptable, good, excellent = GRADES[metric]
    if metric in LOWER_IS_BETTER:
        value, acceptable, good, excellent = -value, -acceptable, -good, -excellent
    if value > excellent:
        return "excellent"
    if value >= good:
        return "good"
    if value >= acceptable:
        return "acceptable"
    return "below"


GRADED = ("auc", "aupr_lift", "precision_at_10_lift", "brier_skill", "auc_cv")
# shown in the grade table: each graded metric, with the raw number its lift or skill comes from
SHOWN = ("auc", "aupr", "aupr_lift", "precision_at_10", "precision_at_10_lift", "brier", "brier_skill", "auc_cv", "positive_rate")


def _with_chance(m: dict) -> dict:
    return {**m, **{k: v for k, v in against_chance(m).items() if not np.isfinite(m.get(k, float("nan")))}}


def grade_table(oof: dict, holdout: dict | None) -> pd.DataFrame:
    """Each metric's out-of-fold value and, for the graded ones, its grade ('-' for the raw numbers
    behind a lift), beside the holdout's (no fold-to-fold CV on one holdout)."""
    oof = _with_chance(oof)
    table = pd.DataFrame(
        {
            "metric": SHOWN,
            "oof": [oof.get(k, float("nan")) for k in SHOWN],
            "oof_grade": [grade(k, oof.get(k, float("nan"))) if k in GRADED else "-" for k in SHOWN],
        }
    )
    if holdout is not None:
        holdout = _with_chance(holdout)
        table["holdout"] = [holdout.get(k, "-") for k in SHOWN]  # one holdout has no fold-to-fold CV
        table["holdout_grade"] = [grade(k, holdout[k]) if k in GRADED and k in holdout else "-" for k in SHOWN]
    return table


def graded(table: pd.DataFrame, column: str = "oof_grade") -> dict[str, str]:
    """{metric: grade} of the graded rows of a grade table."""
    rows = table[table["metric"].isin(GRADED)]
    return dict(zip(rows["metric"], rows[column]))
