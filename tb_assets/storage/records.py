"""Typed hand-offs between stages: every artifact file's name, path, schema, load and atomic save.

Files live in <TB_ARTIFACTS_URL>/<asset>/<symbol>/<timeframe>/ (default TB_DATA_DIR/artifacts; any
folder or fsspec URL, DESIGN §3), written atomically
with the previous version kept beside them. No asset or check builds an artifact path by hand:
they load and save these records. No dagster import here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.params import DEFAULT_PARAMS
from tb_assets.storage.artifacts import artifact_dir, read_json, write_atomic, write_json
from tb_assets.storage.urls import as_path


class MissingArtifact(TbError):
    """A stage's file is not there: its asset was never materialized (or the file was removed)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(as_path(path).read_bytes()).hexdigest()


def write_frame(path: Path, frame: pd.DataFrame, kind: str) -> Path:
    """A table as CSV or Parquet, atomically."""
    if kind == "csv":
        return write_atomic(path, frame.to_csv(index=False).encode())
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return write_atomic(path, buf.getvalue())


@dataclass
class _Record:
    """A JSON document of one stage for one partition, and the files beside it."""

    ASSET: ClassVar[str]
    FILE: ClassVar[str]

    @classmethod
    def folder(cls, root: Path, symbol: str, timeframe: str) -> Path:
        return artifact_dir(root, cls.ASSET, symbol, timeframe)

    @classmethod
    def path(cls, root: Path, symbol: str, timeframe: str, name: str | None = None) -> Path:
        return cls.folder(root, symbol, timeframe) / (name or cls.FILE)

    @classmethod
    def exists(cls, root: Path, symbol: str, timeframe: str) -> bool:
        return cls.path(root, symbol, timeframe).exists()

    @classmethod
    def _read(cls, root: Path, symbol: str, timeframe: str) -> dict:
        path = cls.path(root, symbol, timeframe)
        if not path.exists():
            raise MissingArtifact(f"{symbol}|{timeframe}: {path} is missing: materialize {cls.ASSET} for this partition")
        return read_json(path)

    @classmethod
    def load(cls, root: Path, symbol: str, timeframe: str):
        doc = cls._read(root, symbol, timeframe)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def _save_json(self, root: Path, symbol: str, timeframe: str) -> Path:
        return write_json(self.path(root, symbol, timeframe), asdict(self))


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

    def save(self, root: Path) -> Path:
        return self._save_json(root, self.symbol, self.timeframe)

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

    def save(self, root: Path, symbol: str, timeframe: str) -> Path:
        names = write_atomic(self.path(root, symbol, timeframe, self.NAMES), ("\n".join(self.selected) + "\n").encode())
        self._save_json(root, symbol, timeframe)
        return names

    @classmethod
    def load(cls, root: Path, symbol: str, timeframe: str) -> Selection:
        record = super().load(root, symbol, timeframe)
        record.selected = cls.names(root, symbol, timeframe)
        return record

    @classmethod
    def names(cls, root: Path, symbol: str, timeframe: str) -> list[str]:
        """The selected feature names (the .txt file is the list of record)."""
        path = cls.path(root, symbol, timeframe, cls.NAMES)
        if not path.exists():
            raise MissingArtifact(f"{symbol}|{timeframe}: selected_features is not materialized ({path} missing)")
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

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

    def save(self, root: Path, symbol: str, timeframe: str, history: pd.DataFrame, importance: dict) -> Path:
        write_frame(self.path(root, symbol, timeframe, self.HISTORY), history, "csv")
        write_json(self.path(root, symbol, timeframe, self.IMPORTANCE), importance)
        return self._save_json(root, symbol, timeframe)

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
    artifact_sha256: dict = field(default_factory=dict)  # last: written after every file

    def model(self, root: Path, symbol: str, timeframe: str, *, holdout: bool = False, threads: int = 1):
        """The production model (or, `holdout=True`, the one fitted on development only) from its
        verified model file, with its class weight and calibrator: the probabilities it gives are the
        ones the card's metrics were read on."""
        from tb_assets.core.modeling.calibration import CalibratedClassifier, Calibration
        from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier

        name, spw = (self.HOLDOUT_MODEL, self.development_scale_pos_weight) if holdout else (self.MODEL, self.scale_pos_weight)
        booster = LightGBMClassifier.from_model_file(self.verified(root, symbol, timeframe, name), threads=threads, scale_pos_weight=spw)
        return CalibratedClassifier(booster, Calibration.from_dict(self.calibration))

    def save(self, root: Path, symbol: str, timeframe: str, files: dict[str, bytes]) -> Path:
        """Write each file, record its SHA-256, then the card itself (last: a card never names a
        file that is not there)."""
        for name, data in files.items():
            path = write_atomic(self.path(root, symbol, timeframe, name), data)
            self.artifact_sha256[name] = sha256(path)
        return self._save_json(root, symbol, timeframe)

    def verified(self, root: Path, symbol: str, timeframe: str, name: str) -> Path:
        """The path of one of the card's files, after checking it is the file the card describes."""
        path = self.path(root, symbol, timeframe, name)
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

    def feature_importance(self, root: Path, symbol: str, timeframe: str) -> pd.DataFrame:
        with self.verified(root, symbol, timeframe, self.IMPORTANCE).open("rb") as fh:  # local or fsspec URL
            return pd.read_csv(fh)


METADATA_FIELDS = tuple(f.name for f in fields(ModelCard))


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

    def save(self, root: Path, symbol: str, timeframe: str, tables: dict[str, pd.DataFrame], plots: dict[str, bytes]) -> Path:
        for name, frame in tables.items():
            write_frame(self.path(root, symbol, timeframe, name), frame, "parquet" if name.endswith(".parquet") else "csv")
        for name, png in plots.items():
            self.plots[name] = str(write_atomic(self.path(root, symbol, timeframe, name), png))
        return self._save_json(root, symbol, timeframe)

    @classmethod
    def values(cls, root: Path, symbol: str, timeframe: str) -> pd.DataFrame:
        path = cls.path(root, symbol, timeframe, cls.VALUES)
        if not path.exists():
            raise MissingArtifact(f"{symbol}|{timeframe}: {path} is missing: materialize shap_report for this partition")
        with path.open("rb") as fh:
            return pd.read_parquet(fh)


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

    def save(self, root: Path, symbol: str, timeframe: str, cv_results: dict[str, pd.DataFrame]) -> Path:
        for cohort_id, table in cv_results.items():
            write_frame(self.path(root, symbol, timeframe, f"cohorts/{cohort_id}_cv_results.csv"), table, "csv")
        return self._save_json(root, symbol, timeframe)

    @classmethod
    def model_folder(cls, root: Path, symbol: str, timeframe: str, fingerprint: str) -> Path:
        return cls.folder(root, symbol, timeframe) / "models" / fingerprint[:16]
