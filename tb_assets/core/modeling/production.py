"""The production model of a partition: the chosen recipe scored three ways, then fitted on every event.

1. on the untouched holdout: fitted on the development events (purged against the holdout) and
   scored once on the holdout, exactly like one out-of-fold split: the number to believe;
2. out of fold: the same recipe on purged CV of every event (flattered by selection and tuning,
   which chose on these rows);
3. each AUC with its standard error (DeLong) and one-sided lower confidence bound, widened for the
   labels' overlap: what the leakage sentinel's ceiling judges;
then fitted on every labelled event (sample weights unless disabled), through the one fit path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score

from tb_assets.core.modeling.cv import purged_holdout
from tb_assets.core.modeling.estimators.class_weight import class_balance
from tb_assets.core.modeling.estimators.contract import fit
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import Folds, HoldoutScore, score_folds, score_holdout
from tb_assets.core.modeling.leakage import auc_lower_bound
from tb_assets.core.modeling.metrics import auc_standard_error, summarize
from tb_assets.core.modeling.training_data import TrainingData

# the positive rate and the lifts over it are kept: without them AUPR, precision@10% and Brier cannot be graded
OOF_KEPT = (
    "auc",
    "aupr",
    "brier",
    "precision_at_10",
    "spread",
    "auc_cv",
    "positive_rate",
    "aupr_lift",
    "precision_at_10_lift",
    "brier_skill",
)


@dataclass(frozen=True)
class ProductionSpec:
    """How the production model is trained and scored (the asset's config as plain values)."""

    sample_weights: bool = True
    balanced: str = "auto"  # 'auto', 'true' or 'false' (estimators.class_weight.class_balance)
    n_jobs: int = 2
    seed: int = 0
    n_splits: int = 5
    embargo_pct: float = 0.01


@dataclass
class HoldoutResult:
    score: HoldoutScore  # metrics, probabilities, the model fitted on development only
    record: dict  # what the model card keeps
    rows: np.ndarray  # positions of the holdout events

    def predictions(self, data: TrainingData) -> pd.DataFrame:
        return pd.DataFrame({"ts": data.t1.index[self.rows], "y": data.y[self.rows], "proba": self.score.proba})


@dataclass
class ProductionModel:
    model: LightGBMClassifier  # fitted on every event
    scale_pos_weight: float | None
    oof_metrics: dict
    holdout: HoldoutResult | None
    importance: pd.DataFrame  # feature, gain, split (by gain)
    train_auc: float
    train_aupr: float


def auc_bounds(y: np.ndarray, proba: np.ndarray, auc: float, overlap: float) -> dict:
    se = auc_standard_error(y, proba)
    return {"auc_se": se, "auc_lower": auc_lower_bound(auc, se, overlap)}


def train_production_model(
    data: TrainingData, params: dict, holdout_start: pd.Timestamp | None, spec: ProductionSpec, *, overlap: float = 1.0
) -> ProductionModel:
    """The recipe (LightGBM with `params`, weights and class balance per `spec`) scored on the holdout
    from `holdout_start` (None: no holdout) and out of fold, then fitted on every event. `overlap`:
    the mean number of labels sharing a bar (1 / mean uniqueness), what the AUC bounds widen by."""
    weight = data.weight if spec.sample_weights else None
    spw = class_balance(data.y, weight, spec.balanced)
    recipe = LightGBMClassifier(params, seed=spec.seed, threads=spec.n_jobs, scale_pos_weight=spw)

    holdout = None
    if holdout_start is not None:
        development, rows = purged_holdout(data.t1, holdout_start)
        scored = score_holdout(recipe, data.X, data.y, weight, development, rows, label=f"holdout events (holdout from {holdout_start})")
        ts = data.t1.index[rows]
        record = {
            **asdict(scored.metrics),
            "n_samples": len(rows),
            "positive_rate": float(data.y[rows].mean()),
            "development_samples": len(development),
            "date_range": [str(ts.min()), str(ts.max())],
            **auc_bounds(data.y[rows], scored.proba, scored.metrics.auc, overlap),
        }
        holdout = HoldoutResult(scored, record, rows)

    splits = data.purged_splits(spec.n_splits, spec.embargo_pct)
    fold_scores = score_folds(recipe, Folds.build(data.X, data.y, weight, splits, threads=spec.n_jobs))
    oof = summarize([f.score for f in fold_scores])
    tested = np.concatenate([f.test for f in fold_scores])  # the pooled out-of-fold predictions give the AUC's standard error
    oof_metrics = {
        **{k: getattr(oof, k) for k in OOF_KEPT},
        **auc_bounds(data.y[tested], np.concatenate([f.prediction for f in fold_scores]), oof.auc, overlap),
    }

    model = fit(clone(recipe), data.X, data.y, weight)
    proba = model.predict_proba(data.X)[:, 1]
    booster = model.booster_
    importance = pd.DataFrame(
        {
            "feature": list(data.X.columns),
            "gain": booster.feature_importance("gain"),
            "split": booster.feature_importance("split"),
        }
    ).sort_values("gain", ascending=False)
    return ProductionModel(
        model=model,
        scale_pos_weight=spw,
        oof_metrics=oof_metrics,
        holdout=holdout,
        importance=importance,
        train_auc=float(roc_auc_score(data.y, proba)),
        train_aupr=float(average_precision_score(data.y, proba)),
    )
