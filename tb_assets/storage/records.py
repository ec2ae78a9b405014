"""Typed hand-offs between stages: every artifact file's name, path, schema, load and atomic save.

Files live in <TB_ARTIFACTS_URL>/<asset>/<symbol>/<timeframe>/ (default TB_DATA_DIR/artifacts; any
folder or fsspec URL, DESIGN §3), one version folder per save (storage.versions): a save writes
every file and then the record into a new version, which becomes the one readers open at once or,
when blocking checks guard it, after they passed. No asset or check builds an artifact path by
hand: they load and save these records. No dagster import here.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import pandas as pd
from upath import UPath

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.storage import versions
from tb_assets.storage.artifacts import artifact_dir, read_json
from tb_assets.storage.atomic import replace_atomically
from tb_assets.storage.urls import as_path


class MissingArtifact(TbError):
    """A stage's file is not there: its asset was never materialized (or the file was removed)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(as_path(path).read_bytes()).hexdigest()


def frame_bytes(frame: pd.DataFrame, name: str) -> bytes:
    """A table as Parquet (`*.parquet`) or CSV, by its file name."""
    if name.endswith(".parquet"):
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    return frame.to_csv(index=False).encode()


@dataclass
class _Record:
    """A JSON document of one stage for one partition, and the files beside it in one version folder."""

    ASSET: ClassVar[str]
    FILE: ClassVar[str]

    # the folder this record was read from or written to (a version, or the flat folder of earlier
    # releases): its files are opened there, never in whatever is latest by then. Not a saved field.
    _location: ClassVar[UPath | None] = None

    @classmethod
    def partition_folder(cls, root: Path, symbol: str, timeframe: str) -> UPath:
        """<root>/<asset>/<symbol>/<timeframe>/: the versions and their pointers."""
        return artifact_dir(root, cls.ASSET, symbol, timeframe)

    @classmethod
    def folder(cls, root: Path, symbol: str, timeframe: str) -> UPath:
        """The published version's folder: what readers open."""
        return versions.published_folder(cls.partition_folder(root, symbol, timeframe))

    @classmethod
    def path(cls, root: Path, symbol: str, timeframe: str, name: str | None = None) -> UPath:
        """A file of the published version."""
        return cls.folder(root, symbol, timeframe) / (name or cls.FILE)

    @classmethod
    def exists(cls, root: Path, symbol: str, timeframe: str) -> bool:
        return cls.path(root, symbol, timeframe).exists()

    @classmethod
    def load(cls, root: Path, symbol: str, timeframe: str, *, review: bool = False, version: str | None = None):
        """The published record or, `review=True` (a check), the version under review: the candidate
        awaiting its blocking checks when one waits, else the published one; or the named `version`."""
        partition = cls.partition_folder(root, symbol, timeframe)
        judged = version or (versions.under_review(partition) if review else versions.latest(partition))
        folder = partition if judged is None else versions.version_folder(partition, judged)
        path = folder / cls.FILE
        if not path.exists():
            raise MissingArtifact(f"{symbol}|{timeframe}: {path} is missing: materialize {cls.ASSET} for this partition")
        doc = read_json(path)
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in doc.items() if k in known})
        record._location = folder
        return record

    @property
    def location(self) -> UPath:
        if self._location is None:
            raise TbError(f"this {type(self).__name__} was neither loaded nor saved, so it has no folder")
        return self._location

    @property
    def version(self) -> str | None:
        """The id of the version this record is (None: the flat layout of earlier releases)."""
        folder = self.location
        return folder.name if folder.parent.name == versions.VERSIONS else None

    def file(self, name: str | None = None) -> UPath:
        """One of this record's files, in its own version."""
        return self.location / (name or self.FILE)

    def _parquet(self, name: str) -> pd.DataFrame:
        """A Parquet table of this record's own version; a missing one says which asset to materialize."""
        path = self.file(name)
        if not path.exists():
            raise MissingArtifact(f"{path} is missing: materialize {self.ASSET} for this partition")
        with path.open("rb") as fh:
            return pd.read_parquet(fh)

    def _begin(self, root: Path, symbol: str, timeframe: str) -> UPath:
        """A new, empty version folder that the files of this save go into."""
        self._location = versions.version_folder(self.partition_folder(root, symbol, timeframe), versions.new_id())
        return self._location

    def _write(self, name: str, data: bytes) -> UPath:
        return replace_atomically(self.file(name), data)

    def _write_all(self, tables: dict[str, pd.DataFrame], files: dict[str, bytes]) -> dict[str, UPath]:
        """Each table (Parquet or CSV, by its name) and each file into this record's version; where each went."""
        written = {name: self._write(name, frame_bytes(frame, name)) for name, frame in tables.items()}
        written.update({name: self._write(name, data) for name, data in files.items()})
        return written

    def _finish(self, root: Path, symbol: str, timeframe: str, awaits: list[str] | tuple[str, ...]) -> UPath:
        """The record last (a record never names a file that is not there), then the version goes
        live, or waits as the candidate for the blocking checks `awaits` names."""
        path = self._write(self.FILE, _json(asdict(self)))
        partition = self.partition_folder(root, symbol, timeframe)
        if awaits:
            versions.propose(partition, self.version, list(awaits))
        else:
            versions.publish(partition, self.version)
        return path


def _json(doc) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=False, default=str).encode()


@dataclass
class FeatureCatalog(_Record):
    """The partition's feature list and groups (the features table also holds other partitions' columns)."""

    ASSET: ClassVar[str] = "features"
    FILE: ClassVar[str] = "feature_catalog.json"

    symbol: str
    timeframe: str
    features: list[str]
    groups: dict[str, str]
    context_used: list[str] = field(default_factory=list)
    context_skipped: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    first_ts: str = ""
    last_ts: str = ""

    def save(self, root: Path) -> UPath:
        self._begin(root, self.symbol, self.timeframe)
        return self._finish(root, self.symbol, self.timeframe, awaits=())

    @property
    def regime_columns(self) -> list[str]:
        """Market-state columns (regime_vix, regime_gmm): what SHAP is conditioned on."""
        return [f for f in self.features if f.startswith("regime_")]


@dataclass
class Selection(_Record):
    """selected_features.txt (one name per line, the list later stages use) and selection.json
    (history, the holdout boundary that tuning and the model reuse, sample counts)."""

    ASSET: ClassVar[str] = "selected_features"
    FILE: ClassVar[str] = "selection.json"
    NAMES: ClassVar[str] = "selected_features.txt"

    selected: list[str]
    holdout_pct: float
    holdout_start: str | None
    development_samples: int
    holdout_samples: int
    history: list[dict] = field(default_factory=list)
    scored: int | None = None  # feature sets scored by purged CV (None: selected before it was counted)

    def save(self, root: Path, symbol: str, timeframe: str) -> UPath:
        self._begin(root, symbol, timeframe)
        names = self._write(self.NAMES, ("\n".join(self.selected) + "\n").encode())
        self._finish(root, symbol, timeframe, awaits=())
        return names

    @classmethod
    def load(cls, root: Path, symbol: str, timeframe: str, *, review: bool = False) -> Selection:
        record = super().load(root, symbol, timeframe, review=review)
        record.selected = _names(record.file(cls.NAMES), symbol, timeframe)
        return record

    @classmethod
    def names(cls, root: Path, symbol: str, timeframe: str) -> list[str]:
        """The published selected feature names (the .txt file is the list of record)."""
        return _names(cls.path(root, symbol, timeframe, cls.NAMES), symbol, timeframe)

    @property
    def holdout_start_ts(self) -> pd.Timestamp | None:
        return None if self.holdout_start is None else pd.Timestamp(self.holdout_start)


@dataclass
class TunedParams(_Record):
    """best_params.json (params or, when every trial was pruned, why), trials_history.csv and
    param_importance.json."""

    ASSET: ClassVar[str] = "best_params"
    FILE: ClassVar[str] = "best_params.json"
    HISTORY: ClassVar[str] = "trials_history.csv"
    IMPORTANCE: ClassVar[str] = "param_importance.json"

    params: dict | None
    all_pruned: bool
    features: list[str]
    study: str
    development_samples: int
    holdout_start: str | None
    trials: dict
    message: str | None = None
    objective: str | None = None
    score: float | None = None
    metrics: dict | None = None
    fingerprint: str | None = None  # of the problem the study's trials were scored on: names their predictions' folder

    TRIAL_ROWS: ClassVar[str] = "rows.parquet"

    def save(self, root: Path, symbol: str, timeframe: str, history: pd.DataFrame, importance: dict) -> UPath:
        self._begin(root, symbol, timeframe)
        self._write(self.HISTORY, frame_bytes(history, self.HISTORY))
        self._write(self.IMPORTANCE, _json(importance))
        return self._finish(root, symbol, timeframe, awaits=())

    # Every complete trial's out-of-fold predictions, kept for the strategy layer (its returns enter
    # PBO, its Sharpe ratio the DSR's variance). They belong to the study, not to one version of this
    # record: a resumed study's earlier trials keep theirs, so they live outside the versions, in a
    # folder per problem fingerprint (a restarted study is a new problem; its old folder goes).

    @classmethod
    def trials_folder(cls, root: Path, symbol: str, timeframe: str, fingerprint: str) -> UPath:
        return cls.partition_folder(root, symbol, timeframe) / "trials" / fingerprint[:16]

    @classmethod
    def keep_trial_rows(cls, root: Path, symbol: str, timeframe: str, fingerprint: str, rows: pd.DataFrame) -> None:
        """The rows the trials predicted (`ts`, `t1`, `y`, `fold`), once per problem."""
        path = cls.trials_folder(root, symbol, timeframe, fingerprint) / cls.TRIAL_ROWS
        if not path.exists():
            replace_atomically(path, frame_bytes(rows, cls.TRIAL_ROWS))

    @classmethod
    def keep_trial(cls, root: Path, symbol: str, timeframe: str, fingerprint: str, number: int, predictions) -> None:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(predictions, dtype="float32"))
        replace_atomically(cls.trials_folder(root, symbol, timeframe, fingerprint) / f"trial-{number:05d}.npy", buffer.getvalue())

    @classmethod
    def forget_other_problems(cls, root: Path, symbol: str, timeframe: str, fingerprint: str) -> None:
        """Remove the trial predictions of studies this partition no longer has."""
        folder = cls.partition_folder(root, symbol, timeframe) / "trials"
        if folder.exists():
            for entry in folder.iterdir():
                if entry.name != fingerprint[:16]:
                    versions.remove(entry)

    def trial_predictions(self, root: Path, symbol: str, timeframe: str) -> tuple[pd.DataFrame, dict[int, object]]:
        """(the rows, {trial number: its out-of-fold predictions}) of this record's study; empty when
        its trials were run before predictions were kept."""
        import numpy as np

        if self.fingerprint is None:
            return pd.DataFrame(columns=["ts", "t1", "y", "fold"]), {}
        folder = self.trials_folder(root, symbol, timeframe, self.fingerprint)
        rows_path = folder / self.TRIAL_ROWS
        if not rows_path.exists():
            return pd.DataFrame(columns=["ts", "t1", "y", "fold"]), {}
        rows = pd.read_parquet(io.BytesIO(rows_path.read_bytes()))
        kept = {}
        for path in sorted(folder.glob("trial-*.npy")):
            kept[int(path.stem.split("-")[1])] = np.load(io.BytesIO(path.read_bytes()))
        return rows, kept

    @classmethod
    def chosen(cls, root: Path, symbol: str, timeframe: str) -> tuple[dict, str]:
        """The params the production model trains with, and where they came from."""
        if not cls.exists(root, symbol, timeframe):
            return dict(DEFAULT_PARAMS), "defaults (best_params not materialized)"
        doc = cls.load(root, symbol, timeframe)
        if doc.params is None:
            return dict(DEFAULT_PARAMS), "defaults (every tuning trial was pruned)"
        return doc.params, "best_params"


@dataclass
class ModelCard(_Record):
    """model_metadata.json beside the production model's files: model.txt (LightGBM's text format),
    production_model.pkl, feature_importance.csv and, when there is a holdout, holdout_model.txt (the
    same recipe fitted on development only) and holdout_predictions.parquet (its scores)."""

    ASSET: ClassVar[str] = "production_model"
    FILE: ClassVar[str] = "model_metadata.json"
    MODEL: ClassVar[str] = "model.txt"
    PICKLE: ClassVar[str] = "production_model.pkl"
    IMPORTANCE: ClassVar[str] = "feature_importance.csv"
    HOLDOUT_MODEL: ClassVar[str] = "holdout_model.txt"
    HOLDOUT_PREDICTIONS: ClassVar[str] = "holdout_predictions.parquet"

    training_date: str
    n_features: int
    features: list[str]
    params: dict
    n_estimators: int
    train_auc: float
    train_aupr: float
    n_samples: int
    positive_rate: float
    date_range: list[str]
    balanced: bool
    scale_pos_weight: float | None
    sample_weights_used: bool
    seed: int
    cv: dict  # n_splits, embargo_pct: the folds oof_metrics were read on (the sentinel reuses them)
    oof_metrics: dict
    holdout_metrics: dict | None
    library_versions: dict
    # the class weight the holdout model and the out-of-fold folds trained with (development events only)
    development_scale_pos_weight: float | None = None
    calibration: dict = field(default_factory=dict)  # core.modeling.calibration.Calibration.as_dict(); {}: a card from before
    # the last bar of the feature matrix it was trained from: live signals start after it
    data_end: str | None = None
    artifact_sha256: dict = field(default_factory=dict)  # last: written after every file

    @property
    def trained_until(self) -> pd.Timestamp:
        """The last bar whose features the model's training saw (a card from before data_end: its last event)."""
        return pd.Timestamp(self.data_end or self.date_range[1])

    def model(self, root: Path, symbol: str, timeframe: str, *, holdout: bool = False, threads: int = 1):
        """The production model (or, `holdout=True`, the one fitted on development only) from its
        verified model file, with its class weight and calibrator: the probabilities it gives are the
        ones the card's metrics were read on."""
        from tb_assets.core.modeling.calibration import CalibratedClassifier, Calibration
        from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier

        name, spw = (self.HOLDOUT_MODEL, self.development_scale_pos_weight) if holdout else (self.MODEL, self.scale_pos_weight)
        booster = LightGBMClassifier.from_model_file(self.verified(root, symbol, timeframe, name), threads=threads, scale_pos_weight=spw)
        return CalibratedClassifier(booster, Calibration.from_dict(self.calibration))

    def scoring_model(self, root: Path, symbol: str, timeframe: str, role: str = "champion"):
        """The production model as live signals use it (core.live.signals.ScoringModel): identified by its
        version and its model file's SHA-256, calibrated, trained until `trained_until`."""
        from tb_assets.core.live.signals import ScoringModel

        model_id = self.version or self.artifact_sha256.get(self.MODEL, "")[:16]
        return ScoringModel(
            model_id=model_id,
            sha256=self.artifact_sha256.get(self.MODEL, ""),
            features=list(self.features),
            data_end=self.trained_until,
            estimator=self.model(root, symbol, timeframe),
            role=role,
        )

    def save(self, root: Path, symbol: str, timeframe: str, files: dict[str, bytes], awaits: tuple[str, ...] = ()) -> UPath:
        """Write each file into a new version, record its SHA-256, then the card itself (last: a card
        never names a file that is not there); the version goes live now or after `awaits` passed."""
        self._begin(root, symbol, timeframe)
        for name, data in files.items():
            self.artifact_sha256[name] = sha256(self._write(name, data))
        return self._finish(root, symbol, timeframe, awaits)

    def verified(self, root: Path, symbol: str, timeframe: str, name: str) -> UPath:
        """The path of one of the card's files (in the card's own version), after checking it is the
        file the card describes."""
        path = self.file(name)
        if not path.exists():
            raise MissingArtifact(f"{symbol}|{timeframe}: {path} is missing: materialize production_model again")
        expected = self.artifact_sha256.get(name)
        if expected is None:  # fail closed: a file the card does not vouch for is not used
            raise TbError(
                f"{symbol}|{timeframe}: {self.FILE} records no SHA-256 for {name}, so {path} cannot be verified: "
                "materialize production_model again"
            )
        if sha256(path) != expected:
            raise TbError(
                f"{symbol}|{timeframe}: {path} does not match the SHA-256 in {self.FILE} (changed after training): "
                "materialize production_model again"
            )
        return path

    def holdout_predictions(self) -> pd.DataFrame:
        """ts, y, proba: the holdout model's calibrated scores on the untouched holdout."""
        return self._parquet(self.HOLDOUT_PREDICTIONS)

    def feature_importance(self, root: Path, symbol: str, timeframe: str) -> pd.DataFrame:
        with self.verified(root, symbol, timeframe, self.IMPORTANCE).open("rb") as fh:  # local or fsspec URL
            return pd.read_csv(fh)


METADATA_FIELDS = tuple(f.name for f in fields(ModelCard))


def _names(path: UPath, symbol: str, timeframe: str) -> list[str]:
    if not path.exists():
        raise MissingArtifact(f"{symbol}|{timeframe}: selected_features is not materialized ({path} missing)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@dataclass
class ShapSummary(_Record):
    """shap_report.json and the tables and pictures beside it: shap_values.parquet (ts, one column
    per feature, base_value, margin), shap_summary.csv, regime_importance.csv,
    permutation_importance.csv and the PNG plots."""

    ASSET: ClassVar[str] = "shap_report"
    FILE: ClassVar[str] = "shap_report.json"
    VALUES: ClassVar[str] = "shap_values.parquet"
    SUMMARY: ClassVar[str] = "shap_summary.csv"
    REGIMES: ClassVar[str] = "regime_importance.csv"
    PERMUTATION: ClassVar[str] = "permutation_importance.csv"

    explainer: str
    features: list[str]
    rows_explained: int
    holdout_rows: int
    development_rows: int
    model_sha256: str
    max_additivity_error: float
    mean_abs_shap: dict[str, float]
    plots: dict[str, str] = field(default_factory=dict)

    def save(
        self,
        root: Path,
        symbol: str,
        timeframe: str,
        tables: dict[str, pd.DataFrame],
        plots: dict[str, bytes],
        awaits: tuple[str, ...] = (),
    ) -> UPath:
        self._begin(root, symbol, timeframe)
        written = self._write_all(tables, plots)
        self.plots.update({name: str(written[name]) for name in plots})
        return self._finish(root, symbol, timeframe, awaits)

    def values(self) -> pd.DataFrame:
        """shap_values.parquet of this report's version."""
        return self._parquet(self.VALUES)


@dataclass
class ExperimentReport(_Record):
    """experiments.json: the latest model_experiments run of a partition (its spec, one entry per
    cohort with the best model's id); beside it cohorts/<cohort id>_cv_results.csv and
    models/<fingerprint prefix>/ (each saved model's files, listed with their SHA-256 in the registry)."""

    ASSET: ClassVar[str] = "model_experiments"
    FILE: ClassVar[str] = "experiments.json"

    spec: dict
    cohorts: list[dict]
    features: list[str]
    feature_source: str
    trained: int
    skipped: int
    registry: str

    def save(self, root: Path, symbol: str, timeframe: str, cv_results: dict[str, pd.DataFrame], awaits: tuple[str, ...] = ()) -> UPath:
        self._begin(root, symbol, timeframe)
        for cohort_id, table in cv_results.items():
            self._write(f"cohorts/{cohort_id}_cv_results.csv", frame_bytes(table, ".csv"))
        return self._finish(root, symbol, timeframe, awaits)

    @classmethod
    def model_folder(cls, root: Path, symbol: str, timeframe: str, fingerprint: str) -> UPath:
        """A registered model's files: addressed by its fingerprint, outside the versions (the registry
        names them, whichever report is latest)."""
        return cls.partition_folder(root, symbol, timeframe) / "models" / fingerprint[:16]


@dataclass
class StrategyBacktest(_Record):
    """backtest.json beside paths.parquet (ts, t1, y, group, then path_0... : each event's calibrated
    out-of-sample probability on each CPCV path) and splits.parquet (split, row, train: the positions
    each split trained on, purged, and tested; what the purge check verifies)."""

    ASSET: ClassVar[str] = "strategy_backtest"
    FILE: ClassVar[str] = "backtest.json"
    PATHS: ClassVar[str] = "paths.parquet"
    SPLITS: ClassVar[str] = "splits.parquet"

    n_groups: int
    n_test_groups: int
    n_splits: int
    n_paths: int
    embargo_pct: float
    events: int
    test_groups: list[list[int]]
    path_splits: list[list[int]]
    calibration: dict
    path_auc: list[float]
    model_sha256: str  # the production model card's model file this recipe reproduces
    params: dict

    def save(self, root: Path, symbol: str, timeframe: str, paths: pd.DataFrame, splits: pd.DataFrame, awaits=()) -> UPath:
        self._begin(root, symbol, timeframe)
        self._write_all({self.PATHS: paths, self.SPLITS: splits}, {})
        return self._finish(root, symbol, timeframe, awaits)

    def table(self, name: str) -> pd.DataFrame:
        """paths.parquet or splits.parquet of this backtest's version."""
        return self._parquet(name)


@dataclass
class StrategyReport(_Record):
    """strategy_report.json (the numbers: Sharpe and its moments, PSR, DSR with the partition's trial
    count, PBO, the paths' Sharpe ratios, drawdown, costs), strategy_returns.parquet (ts, net_return:
    the series the Sharpe ratio, skew, kurtosis and n_obs recompute from), path_returns.parquet, the
    pictures and tearsheet.html."""

    ASSET: ClassVar[str] = "strategy_report"
    FILE: ClassVar[str] = "strategy_report.json"
    RETURNS: ClassVar[str] = "strategy_returns.parquet"
    PATH_RETURNS: ClassVar[str] = "path_returns.parquet"
    TEARSHEET: ClassVar[str] = "tearsheet.html"

    sharpe: float
    n_obs: int
    skew: float
    kurtosis: float
    psr: float
    dsr: float | None
    n_trials: int
    trials_sharpe_variance: float | None
    trials_sharpe_variance_source: str
    trials: dict  # what n_trials counts, by source
    pbo: float | None
    path_sharpes: list[float]
    cost_bps: float
    half_spread_bps: float
    spread_model: str
    periods_per_year: float
    annualized_sharpe: float
    max_drawdown: float
    time_under_water: int
    minimum_track_record_length: float
    summary: dict  # performance(): total return, turnover, hit rate, cost drag, trades
    paths: dict  # per path: sharpe, max_drawdown, time_under_water, total_return
    deciles: list[dict]  # net return by probability decile
    notes: list[str] = field(default_factory=list)  # what could not be computed, and why
    plots: dict[str, str] = field(default_factory=dict)

    def save(self, root: Path, symbol: str, timeframe: str, tables: dict[str, pd.DataFrame], files: dict[str, bytes], awaits=()) -> UPath:
        self._begin(root, symbol, timeframe)
        written = self._write_all(tables, files)
        self.plots.update({name: str(path) for name, path in written.items() if name.endswith(".png")})
        return self._finish(root, symbol, timeframe, awaits)

    def returns(self) -> pd.DataFrame:
        """strategy_returns.parquet of this report's version."""
        return self._parquet(self.RETURNS)


@dataclass
class ModelHealth(_Record):
    """model_health.json (the champion's realized metrics beside its holdout's, the change detector,
    drift and the verdicts the checks give), resolved_events.parquet (ts, t1, y, proba, log_loss,
    page_hinkley), drift.parquet (per feature: statistic, p_value, z, ks_iid_p, wasserstein_norm)
    and the pictures."""

    ASSET: ClassVar[str] = "model_health"
    FILE: ClassVar[str] = "model_health.json"
    EVENTS: ClassVar[str] = "resolved_events.parquet"
    DRIFT: ClassVar[str] = "drift.parquet"

    model_id: str
    model_sha256: str
    trained_until: str
    live_rows: int
    resolved_events: int
    overlap: float
    realized: list[dict]  # metric, holdout, holdout_lower, holdout_upper, realized, realized_lower, realized_upper, worse
    change: dict  # threshold, first_alarm, max_statistic, mu0, delta, alpha
    decayed: bool
    decay_said: str
    calibration_z: float | None
    calibration_drifted: bool
    calibration_said: str
    drift: dict | None  # family_p, n_windows, window, alpha, drifted, iid_ks_drifted, evidently_drifted, said
    strategy: dict  # the champion's trades on resolved events after costs, beside its holdout's
    promotion: dict | None = None  # the challenger's paired test against the champion, and whether it was promoted
    notes: list[str] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)

    def save(self, root: Path, symbol: str, timeframe: str, tables: dict[str, pd.DataFrame], files: dict[str, bytes]) -> UPath:
        self._begin(root, symbol, timeframe)
        self._write_all(tables, files)
        return self._finish(root, symbol, timeframe, ())

    def table(self, name: str) -> pd.DataFrame:
        return self._parquet(name)
