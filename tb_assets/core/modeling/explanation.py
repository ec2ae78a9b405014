"""What the production model leans on, on the events a reader cares about: the report behind
`shap_report`.

Exact TreeSHAP (the booster's own) on the holdout events and the most recent development events;
mean |SHAP| ranking beside the model's gain ranking; the ranking within each market regime; and
the holdout AUC drop when each feature is shuffled (`importance.permutation_table`), of the model
fitted on development only, so the holdout stays out of sample for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.modeling.cv import purged_holdout
from tb_assets.core.modeling.explain import Explanation, explain, explain_rows, regime_importance, shap_summary
from tb_assets.core.modeling.importance import permutation_table
from tb_assets.core.modeling.training_data import TrainingData


@dataclass(frozen=True)
class ExplanationSpec:
    """How much is explained (the shap_report asset's config as plain values)."""

    n_explain: int = 2000  # development events explained besides the holdout (the most recent)
    max_rows: int = 5000  # at most this many events in all (the most recent)
    n_repeats: int = 5  # shuffles per feature for the permutation importance
    threads: int = 2
    seed: int = 0


@dataclass
class ExplanationReport:
    rows: np.ndarray  # positions of the explained events, in time order
    X: pd.DataFrame  # their features
    explanation: Explanation
    values: pd.DataFrame  # ts, one column per feature, base_value, margin, probability (calibrated)
    summary: pd.DataFrame  # the mean |SHAP| ranking (with the gain rank)
    by_regime: pd.DataFrame
    permutation: pd.DataFrame  # feature, auc_drop_mean, auc_drop_std (empty without a holdout)
    holdout_rows: int  # how many explained events are holdout events

    @property
    def max_additivity_error(self) -> float:
        return float(self.explanation.additivity_error().max())


def explain_production_model(
    model,
    holdout_model,
    data: TrainingData,
    holdout_start: pd.Timestamp | None,
    gain: pd.Series,
    regimes: pd.DataFrame,
    spec: ExplanationSpec,
) -> ExplanationReport:
    """`model` (fitted on every event; a `calibration.CalibratedClassifier`) explained on the holdout
    and recent development events of `data`: SHAP values of its margin, and its calibrated
    probability beside them; `holdout_model` (fitted on development only) shuffled on the holdout. `gain`: the model's
    gain per feature; `regimes`: the regime columns indexed by ts (any rows)."""
    from sklearn.metrics import roc_auc_score

    features = list(data.X.columns)
    if holdout_start is None:
        development, holdout = np.arange(len(data.y)), np.array([], dtype="int64")
    else:
        development, holdout = purged_holdout(data.t1, holdout_start)
    rows = explain_rows(len(data.y), development, holdout, n_explain=spec.n_explain, max_rows=spec.max_rows)
    X = data.X.iloc[rows].reset_index(drop=True)
    explanation = explain(getattr(model, "model", model), X, threads=spec.threads)  # the booster's exact TreeSHAP
    ts = data.t1.index[rows]
    values = pd.DataFrame(explanation.values, columns=features)
    values.insert(0, "ts", ts)
    values["base_value"] = explanation.base_value
    values["margin"] = explanation.margin
    values["probability"] = model.predict_proba(X)[:, 1]  # what the margin means as a bet: calibrated
    by_regime = regime_importance(explanation.values, features, regimes.reindex(ts))
    if len(holdout):
        permutation = permutation_table(
            holdout_model, data.X.iloc[holdout], data.y[holdout], roc_auc_score, n_repeats=spec.n_repeats, seed=spec.seed
        ).rename(columns={"drop_mean": "auc_drop_mean", "drop_std": "auc_drop_std"})
    else:
        permutation = pd.DataFrame(columns=["feature", "auc_drop_mean", "auc_drop_std"])
    return ExplanationReport(
        rows=rows,
        X=X,
        explanation=explanation,
        values=values,
        summary=shap_summary(explanation.values, features, gain),
        by_regime=by_regime,
        permutation=permutation,
        holdout_rows=int(np.isin(rows, holdout).sum()),
    )
