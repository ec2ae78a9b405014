"""LightGBM hyperparameters by Optuna on purged CV, with sample weights.

Trials score through the one engine (`evaluation.score_folds`): each fold's training data
is binned once per study and reused by every trial. After each fold (a callback of the engine) a
trial is pruned when a rule says the parameters are hopeless: a fold AUC below `min_auc`, a fold
Brier above `max_brier`, or (from the third fold) fold AUCs varying more than `max_auc_cv`. One
study per partition lives in persistent storage and is resumed after a crash or a re-run:
finished trials are kept, a trial left running is failed.

With `early_stopping` (the default) each fold stops boosting when the loss on a purged slice at
the end of its training rows stops improving (`evaluation.EarlyStopping`); `n_estimators` is then
the cap a trial may use, and the tuned value is the median of the rounds the best trial's folds
kept. Overfitting trials end early instead of running their 800 rounds; None is the exact search.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
from tb_assets.core.modeling.evaluation import EarlyStopping, Folds, score_folds
from tb_assets.core.modeling.metrics import CVMetrics, FoldMetrics, auc_objective, composite_score, fold_metrics, summarize
from tb_assets.storage.databases import first_use

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class PruningRules:
    min_auc: float = 0.54
    max_brier: float = 0.26
    max_auc_cv: float = 0.20
    cv_after_folds: int = 3

    def broken(self, folds) -> str | None:
        """The first rule the folds so far break, or None."""
        last = folds[-1]
        if last.auc < self.min_auc:
            return "min_auc"
        if last.brier > self.max_brier:
            return "max_brier"
        if len(folds) >= self.cv_after_folds:
            aucs = np.array([f.auc for f in folds])
            if aucs.std() / aucs.mean() > self.max_auc_cv:
                return "max_auc_cv"
        return None

    def advice(self, rule: str) -> str:
        return {
            "min_auc": f"a fold AUC was below min_auc={self.min_auc}: lower min_auc (a weak signal is still a signal) or add features",
            "max_brier": f"a fold Brier score was above max_brier={self.max_brier}: raise max_brier",
            "max_auc_cv": f"fold AUCs varied more than max_auc_cv={self.max_auc_cv} (coefficient of variation): raise max_auc_cv",
        }[rule]


def suggest(trial: optuna.Trial, max_min_child: int = 500) -> dict:
    max_depth = trial.suggest_int("max_depth", 3, 10)
    return {
        "max_depth": max_depth,
        "num_leaves": trial.suggest_int("num_leaves", 15, 127),  # capped at 2^max_depth when used
        "min_child_samples": trial.suggest_int("min_child_samples", 20, max(21, max_min_child)),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 100, 800),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-4, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-4, 10.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
    }


def pruning_callback(trial: optuna.Trial, rules: PruningRules):
    """The scoring engine's per-fold hook for one trial: report the fold AUC, prune when a rule breaks."""

    def on_fold(k: int, scores: list[FoldMetrics]) -> None:
        trial.report(scores[-1].auc, k)
        broken = rules.broken(scores)
        if broken is not None:
            trial.set_user_attr("pruned_by", broken)
            trial.set_user_attr("pruned_at_fold", k)
            raise optuna.TrialPruned(f"{broken} at fold {k}")

    return on_fold


class AllTrialsPruned(TbError):
    """No trial completed: the message says which rule pruned them and how to relax it."""

    def __init__(self, message: str, study: optuna.Study, counts: dict, pruned_by: dict):
        super().__init__(message)
        self.study, self.counts, self.pruned_by = study, counts, pruned_by


@dataclass
class TuningResult:
    params: dict
    metrics: CVMetrics
    score: float
    study: optuna.Study
    counts: dict = field(default_factory=dict)  # complete / pruned / failed
    pruned_by: dict = field(default_factory=dict)
    importance: dict = field(default_factory=dict)
    restarted: str | None = None  # why the stored study was started afresh, if it was
    fingerprint: str | None = None  # of the problem the study's trials were scored on (problem_fingerprint)


def problem_fingerprint(X: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None, splits, **settings) -> str:
    """SHA-256 of everything a trial's score depends on except its params: the rows, labels,
    weights, folds and scoring settings. A study only resumes on the same problem."""
    h = hashlib.sha256()
    h.update(json.dumps([list(X.columns), settings], sort_keys=True, default=str).encode())
    for part in (X.to_numpy("float64"), np.asarray(y), np.zeros(0) if weight is None else np.asarray(weight, "float64")):
        h.update(np.ascontiguousarray(part).tobytes())
    for train, test in splits:
        h.update(np.asarray(train, "int64").tobytes() + b"|" + np.asarray(test, "int64").tobytes())
    return h.hexdigest()


SCHEMA_LOCK = 0x74625F6F  # PostgreSQL advisory lock id guarding Optuna's table creation ("tb_o")


def rdb_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage at `url`. Optuna creates its tables on first use, and processes doing so
    at once on a fresh database collide ("table studies already exists", "UNIQUE constraint failed:
    alembic_version" on SQLite; duplicate key in pg_type on PostgreSQL): see core.database."""
    with first_use(url, SCHEMA_LOCK):
        if url.startswith("sqlite"):
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        return optuna.storages.RDBStorage(url)


def open_study(storage: str, name: str, *, resume: bool, seed: int, fingerprint: str | None = None) -> tuple[optuna.Study, str | None]:
    """The partition's study: resumed (stale RUNNING trials failed) or started afresh. A study
    made for another problem (different data, features, folds or scoring) is started afresh too,
    since its trials' scores are not comparable. Returns the study and why it restarted, if it did."""
    rdb = rdb_storage(storage)
    restarted = None
    try:
        existing = optuna.load_study(study_name=name, storage=rdb)
    except KeyError:
        existing = None
    if existing is not None:
        previous = existing.user_attrs.get("fingerprint")
        if not resume:
            restarted = "resume=False"
        elif fingerprint is not None and previous != fingerprint:
            restarted = "the data, features, folds or scoring changed since its trials ran"
        if restarted:
            optuna.delete_study(study_name=name, storage=rdb)
    study = optuna.create_study(
        study_name=name,
        storage=rdb,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
    )
    if fingerprint is not None and study.user_attrs.get("fingerprint") != fingerprint:
        study.set_user_attr("fingerprint", fingerprint)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # left running by a crashed process: nobody will finish it
        rdb.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    return study, restarted


@dataclass(frozen=True)
class TuningSpec:
    """How a study runs (the best_params asset's config as plain values)."""

    storage: str  # Optuna storage URL
    study_name: str
    n_trials: int = 20
    timeout: float | None = None
    n_jobs: int = 1  # trials at once (parallel trials sample non-deterministically)
    objective: str = "composite"  # or 'auc' (mean fold AUC minus variance_penalty x its std)
    variance_penalty: float = 1.0
    rules: PruningRules = PruningRules()
    resume: bool = True
    seed: int = 0
    threads: int = 1  # folds fitted side by side within a trial
    early_stopping: EarlyStopping | None = None  # needs the labels' t1
    thin: int = 1  # fit each fold on every thin-th training row (evaluation.Folds); params stay in all-row units
    # called after each complete or pruned trial with (the study's problem fingerprint, the trial's number,
    # its out-of-fold predictions of X's rows, NaN where a pruned trial never got): the strategy layer needs
    # every trial's out-of-sample returns (PBO) and Sharpe ratios (the DSR's variance), so they are kept
    keep_predictions: Callable[[str, int, np.ndarray], None] | None = None


def tune(
    X: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None, splits, spec: TuningSpec, *, t1: pd.Series | None = None
) -> TuningResult:
    """Run the study until it holds `spec.n_trials` finished (complete or pruned) trials. Early
    stopping needs `t1` (label ends indexed by starts, aligned with X) to purge its validation slices."""
    storage, study_name, n_trials, timeout, n_jobs = spec.storage, spec.study_name, spec.n_trials, spec.timeout, spec.n_jobs
    objective, variance_penalty, rules, resume, seed = spec.objective, spec.variance_penalty, spec.rules, spec.resume, spec.seed
    threads, early_stopping, thin = spec.threads, spec.early_stopping, spec.thin
    if objective not in ("composite", "auc"):
        raise TbError(f"unknown objective {objective!r}: use 'composite' or 'auc'")
    # binned once, reused by every trial
    folds = Folds.build(X, y, weight, splits, threads=1, early_stopping=early_stopping, t1=t1, thin=thin)
    max_min_child = min(500, folds.min_train // 5)
    fingerprint = problem_fingerprint(
        X,
        y,
        weight,
        splits,
        objective=objective,
        variance_penalty=variance_penalty,
        rules=rules,
        seed=seed,
        early_stopping=early_stopping,
        thin=thin,
    )
    study, restarted = open_study(storage, study_name, resume=resume, seed=seed, fingerprint=fingerprint)

    def keep(number: int, predicted: list[np.ndarray]) -> None:
        """Hand a trial's out-of-fold predictions over (NaN on the rows of folds it never reached)."""
        if spec.keep_predictions is None or not predicted:
            return
        out = np.full(len(y), np.nan)
        for k, prediction in enumerate(predicted):  # every fold has both classes (else score_folds raised), so k is fold k
            out[folds.splits[k][1]] = prediction
        spec.keep_predictions(fingerprint, number, out)

    def run_trial(trial: optuna.Trial) -> float:
        params = suggest(trial, max_min_child)
        # the folds fit side by side, one LightGBM thread each: the same numbers as one fold at a time
        # with every thread, sooner (small fits leave threads idle); trials stay sequential and repeatable
        model = LightGBMClassifier(folds.per_thinned_row(params), seed=seed, threads=1)
        predicted: list[np.ndarray] = []  # each scored fold's predictions, in fold order (a pruned trial keeps its folds' too)

        def scored(y_test: np.ndarray, prediction: np.ndarray):
            predicted.append(prediction)
            return fold_metrics(y_test, prediction)

        try:
            scores = score_folds(model, folds, scorer=scored, on_fold=pruning_callback(trial, rules), parallel=threads)
        except optuna.TrialPruned:
            keep(trial.number, predicted)
            raise
        keep(trial.number, predicted)
        m = summarize([f.score for f in scores])
        trial.set_user_attr("metrics", m.as_dict())
        if early_stopping is not None:
            trial.set_user_attr("rounds_kept", [f.iterations for f in scores])
        return composite_score(m) if objective == "composite" else auc_objective(m, variance_penalty)

    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    remaining = max(0, n_trials - len(finished))
    if remaining:
        study.optimize(run_trial, n_trials=remaining, timeout=timeout, n_jobs=n_jobs, gc_after_trial=False)
    trials = study.get_trials(deepcopy=False)
    counts = Counter(t.state.name.lower() for t in trials)
    pruned_by = Counter(t.user_attrs.get("pruned_by", "other") for t in trials if t.state == TrialState.PRUNED)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        reasons = "; ".join(
            f"{n} trial(s): {rules.advice(rule)}" if rule in ("min_auc", "max_brier", "max_auc_cv") else f"{n}: {rule}"
            for rule, n in pruned_by.most_common()
        )
        raise AllTrialsPruned(
            f"every trial of study {study_name!r} was pruned or failed ({dict(counts)}). {reasons}", study, dict(counts), dict(pruned_by)
        )
    best = study.best_trial
    params = {**best.params}
    params["num_leaves"] = min(params["num_leaves"], 2 ** params["max_depth"])
    kept = best.user_attrs.get("rounds_kept")
    if kept:  # early stopping: the rounds its folds kept, not the cap it searched
        params["n_estimators"] = max(1, int(np.median(kept)))
    metrics = best.user_attrs["metrics"]
    cvm = CVMetrics(**{**metrics, "folds": tuple(FoldMetrics(**f) for f in metrics["folds"])})
    importance: dict = {}
    if len(complete) >= 2:
        try:
            importance = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError, ZeroDivisionError):
            importance = {}  # too few distinct trials to tell
    return TuningResult(
        params=params,
        metrics=cvm,
        score=float(best.value),
        study=study,
        counts=dict(counts),
        pruned_by=dict(pruned_by),
        importance=importance,
        restarted=restarted,
        fingerprint=fingerprint,
    )


def fold_of_rows(splits, n_rows: int) -> np.ndarray:
    """The fold that tests each row (-1 for a row no fold tests)."""
    out = np.full(n_rows, -1, dtype=np.int64)
    for k, (_, test) in enumerate(splits):
        out[test] = k
    return out


def storage_url(path) -> str:
    return f"sqlite:///{path}"
