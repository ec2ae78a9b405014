"""The production model of a partition: the chosen recipe measured on development, scored once on
the holdout, then fitted on every event.

1. out of fold: purged CV of the development events (the rows selection and tuning chose on, so
   flattered by them); its predictions choose and fit the probability calibrator (`calibration`),
   and the out-of-fold metrics are read on the calibrator's cross-fitted probabilities;
2. on the untouched holdout: the recipe fitted on the development events (purged against the
   holdout), calibrated by the calibrator of step 1, scored once: the number to believe. Its class
   balance, like everything else it learns from, comes from development events only;
3. each AUC with its standard error (DeLong) and one-sided lower confidence bound, widened for the
   labels' overlap: what the leakage sentinel's ceiling judges;
then fitted on every labelled event (sample weights unless disabled), through the one fit path,
with step 1's calibrator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from tb_assets.core.modeling.calibration import CalibratedClassifier, Calibration, calibrate_out_of_fold
from tb_assets.core.modeling.cv import purged_holdout
from tb_assets.core.modeling.estimators.class_weight import class_balance
from tb_assets.core.modeling.estimators.contract import fit
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import HoldoutScore, score_holdout
from tb_assets.core.modeling.grades import against_chance
from tb_assets.core.modeling.leakage import auc_lower_bound
from tb_assets.core.modeling.metrics import auc_standard_error, fold_metrics
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


HOLDOUT_BLOCKS = 5  # the holdout's consecutive blocks its AUC stability is read over


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
    score: HoldoutScore  # the model fitted on development only, its raw probabilities
    proba: np.ndarray  # the calibrated probabilities on the holdout rows: what is stored and scored
    record: dict  # what the model card keeps
    rows: np.ndarray  # positions of the holdout events
    calibration: Calibration  # measured on development: applied to `proba`

    @property
    def model(self) -> CalibratedClassifier:
        return CalibratedClassifier(self.score.model, self.calibration)

    def predictions(self, data: TrainingData) -> pd.DataFrame:
        return pd.DataFrame({"ts": data.t1.index[self.rows], "y": data.y[self.rows], "proba": self.proba})


@dataclass
class ProductionModel:
    model: CalibratedClassifier  # fitted on every event, with the calibration measured on development
    scale_pos_weight: float | None
    development_scale_pos_weight: float | None  # what the holdout model and the out-of-fold folds trained with
    calibration: Calibration
    oof_metrics: dict
    holdout: HoldoutResult | None
    importance: pd.DataFrame  # feature, gain, split (by gain)
    train_auc: float
    train_aupr: float


def production_recipe(params: dict, y: np.ndarray, weight: np.ndarray | None, spec: ProductionSpec) -> LightGBMClassifier:
    """LightGBM with `params`, its class balance decided from the labels it will train on (never
    from rows it will be scored on)."""
    return LightGBMClassifier(params, seed=spec.seed, threads=spec.n_jobs, scale_pos_weight=class_balance(y, weight, spec.balanced))


def auc_bounds(y: np.ndarray, proba: np.ndarray, auc: float, overlap: float) -> dict:
    se = auc_standard_error(y, proba)
    return {"auc_se": se, "auc_lower": auc_lower_bound(auc, se, overlap)}


def block_auc_cv(y: np.ndarray, proba: np.ndarray, blocks: int = HOLDOUT_BLOCKS) -> float:
    """The holdout's stability: std / mean of the AUC over `blocks` consecutive blocks of it (in time
    order), the holdout's counterpart of the folds' CV(AUC); blocks holding one class are skipped
    (NaN when fewer than two remain)."""
    aucs = [roc_auc_score(y[part], proba[part]) for part in np.array_split(np.arange(len(y)), blocks) if len(np.unique(y[part])) == 2]
    if len(aucs) < 2:
        return float("nan")
    return float(np.std(aucs) / np.mean(aucs))


def train_production_model(
    data: TrainingData, params: dict, holdout_start: pd.Timestamp | None, spec: ProductionSpec, *, overlap: float = 1.0
) -> ProductionModel:
    """The recipe (LightGBM with `params`, weights and class balance per `spec`) on the development
    events (before `holdout_start`; None: every event): purged CV gives out-of-fold predictions, the
    calibrator is chosen and fitted on them (`calibration`), and the out-of-fold metrics are read on
    its cross-fitted probabilities; the same recipe fitted on development and calibrated is scored
    once on the holdout. Class balance is decided from the development events only, so nothing about
    the holdout's labels reaches its model. Then the recipe is fitted on every event (balanced from
    every event) and keeps the development calibration. `overlap`: the mean number of labels sharing
    a bar (1 / mean uniqueness), what the AUC bounds widen by."""
    weight = data.weight if spec.sample_weights else None
    if holdout_start is None:
        development, rows = np.arange(len(data.y)), None
    else:
        development, rows = purged_holdout(data.t1, holdout_start)
    dev = data.take(development)
    dev_weight = None if weight is None else weight[development]
    dev_recipe = production_recipe(params, dev.y, dev_weight, spec)
    dev_spw = dev_recipe.scale_pos_weight

    oof = calibrate_out_of_fold(
        dev_recipe, dev.X, dev.y, dev_weight, dev.purged_splits(spec.n_splits, spec.embargo_pct), threads=spec.n_jobs
    )
    calibration = oof.calibration
    oof_metrics = {
        **{k: getattr(oof.metrics, k) for k in OOF_KEPT},
        **auc_bounds(dev.y[oof.rows], oof.proba, oof.metrics.auc, overlap),
        "n_samples": len(oof.rows),
    }

    holdout = None
    if rows is not None:
        label = f"holdout events (holdout from {holdout_start})"
        scored = score_holdout(dev_recipe, data.X, data.y, weight, development, rows, label=label, scorer=lambda y, p: None)
        proba = calibration.apply(scored.proba)
        y_holdout = data.y[rows]
        metrics = fold_metrics(y_holdout, proba)
        ts = data.t1.index[rows]
        record = {
            **asdict(metrics),
            **against_chance(asdict(metrics)),
            "auc_cv": block_auc_cv(y_holdout, proba),
            "n_samples": len(rows),
            "development_samples": len(development),
            "date_range": [str(ts.min()), str(ts.max())],
            **auc_bounds(y_holdout, proba, metrics.auc, overlap),
        }
        holdout = HoldoutResult(scored, proba, record, rows, calibration)

    recipe = production_recipe(params, data.y, weight, spec)
    spw = recipe.scale_pos_weight
    fitted = fit(recipe, data.X, data.y, weight)
    model = CalibratedClassifier(fitted, calibration)
    proba = model.predict_proba(data.X)[:, 1]
    booster = fitted.booster_
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
        development_scale_pos_weight=dev_spw,
        calibration=calibration,
        oof_metrics=oof_metrics,
        holdout=holdout,
        importance=importance,
        train_auc=float(roc_auc_score(data.y, proba)),
        train_aupr=float(average_precision_score(data.y, proba)),
    )
