"""One experiment: for each algorithm, its grid scored on the partition's validation, every
combination registered, the best (or all) fitted on all rows and saved with its importances.

The rows are the chain's (`problem`: the targets table's labels, their uniqueness weights and
label ends), and so is the untouched holdout: the events from the same boundary selected_features
draws (the last `holdout_pct` of the partition's events), purged. Validation runs on the
development rows only; each cohort's best is then fitted on development and scored once on the
holdout, beside its CV scores in its registry row, before it is fitted on every row and saved.

Every fit goes through the one scoring engine (evaluation.score_folds), weighted. The
preprocessing of each fold (training/preprocess) is fitted on that fold's training rows only and
shared by every combination of the grid, so LightGBM and XGBoost also bin each fold once for the
whole grid. Combinations whose fingerprint is already in the registry are not trained again.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.cv import holdout_start, purged_holdout
from tb_assets.core.modeling.estimators.contract import fit, native_model_file
from tb_assets.core.modeling.estimators.preprocessed import preprocessed
from tb_assets.core.modeling.evaluation import Folds, score_folds, score_holdout
from tb_assets.core.modeling.leakage import permuted_label_scores
from tb_assets.core.modeling.metrics import PRIMARY, classification_scores, mean_scores, regression_scores
from tb_assets.core.modeling.training_data import training_data
from tb_assets.storage.artifacts import write_atomic
from tb_assets.training.preprocess import InheritedPruning, build_preprocessor, output_features
from tb_assets.training.problem import CLASSIFICATION_TARGETS, TIE_POLICIES, TRANSFORMS, Problem, build_problem
from tb_assets.training.registry import ModelRegistry, ModelRow
from tb_assets.training.search import adapt_alphas, combinations, fingerprint, grid_for, strongest_correlation
from tb_assets.training.validation import Splits, validation_splits
from tb_assets.training.zoo import ALGORITHMS, Algorithm, algorithm

# name -> module: versions come from the modules, since the distribution's name differs by platform
# (Linux installs xgboost as `xgboost-cpu`)
LIBRARIES = {"scikit-learn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost", "shap": "shap", "numpy": "numpy", "pandas": "pandas"}


def library_versions() -> dict[str, str]:
    import importlib

    return {name: importlib.import_module(module).__version__ for name, module in LIBRARIES.items()}


PROGRESS_LINES = 20  # per cohort at most (about): a full grid has 17-19k combinations, each log line an event
# bump when a change makes models trained before it incomparable (zoo-2: the chain's rows, weights and holdout)
CODE_VERSION = "zoo-2"
HOLDOUT_PCT = 0.2  # selected_features' default: the same boundary, so the chain's and the zoo's holdouts are one


@dataclass(frozen=True)
class ExperimentSpec:
    """What one materialization of model_experiments runs (the asset's config as plain values)."""

    symbol: str
    timeframe: str
    algorithms: tuple[str, ...] = tuple(ALGORITHMS)
    grid: str = "quick"
    grids: dict = field(default_factory=dict)  # algorithm -> {param: [values]}: replaces the preset
    target_transform: str = "log_return"
    classification_target: str = "direction"
    direction_ties: str = "up"  # a direction outcome of exactly 0: 'up' (labelled 1, the >= rule) or 'drop' (not a row)
    validation: str = "auto"
    holdout_pct: float = HOLDOUT_PCT
    n_splits: int = 5
    embargo_pct: float = 0.01
    p_value_threshold: float | None = 0.05
    save_all_grid_models: bool = False
    n_jobs: int = 2
    seed: int = 0
    parent_model_id: int | None = None
    feature_whitelist: tuple[str, ...] | None = None
    permutation_repeats: int = 5
    permutation_rows: int = 500
    shap_rows: int = 200

    @classmethod
    def from_dict(cls, doc: dict) -> ExperimentSpec:
        """The spec saved as JSON (experiments.json), with its tuples back."""
        known = {f.name for f in fields(cls)}
        doc = {k: v for k, v in doc.items() if k in known}  # e.g. `lookforward` of a zoo-1 report: now the targets asset's
        doc["algorithms"] = tuple(doc["algorithms"])
        if doc.get("feature_whitelist") is not None:
            doc["feature_whitelist"] = tuple(doc["feature_whitelist"])
        return cls(**doc)

    def target(self, task: str) -> str:
        return self.target_transform if task == "regression" else self.classification_target

    def data_options(
        self, validation_used: str, lookforward: int, holdout_start: pd.Timestamp | None, lineage: tuple[InheritedPruning, ...] = ()
    ) -> dict:
        return {
            "validation": validation_used,
            "n_splits": self.n_splits,
            "embargo_pct": self.embargo_pct,
            "p_value_threshold": self.p_value_threshold,
            "lookforward": lookforward,
            "seed": self.seed,
            "holdout_pct": self.holdout_pct,
            "holdout_start": None if holdout_start is None else holdout_start.isoformat(),
            "sample_weights": "uniqueness",
            # only when set, so the fingerprints of models trained without them stay what they were
            **({"lineage": [stage.as_dict() for stage in lineage]} if lineage else {}),  # the ancestors' pruning, replayed in each fold
            **({"direction_ties": self.direction_ties} if self.direction_ties != "up" else {}),
        }


@dataclass
class Cohort:
    algorithm: str
    task: str
    cohort_id: str | None  # None when nothing new was trained
    grid_size: int
    trained: int
    skipped: int  # already in the registry
    models: list[ModelRow]  # the grid's rows (new and found), best first
    validation: str
    notes: list[str] = field(default_factory=list)
    cv_results: pd.DataFrame | None = None

    @property
    def best(self) -> ModelRow:
        return self.models[0]


@dataclass
class ExperimentResult:
    cohorts: list[Cohort]
    features: list[str]
    feature_source: str  # 'catalog', 'parent N', 'whitelist'

    @property
    def trained(self) -> int:
        return sum(c.trained for c in self.cohorts)

    @property
    def skipped(self) -> int:
        return sum(c.skipped for c in self.cohorts)


def check_spec(spec: ExperimentSpec) -> list[Algorithm]:
    """The algorithms to run; a clear error for each thing in the spec that cannot run."""
    if not spec.algorithms:
        raise TbError("algorithms is empty: name at least one of " + ", ".join(ALGORITHMS))
    algos = [algorithm(name) for name in dict.fromkeys(spec.algorithms)]
    unknown = sorted(set(spec.grids) - set(ALGORITHMS))
    if unknown:
        raise TbError(f"grids names unknown algorithm(s) {', '.join(unknown)}: choose from {', '.join(ALGORITHMS)}")
    for a in algos:
        grid_for(a.name, spec.grid, spec.grids)
    if spec.target_transform not in TRANSFORMS:
        raise TbError(f"target_transform must be one of {', '.join(TRANSFORMS)}, got {spec.target_transform!r}")
    if spec.classification_target not in CLASSIFICATION_TARGETS:
        raise TbError(f"classification_target must be one of {', '.join(CLASSIFICATION_TARGETS)}, got {spec.classification_target!r}")
    if spec.direction_ties not in TIE_POLICIES:
        raise TbError(f"direction_ties must be one of {', '.join(TIE_POLICIES)}, got {spec.direction_ties!r}")
    if not 0.0 <= spec.holdout_pct < 1.0:
        raise TbError(f"holdout_pct must be in [0, 1), got {spec.holdout_pct}")
    if spec.p_value_threshold is not None and not 0.0 < spec.p_value_threshold <= 1.0:
        raise TbError(f"p_value_threshold must be in (0, 1] or null, got {spec.p_value_threshold}")
    return algos


def lineage_of(row: ModelRow) -> tuple[InheritedPruning, ...]:
    """The ancestors' pruning `row`'s model replays in each fold (its data options say; none for a root)."""
    return tuple(InheritedPruning.from_dict(d) for d in (row.data_options or {}).get("lineage", []))


def choose_features(
    spec: ExperimentSpec, catalog: list[str], registry: ModelRegistry
) -> tuple[list[str], str, tuple[InheritedPruning, ...]]:
    """The features this experiment may use, where they came from, and the pruning it inherits: the
    whitelist when given, else the parent's input features (those still in the catalog) with the
    parent's and its ancestors' pruning to replay inside each fold, else the whole catalog."""
    if spec.feature_whitelist is not None:
        missing = [f for f in spec.feature_whitelist if f not in catalog]
        if missing:
            raise TbError(
                f"feature_whitelist names feature(s) not in {spec.symbol}|{spec.timeframe}'s feature matrix: {', '.join(missing)}"
            )
        if not spec.feature_whitelist:
            raise TbError("feature_whitelist is empty: give at least one feature, or leave it unset")
        return list(dict.fromkeys(spec.feature_whitelist)), "whitelist", ()
    if spec.parent_model_id is not None:
        parent = registry.get(spec.parent_model_id)
        if (parent.symbol, parent.timeframe) != (spec.symbol, spec.timeframe):
            raise TbError(
                f"parent_model_id {parent.id} was trained on {parent.partition}, not {spec.symbol}|{spec.timeframe}: "
                "a parent must come from the same partition"
            )
        # not the features the parent kept after pruning on all its rows (those rows include this
        # experiment's test folds): its inputs, and its pruning replayed on each fold's training rows
        inputs = [f for f in catalog if f in set(parent.features)]
        if not inputs:
            raise TbError(f"parent model {parent.id} used none of this partition's current features")
        inherited = lineage_of(parent)
        own = InheritedPruning(parent.id, algorithm(parent.algorithm).linear, (parent.data_options or {}).get("p_value_threshold"))
        return inputs, f"parent {parent.id}", (*inherited, own)
    return list(catalog), "catalog", ()


def fold_scores(problem: Problem, test: np.ndarray, prediction: np.ndarray) -> dict:
    """A fold's scores; for a direction target with ties labelled up, also the share of tied
    outcomes and the AUC on the untied ones (`auc_untied`): a model that only predicts when the
    price stands still (volatility) scores AUC above 0.5 with ties and about 0.5 without."""
    if problem.task == "regression":
        return regression_scores(problem.y[test], prediction, problem.close[test], problem.future_close[test], problem.target)
    scores = classification_scores(problem.y[test], prediction)
    if problem.ties is not None:
        from sklearn.metrics import roc_auc_score

        untied = ~problem.ties[test]
        y = problem.y[test][untied]
        scores["tie_rate"] = float(1.0 - untied.mean())
        scores["auc_untied"] = float(roc_auc_score(y, prediction[untied])) if len(np.unique(y)) == 2 else float("nan")
    return scores


@dataclass
class PreparedFold:
    """One validation fold with its preprocessing fitted on its training rows only."""

    preprocessor: object
    folds: Folds  # the transformed rows, one (train, test) split: binned once, reused by the grid
    test: np.ndarray  # positions of the test rows in the problem


def prepare_folds(
    problem: Problem,
    splits: Splits,
    groups: dict[str, str],
    *,
    linear: bool,
    p_value_threshold: float | None,
    threads: int,
    lineage: tuple[InheritedPruning, ...] = (),
) -> list[PreparedFold]:
    X = problem.X.to_numpy("float64")
    out = []
    for train, test in splits:
        pre = build_preprocessor(
            problem.features, groups, linear=linear, task=problem.task, p_value_threshold=p_value_threshold, lineage=lineage
        )
        pre.fit(X[train], problem.y[train])
        rows = np.vstack([pre.transform(X[train]), pre.transform(X[test])])
        y = np.concatenate([problem.y[train], problem.y[test]])
        weight = np.concatenate([problem.weight[train], problem.weight[test]])  # the labels' uniqueness, as the chain trains
        split = (np.arange(len(train)), np.arange(len(train), len(train) + len(test)))
        out.append(PreparedFold(pre, Folds.build(rows, y, weight, [split], bin_now=False, threads=threads), test))
    return out


@dataclass
class Scored:
    params: dict
    fingerprint: str
    folds: list[dict]
    metrics: dict
    fit_seconds: float
    notes: str | None


def score_combination(estimator, prepared: list[PreparedFold], problem: Problem) -> tuple[list[dict], str | None]:
    """Per-fold scores of one combination and what to note on its row (ElasticNet's OLS fallback,
    a solver that stopped at its iteration cap). No fitted model is kept: a full grid has thousands."""
    from sklearn.exceptions import ConvergenceWarning

    per_fold, fallbacks, capped = [], 0, 0
    for fold in prepared:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            (scored,) = score_folds(estimator, fold.folds, scorer=lambda y, p: None, keep_models=True)
        capped += any(issubclass(w.category, ConvergenceWarning) for w in caught)
        for w in caught:  # anything else is passed on as it came
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        per_fold.append(fold_scores(problem, fold.test, scored.prediction))
        fallbacks += getattr(scored.model, "fallback_", None) == "ols"
    notes = []
    if fallbacks:
        notes.append(f"ElasticNet zeroed every coefficient in {fallbacks} of {len(prepared)} folds: OLS used there")
    if capped:
        notes.append(f"the solver stopped at its iteration cap in {capped} of {len(prepared)} folds")
    return per_fold, "; ".join(notes) or None


def cv_results(scored: list[Scored], metric_names: list[str], primary: str) -> pd.DataFrame:
    """scikit-learn's cv_results_ layout: params, param_<name>, split<k>_test_<metric>,
    mean_test_<metric>, std_test_<metric>, rank_test_<primary>, mean_fit_time."""
    rows = []
    for s in scored:
        row = {
            "params": repr(s.params),
            **{f"param_{k}": v for k, v in s.params.items()},
            "mean_fit_time": s.fit_seconds,
            "fingerprint": s.fingerprint,
        }
        for name in metric_names:
            for k, fold in enumerate(s.folds):
                row[f"split{k}_test_{name}"] = fold[name]
            row[f"mean_test_{name}"] = s.metrics[name]
            row[f"std_test_{name}"] = s.metrics[f"{name}_std"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table[f"rank_test_{primary}"] = table[f"mean_test_{primary}"].rank(ascending=False, method="min").astype("int64")
    return table


@dataclass
class TaskRows:
    """One task's rows and how they are validated: CV on the development rows, the holdout untouched."""

    problem: Problem  # every row: what a saved model is fitted on
    development: np.ndarray  # positions of the development rows (purged against the holdout)
    holdout: np.ndarray  # positions of the holdout rows (empty with holdout_pct 0)
    validation: str  # the validation used
    splits: Splits  # on the development rows

    @property
    def dev(self) -> Problem:
        return self.problem.take(self.development)


def recipe(
    algo: Algorithm,
    params: dict,
    spec: ExperimentSpec,
    features: list[str],
    groups: dict[str, str],
    lineage: tuple[InheritedPruning, ...] = (),
):
    """A combination as one estimator: its preprocessing (the inherited pruning, then its own, fitted
    on whatever rows it is fitted on) and its model, through the project's contract (weights reach
    the model)."""
    pre = build_preprocessor(
        features, groups, linear=algo.linear, task=algo.task, p_value_threshold=spec.p_value_threshold, lineage=lineage
    )
    return preprocessed(pre, algo.make(params, spec.seed, spec.n_jobs))


class Experiment:
    """Runs an ExperimentSpec against one partition's data and the registry."""

    def __init__(
        self,
        spec: ExperimentSpec,
        *,
        bars: pd.DataFrame,
        features: pd.DataFrame,
        targets: pd.DataFrame,
        catalog: list[str],
        groups: dict[str, str],
        registry: ModelRegistry,
        model_folder: Callable[[str], Path],
        progress: Callable[[str], None] | None = None,
    ):
        self.spec, self.bars, self.features, self.targets = spec, bars, features, targets
        self.catalog, self.groups, self.registry, self.model_folder = catalog, groups, registry, model_folder
        self.progress = progress or (lambda line: None)
        self._rows: dict[tuple, TaskRows] = {}
        self._prepared: dict[tuple, list[PreparedFold]] = {}
        self.lineage: tuple[InheritedPruning, ...] = ()  # the ancestors' pruning (choose_features), set by run()

    @cached_property
    def holdout_start(self) -> pd.Timestamp | None:
        """Where the untouched holdout starts: the boundary selected_features draws on the same events
        (the last holdout_pct of them), so the chain and the zoo keep the same rows out."""
        if self.spec.holdout_pct == 0:
            return None
        events = training_data(self.features, self.targets, self.catalog[:1])  # the join's rows do not depend on names
        return holdout_start(events.t1, self.spec.holdout_pct)

    def rows(self, task: str, names: list[str]) -> TaskRows:
        """The task's samples on `names`, split at the holdout, and the validation of the development rows (made once)."""
        key = (task, tuple(names))
        if key not in self._rows:
            s = self.spec
            problem = build_problem(self.bars, self.features, self.targets, names, task=task, target=s.target(task), ties=s.direction_ties)
            if self.holdout_start is None:
                development, holdout = np.arange(len(problem.y)), np.array([], dtype="int64")
            else:
                development, holdout = purged_holdout(problem.t1, self.holdout_start)
            used, splits = validation_splits(problem.take(development), s.validation, s.n_splits, s.embargo_pct)
            self._rows[key] = TaskRows(problem, development, holdout, used, splits)
        return self._rows[key]

    def prepared(self, task: str, names: list[str], linear: bool) -> list[PreparedFold]:
        """The folds of the development rows preprocessed for linear models or for trees (made once)."""
        key = (task, tuple(names), linear)
        if key not in self._prepared:
            rows = self.rows(task, names)
            self._prepared[key] = prepare_folds(
                rows.dev,
                rows.splits,
                self.groups,
                linear=linear,
                p_value_threshold=self.spec.p_value_threshold,
                threads=self.spec.n_jobs,
                lineage=self.lineage,
            )
        return self._prepared[key]

    def run(self) -> ExperimentResult:
        algos = check_spec(self.spec)
        names, source, self.lineage = choose_features(self.spec, self.catalog, self.registry)  # build_problem refuses raw prices
        cohorts = []
        for i, algo in enumerate(algos, 1):
            self.progress(f"[{i}/{len(algos)}] {algo.name}")
            cohorts.append(self.run_cohort(algo, names))
        return ExperimentResult(cohorts, names, source)

    def sentinel(self, row: ModelRow, seed: int = 0) -> dict:
        """{score name: its mean over folds} of `row`'s recipe (its features, preprocessing, params,
        weights and this experiment's validation) with the target permuted: the chain's sentinel
        (leakage.permuted_label_scores), so what a model scores with nothing to learn."""
        algo = algorithm(row.algorithm)
        rows = self.rows(algo.task, row.features)
        dev = rows.dev
        scores = permuted_label_scores(
            recipe(algo, row.params, self.spec, row.features, self.groups, lineage_of(row)),
            dev.X,
            dev.y,
            dev.weight,
            rows.splits,
            scorer=primary_metric(algo.task),
            seed=seed,
        )
        return {PRIMARY[algo.task]: float(np.mean(scores))}

    def score_holdout(self, algo: Algorithm, rows: TaskRows, params: dict) -> dict | None:
        """The combination fitted on the development rows and scored once on the untouched holdout
        (None without one): what a cohort's best reports beside its CV scores."""
        if not len(rows.holdout):
            return None
        problem = rows.problem
        scored = score_holdout(
            recipe(algo, params, self.spec, problem.features, self.groups, self.lineage),
            problem.X,
            problem.y,
            problem.weight,
            rows.development,
            rows.holdout,
            label=f"holdout events (from {self.holdout_start})",
            scorer=lambda y, prediction: fold_scores(problem, rows.holdout, prediction),
            setting="holdout_pct on model_experiments",
        )
        return {
            **scored.metrics,
            "n_samples": int(len(rows.holdout)),
            "start": self.holdout_start.isoformat(),
        }

    def _fingerprint(self, algo: Algorithm, problem: Problem, options: dict, version_: str, params: dict) -> str:
        s = self.spec
        return fingerprint(
            symbol=s.symbol,
            algorithm=algo.name,
            target=problem.target,
            timeframe=s.timeframe,
            transform=s.target_transform if algo.task == "regression" else "none",
            data_options=options,
            features=problem.features,
            params=params,
            data_version=version_,
        )

    def run_cohort(self, algo: Algorithm, names: list[str]) -> Cohort:
        s = self.spec
        task_rows = self.rows(algo.task, names)
        problem, dev, validation_used, splits = task_rows.problem, task_rows.dev, task_rows.validation, task_rows.splits
        grid = grid_for(algo.name, s.grid, s.grids)
        notes = []
        if problem.tie_rate > 0:
            notes.append(
                f"{problem.tie_rate:.1%} of direction outcomes are exact ties, labelled up: auc_untied is the AUC "
                "without them (direction_ties: drop leaves them out)"
            )
        if problem.ties_dropped:
            notes.append(f"{problem.ties_dropped} tied direction outcomes dropped (direction_ties: drop)")
        if algo.name == "elasticnet_regression":
            first_train = splits[0][0]
            grid, adapted = adapt_alphas(grid, strongest_correlation(dev.X.to_numpy()[first_train], dev.y[first_train]))
            if adapted:
                notes.append("alphas scaled down: no feature correlates with the target by 0.05 or more")
        combos = combinations(grid)
        for params in combos:
            try:
                algo.make(params, s.seed, s.n_jobs)
            except (TypeError, ValueError) as exc:
                raise TbError(f"grids.{algo.name}: {params} cannot make a model: {exc}") from exc
        options = s.data_options(validation_used, problem.lookforward, self.holdout_start, self.lineage)
        data_version = problem.version()
        fps = [self._fingerprint(algo, problem, options, data_version, p) for p in combos]
        found = self.registry.known(fps)
        todo = [(p, fp) for p, fp in zip(combos, fps) if fp not in found]
        self.progress(
            f"    {len(combos)} combination(s): {len(found)} already in the registry, {len(todo)} to train "
            f"({validation_used}, {len(splits)} fold(s) of {len(dev.y):,} development rows; holdout {len(task_rows.holdout):,})"
        )
        scored = []
        if todo:
            prepared = self.prepared(algo.task, names, algo.linear)
            every = max(1, len(todo) // PROGRESS_LINES)
            for j, (params, fp) in enumerate(todo, 1):
                start = time.perf_counter()
                per_fold, note = score_combination(algo.make(params, s.seed, s.n_jobs), prepared, dev)
                scored.append(Scored(params, fp, per_fold, mean_scores(per_fold), time.perf_counter() - start, note))
                primary = PRIMARY[algo.task]
                if j % every == 0 or j == len(todo):
                    best = max(x.metrics[primary] for x in scored)
                    self.progress(f"    {j}/{len(todo)} {params}: {primary} {scored[-1].metrics[primary]:.4f} (best so far {best:.4f})")
        primary = PRIMARY[algo.task]
        order = sorted(range(len(scored)), key=lambda i: -_sortable(scored[i].metrics[primary]))
        cohort_id = uuid.uuid4().hex[:12] if scored else None
        rows = []
        for rank, i in enumerate(order, 1):
            item = scored[i]
            row = ModelRow(
                fingerprint=item.fingerprint,
                symbol=s.symbol,
                timeframe=s.timeframe,
                algorithm=algo.name,
                task=algo.task,
                target=problem.target,
                lookforward=problem.lookforward,
                cohort_id=cohort_id,
                parent_model_id=s.parent_model_id,
                rank_in_cohort=rank,
                score_name=primary,
                score=item.metrics[primary],
                params=item.params,
                features=problem.features,
                used_features=[],
                metrics={**item.metrics, "folds": item.folds, "mean_fit_seconds": item.fit_seconds},
                data_options=options,
                data_version=data_version,
                n_rows=len(problem.y),
                notes="; ".join(filter(None, [item.notes, *notes])) or None,
                code_version=CODE_VERSION,
                library_versions=library_versions(),
            )
            if rank == 1:  # the cohort's choice, made on development rows only, meets the holdout once
                row.metrics["holdout"] = self.score_holdout(algo, task_rows, item.params)
            if s.save_all_grid_models or rank == 1:
                row = self.save_model(algo, task_rows, item, row)
            row.id, created = self.registry.add(row)
            if not created:
                notes.append(f"model {row.id} was saved by another run at the same time")
            rows.append(row)
        if found:
            rows.extend(self.registry.find(ids=found.values()))
        rows.sort(key=lambda r: -_sortable(r.score))
        metric_names = [k for k in (scored[0].folds[0] if scored else {}) if k != "confusion_matrix"]
        table = cv_results(scored, metric_names, primary) if scored else None
        return Cohort(algo.name, algo.task, cohort_id, len(combos), len(scored), len(found), rows, validation_used, notes, table)

    def save_model(self, algo: Algorithm, rows: TaskRows, item: Scored, row: ModelRow) -> ModelRow:
        """Fit the combination on all rows (weighted, through the one fit path), write its files and
        importances; the row with them."""
        import joblib

        problem = rows.problem
        model = fit(recipe(algo, item.params, self.spec, problem.features, self.groups, self.lineage), problem.X, problem.y, problem.weight)
        columns = output_features(model.named_steps["preprocess"], problem.features)
        kept = {feature for _, feature in columns}
        used = [f for f in problem.features if f in kept]  # in the matrix's order
        importance, by_regime = self.importance(algo, rows, model, columns, item)
        folder = self.model_folder(item.fingerprint)
        buf = io.BytesIO()
        joblib.dump(model, buf)
        files = {
            "pipeline.joblib": buf.getvalue(),
            "importance.csv": importance.to_csv(index=False).encode(),
            "shap_regimes.csv": by_regime.to_csv(index=False).encode(),
        }
        native = native_model_file(model.named_steps["model"])
        if native is not None:
            files[native[0]] = native[1]
        artifacts = {}
        for name, data in files.items():
            path = write_atomic(folder / name, data)
            artifacts[name] = {"path": str(path), "sha256": hashlib.sha256(data).hexdigest()}
        return replace(row, used_features=used, artifacts=artifacts)

    def importance(self, algo: Algorithm, rows: TaskRows, model, columns: list[tuple[str, str]], item: Scored):
        """Per input feature: |coefficients| (one-hot columns summed), tree importance, permutation
        importance on the last fold's test rows (with that fold's preprocessing and model, which never
        saw them) and mean |SHAP| of the final model on the most recent rows; SHAP within each regime."""
        from tb_assets.core.modeling.explain import regime_importance
        from tb_assets.core.modeling.importance import (
            columns_of,
            importance_table,
            permutation_importance,
            shap_by_feature,
            tree_importance,
        )

        s = self.spec
        problem, dev = rows.problem, rows.dev
        estimator = model.named_steps["model"]
        final_columns = columns_of(np.array([f for _, f in columns]), problem.features)
        fold = self.prepared(algo.task, problem.features, algo.linear)[-1]
        fold_model = fold.folds.fit(algo.make(item.params, s.seed, s.n_jobs), 0)  # fitted again: the grid keeps no models
        test = fold.test[-s.permutation_rows :]
        fold_columns = columns_of(np.array([f for _, f in output_features(fold.preprocessor, problem.features)]), problem.features)
        permutation = permutation_importance(
            fold_model,
            fold.preprocessor.transform(dev.X.to_numpy("float64")[test]),
            dev.y[test],
            fold_columns,
            primary_metric(problem.task),
            n_repeats=s.permutation_repeats,
            seed=s.seed,
        )
        transformed = model.named_steps["preprocess"].transform(problem.X)
        rows = np.arange(max(0, len(transformed) - s.shap_rows), len(transformed))
        background = transformed[np.random.default_rng(s.seed).choice(len(transformed), min(100, len(transformed)), replace=False)]
        values, explainer = shap_by_feature(estimator, transformed[rows], background, final_columns, threads=s.n_jobs, seed=s.seed)
        regimes = problem.X.iloc[rows][[f for f in problem.features if f.startswith("regime_")]].reset_index(drop=True)
        table = importance_table(
            problem.features,
            coefficients=getattr(estimator, "coef_", None),
            tree=tree_importance(estimator),
            permutation=permutation,
            shap_values=values,
            explainer=explainer,
            columns=final_columns,
        )
        return table, regime_importance(values, problem.features, regimes)


def primary_metric(task: str):
    """The cohort's ranking metric as metric(y, prediction)."""
    from sklearn.metrics import r2_score, roc_auc_score

    return r2_score if task == "regression" else roc_auc_score


def _sortable(value) -> float:
    return -np.inf if value is None or not np.isfinite(value) else float(value)
