"""The model registry: one row per trained combination, on SQLite or PostgreSQL (same code).

A row carries the model's fingerprint (unique: a combination already trained is found and not
trained again, and when two runs save the same one at once the constraint keeps one row), its
cohort (the siblings of one grid run), its parent (lineage), its rank in the cohort, params,
features, metrics, the SHA-256 of each artifact file (checked when the model is loaded), the data
version it was trained on, and the code and library versions that made it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from tb_assets.core.errors import TbError
from tb_assets.storage.databases import first_use, redact_url
from tb_assets.storage.urls import as_path

CHUNK = 500  # ids or fingerprints per IN (...) query
SCHEMA_LOCK = 0x74625F72  # PostgreSQL advisory lock id guarding the registry's table creation ("tb_r")

_metadata = sa.MetaData()
MODELS = sa.Table(
    "models",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("algorithm", sa.String(64), nullable=False),
    sa.Column("task", sa.String(16), nullable=False),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("lookforward", sa.Integer, nullable=False),
    sa.Column("cohort_id", sa.String(32), nullable=False),
    sa.Column("parent_model_id", sa.Integer, nullable=True),
    sa.Column("rank_in_cohort", sa.Integer, nullable=False),
    sa.Column("score_name", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("used_features", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("data_options", sa.JSON, nullable=False),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("artifacts", sa.JSON, nullable=False),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("library_versions", sa.JSON, nullable=False),
    sa.UniqueConstraint("fingerprint", name="uq_models_fingerprint"),
    sa.Index("ix_models_partition", "symbol", "timeframe"),
    sa.Index("ix_models_cohort", "cohort_id"),
)


@dataclass
class ModelRow:
    fingerprint: str
    symbol: str
    timeframe: str
    algorithm: str
    task: str  # 'regression' or 'classification'
    target: str  # 'log_return' | 'pct_change' | 'none' | 'direction' | 'bin'
    lookforward: int
    cohort_id: str
    parent_model_id: int | None
    rank_in_cohort: int
    score_name: str  # 'r2' or 'auc': what the cohort is ranked by
    score: float | None
    params: dict
    features: list[str]  # what the model was given
    used_features: list[str]  # what it kept after p-value pruning (on all rows): a child's starting set
    metrics: dict  # mean over folds, '<name>_std', and 'folds': one dict per fold
    data_options: dict  # validation, n_splits, embargo_pct, p_value_threshold, ...
    data_version: str
    n_rows: int
    artifacts: dict = field(default_factory=dict)  # file name -> {"path", "sha256"}; empty when not saved
    notes: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    code_version: str = ""
    library_versions: dict = field(default_factory=dict)
    id: int | None = None

    @property
    def partition(self) -> str:
        return f"{self.symbol}|{self.timeframe}"

    def as_json(self) -> dict:
        doc = asdict(self)
        doc["created_at"] = self.created_at.isoformat()
        return doc


_COLUMNS = [f.name for f in fields(ModelRow)]


def _finite(value):
    """JSON for both databases: PostgreSQL's json type refuses NaN and Infinity, so they are null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _finite(value.item())
    return value


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'registry.db'}"


class ModelRegistry:
    """The registry at a SQLAlchemy URL (sqlite:///… or postgresql+psycopg2://…); tables are made
    on first use."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite"):
            database = sa.engine.make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs = {"connect_args": {"timeout": 60}}
        else:
            kwargs = {"pool_pre_ping": True}
        self.engine = sa.create_engine(url, json_serializer=lambda v: json.dumps(_finite(v)), **kwargs)
        with first_use(url, SCHEMA_LOCK):
            _metadata.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def partition_lock(self, symbol: str, timeframe: str):
        """Held by one experiment of a partition from its first registry read to its report: two
        experiments of one partition at once left a model's files rewritten after its row recorded
        their SHA-256, and a report naming cohorts that were never registered. The second now waits,
        then finds every combination registered. (A file lock beside SQLite, an advisory lock on
        PostgreSQL; other partitions never wait.)"""
        key = int(hashlib.sha256(f"tb_assets experiments {symbol}|{timeframe}".encode()).hexdigest()[:15], 16)
        with first_use(self.url, key, name=f"experiments-{symbol}-{timeframe}", timeout=-1):
            yield

    def add(self, row: ModelRow) -> tuple[int, bool]:
        """Insert `row`; (its id, True), or (the id of the row already holding its fingerprint,
        False) when another run saved the same model first."""
        values = {k: getattr(row, k) for k in _COLUMNS if k != "id"}
        values["score"] = _finite(values["score"])
        try:
            with self.engine.begin() as con:
                new_id = con.execute(sa.insert(MODELS).values(**values)).inserted_primary_key[0]
            return int(new_id), True
        except sa.exc.IntegrityError:
            existing = self.known([row.fingerprint])
            if row.fingerprint not in existing:
                raise
            return existing[row.fingerprint], False

    def known(self, fingerprints: Iterable[str]) -> dict[str, int]:
        """fingerprint -> id of those already in the registry."""
        wanted = list(dict.fromkeys(fingerprints))
        out: dict[str, int] = {}
        with self.engine.connect() as con:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                rows = con.execute(sa.select(MODELS.c.fingerprint, MODELS.c.id).where(MODELS.c.fingerprint.in_(chunk)))
                out.update({fp: int(i) for fp, i in rows})
        return out

    def _rows(self, query) -> list[ModelRow]:
        with self.engine.connect() as con:
            rows = [ModelRow(**dict(r._mapping)) for r in con.execute(query)]
        for row in rows:  # SQLite keeps no time zone: the times were written in UTC
            if row.created_at.tzinfo is None:
                row.created_at = row.created_at.replace(tzinfo=UTC)
        return rows

    def get(self, model_id: int) -> ModelRow:
        rows = self._rows(sa.select(MODELS).where(MODELS.c.id == int(model_id)))
        if not rows:
            raise TbError(f"model {model_id} is not in the registry ({self.describe()})")
        return rows[0]

    def find(
        self,
        *,
        symbol: str | None = None,
        timeframe: str | None = None,
        algorithm: str | None = None,
        cohort_id: str | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[ModelRow]:
        """Rows matching every filter given, by id."""
        query = sa.select(MODELS)
        for column, value in (
            (MODELS.c.symbol, symbol),
            (MODELS.c.timeframe, timeframe),
            (MODELS.c.algorithm, algorithm),
            (MODELS.c.cohort_id, cohort_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if ids is None:
            return self._rows(query.order_by(MODELS.c.id))
        wanted = sorted({int(i) for i in ids})
        rows = []
        for i in range(0, len(wanted), CHUNK):  # a full grid's ids can pass a SQLite build's limit on bound parameters (999 before 3.32)
            rows += self._rows(query.where(MODELS.c.id.in_(wanted[i : i + CHUNK])).order_by(MODELS.c.id))
        return rows

    def lineage(self, model_id: int) -> list[ModelRow]:
        """The model and its ancestors, oldest first."""
        chain = [self.get(model_id)]
        seen = {chain[0].id}
        while chain[-1].parent_model_id is not None:
            parent = self.get(chain[-1].parent_model_id)
            if parent.id in seen:
                raise TbError(f"the lineage of model {model_id} loops at model {parent.id}")
            seen.add(parent.id)
            chain.append(parent)
        return chain[::-1]

    def children(self, model_id: int) -> list[ModelRow]:
        return self._rows(sa.select(MODELS).where(MODELS.c.parent_model_id == int(model_id)).order_by(MODELS.c.id))

    def aliases(self):
        """The champion and challenger of each partition, beside the models (training.aliases)."""
        from tb_assets.training.aliases import ModelAliases

        return ModelAliases(self.engine, self.url)

    def describe(self) -> str:
        """Where the registry is, with no credential in it."""
        return self.url if self.url.startswith("sqlite") else redact_url(self.url)


def verified_file(row: ModelRow, name: str):
    """One of a model's artifact files, after checking it is the file the registry recorded."""
    import hashlib

    entry = row.artifacts.get(name)
    if entry is None:
        saved = ", ".join(row.artifacts) or "none (only the best of a cohort is saved unless save_all_grid_models)"
        raise TbError(f"model {row.id} has no {name}; its saved files: {saved}")
    path = as_path(entry["path"])  # a local path or an fsspec URL (TB_ARTIFACTS_URL)
    if not path.exists():
        raise TbError(f"model {row.id}: {path} is missing (artifacts moved or deleted?)")
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        raise TbError(f"model {row.id}: {path} does not match the SHA-256 in the registry (changed after training)")
    return path


def load_model(row: ModelRow):
    """The fitted scikit-learn Pipeline (preprocessing + model) of a saved model, verified first."""
    import joblib

    with verified_file(row, "pipeline.joblib").open("rb") as fh:
        try:
            return joblib.load(fh)
        except (ModuleNotFoundError, AttributeError) as exc:  # a class that has moved or gone since it was saved
            raise TbError(
                f"model {row.id} was saved by code version {row.code_version or '?'} and names a class this version "
                f"does not have ({exc}): train it again (tb run --select model_experiments --partition "
                f"'{row.partition}')"
            ) from None
