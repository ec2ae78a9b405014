"""Dagster resources: where bars come from and where tables go."""


from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from dagster._core.storage.db_io_manager import DbIOManager, TableSlice
from dagster._utils.backoff import backoff
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler
from pydantic import Field

from tb_assets.core.data.bars import prepare_bars
from tb_assets.core.data.symbols import validate_symbol
from tb_assets.core.errors import TbError
from tb_assets.settings import Settings
from tb_assets.sources import BarSource, RawBars, make_source


class BarSourceResource(dg.ConfigurableResource):
    """The bar source chosen by TB_SOURCE (sample, parquet, csv or synthetic)."""

    kind: str = Field(default="sample", description="sample | parquet | csv | synthetic (TB_SOURCE)")
    raw_dir: str | None = Field(default=None, description="Input folder for parquet/csv (TB_RAW_DIR)")
    timezone: str = Field(
        default="UTC", description="Time zone of naive timestamps in the input, e.g. America/New_York (TB_SOURCE_TZ)"
    )
    allow_links: bool = Field(
        default=False, description="Follow symlinks in raw_dir that point outside it (TB_RAW_ALLOW_LINKS)"
    )
    date_order: str = Field(
        default="auto",
        description="How to read dates like 03/04/2024: auto (decided from the file), dmy or mdy (TB_DATE_ORDER)",
    )
    synthetic_freq: str = Field(default="1d", description="Bar size of synthetic data (TB_SYNTHETIC_FREQ)")
    synthetic_bars: int = Field(default=5000, description="Bars per synthetic symbol (TB_SYNTHETIC_BARS)")
    synthetic_seed: int = Field(default=0, description="Seed of synthetic data (TB_SYNTHETIC_SEED)")
    synthetic_signal: float = Field(
        default=0.0, description="Planted predictability of synthetic returns, 0 = random walk (TB_SYNTHETIC_SIGNAL)"
    )
    context_symbols: list[str] = Field(
        default_factory=list, description="Context symbols joined into every primary's features (TB_CONTEXT_SYMBOLS)"
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> "BarSourceResource":
        return cls(
            kind=settings.source,
            raw_dir=settings.raw_dir,
            timezone=settings.source_tz,
            date_order=settings.date_order,
            allow_links=settings.raw_allow_links,
            synthetic_freq=settings.synthetic_freq,
            synthetic_bars=settings.synthetic_bars,
            synthetic_seed=settings.synthetic_seed,
            synthetic_signal=settings.synthetic_signal,
            context_symbols=list(settings.context_symbols),
        )

    def source(self) -> BarSource:
        return make_source(
            self.kind,
            raw_dir=self.raw_dir,
            allow_links=self.allow_links,
            synthetic_freq=self.synthetic_freq,
            synthetic_bars=self.synthetic_bars,
            synthetic_seed=self.synthetic_seed,
            synthetic_signal=self.synthetic_signal,
        )

    def prepared_bars(self, symbol: str, timeframe: str, policy: str = "repair") -> pd.DataFrame:
        """A symbol's validated bars at `timeframe`, straight from the source (context symbols)."""
        raw = self.source().load(symbol)
        bars, _, _ = self.prepare(raw, timeframe, policy)
        return bars

    def prepare(self, raw: RawBars, timeframe: str, policy: str = "repair", **rules):
        """prepare_bars with this source's time zone and date order: (bars, report, source bar size)."""
        return prepare_bars(
            raw.frame, symbol=raw.symbol, origin=raw.origin, timeframe=timeframe, policy=policy, tz=self.timezone,
            date_order=self.date_order, **rules,
        )

    def context_bars(
        self, symbols: list[str], primary: str, timeframe: str, policy: str = "repair"
    ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
        """Each context symbol's bars at the timeframe; a symbol that cannot be had is skipped, with why."""
        found: dict[str, pd.DataFrame] = {}
        skipped: dict[str, str] = {}
        for raw_symbol in symbols:
            symbol = validate_symbol(raw_symbol)
            if symbol == primary:
                continue
            try:
                found[symbol] = self.prepared_bars(symbol, timeframe, policy)
            except TbError as exc:  # no data, bad data, finer than its source: skip, never crash
                skipped[symbol] = str(exc)
        return found, skipped


class TuningStorage(dg.ConfigurableResource):
    """Where Optuna studies live: a URL shared by every partition (TB_OPTUNA_STORAGE, e.g.
    postgresql+psycopg2://...), or else one SQLite file per partition under TB_DATA_DIR/optuna,
    so concurrent partitions never share a locked file."""

    root: str = Field(description="Folder of the per-partition SQLite studies (TB_DATA_DIR/optuna)")
    storage_url: str | None = Field(default=None, description="Optuna storage URL for all partitions (TB_OPTUNA_STORAGE)")

    def url(self, symbol: str, timeframe: str) -> str:
        if self.storage_url:
            return self.storage_url
        path = Path(self.root) / symbol / f"{timeframe}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    @staticmethod
    def study_name(symbol: str, timeframe: str) -> str:
        return f"best_params:{symbol}:{timeframe}"

    def describe(self, symbol: str, timeframe: str) -> str:
        return "TB_OPTUNA_STORAGE" if self.storage_url else self.url(symbol, timeframe)


class ModelRegistryResource(dg.ConfigurableResource):
    """The training service's model registry: TB_REGISTRY_URL (e.g. postgresql+psycopg2://...,
    shared by every partition and machine), or else SQLite at TB_DATA_DIR/registry.db."""

    path: str = Field(description="SQLite file used when no URL is set (TB_DATA_DIR/registry.db)")
    url: str | None = Field(default=None, description="SQLAlchemy URL of the registry (TB_REGISTRY_URL)")

    def database_url(self) -> str:
        return self.url or f"sqlite:///{self.path}"

    def open(self):
        """A ModelRegistry (tables made on first use); close it when done."""
        from tb_assets.training.registry import ModelRegistry

        return ModelRegistry(self.database_url())

    def describe(self) -> str:
        return "TB_REGISTRY_URL" if self.url else self.path


class ArtifactStore(dg.ConfigurableResource):
    """File artifacts under TB_DATA_DIR/artifacts/<asset>/<symbol>/<timeframe>/, written atomically.
    Stages read and write them only through the typed records of tb_assets.records."""

    root: str = Field(description="Folder of all artifacts (TB_DATA_DIR/artifacts)")

    @property
    def root_path(self) -> Path:
        return Path(self.root)


class _TransactionalDuckDbClient(DuckDbClient):
    """Replace a partition in one transaction: a failed write leaves the old rows in place."""

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        # a failed statement aborts a DuckDB transaction, so look before deleting
        if _table_columns(connection, table_slice):
            DuckDbClient.delete_table_slice(context, table_slice, connection)

    @staticmethod
    @contextmanager
    def connect(context, table_slice):
        # dagster-duckdb's connect() skips close() when the body raises, leaking a connection
        # (and the file lock) after a failed write; this one always closes.
        config = {"custom_user_agent": "dagster", **context.resource_config["connection_config"]}
        database = context.resource_config["database"]
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # another process may hold the write lock for a moment: back off and retry (~100 s)
        conn = backoff(
            fn=duckdb.connect,
            retry_on=(RuntimeError, duckdb.IOException),
            kwargs={"database": database, "read_only": False, "config": config},
            max_retries=10,
        )
        try:
            conn.execute("BEGIN TRANSACTION")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


def _table_columns(connection, table_slice: TableSlice) -> dict[str, str]:
    rows = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [table_slice.schema, table_slice.table],
    ).fetchall()
    return dict(rows)


class _PandasByNameHandler(DuckDBPandasTypeHandler):
    """Insert by column name, adding new nullable columns, and refuse to store nothing.

    The stock handler inserts by position (a reordered frame would land in the wrong columns)
    and skips empty frames after the old partition was deleted.
    """

    def handle_output(self, context, table_slice: TableSlice, obj: pd.DataFrame, connection):
        if obj.empty:
            raise ValueError(f"refusing to store an empty frame in {table_slice.schema}.{table_slice.table}")
        existing = _table_columns(connection, table_slice)
        if not existing:
            connection.execute(f"CREATE TABLE {table_slice.schema}.{table_slice.table} AS SELECT * FROM obj")
        else:
            probe = connection.execute("SELECT * FROM obj LIMIT 0").description
            for name, type_code, *_ in probe:
                if name not in existing:
                    connection.execute(
                        f'ALTER TABLE {table_slice.schema}.{table_slice.table} ADD COLUMN "{name}" {type_code}'
                    )
            connection.execute(f"INSERT INTO {table_slice.schema}.{table_slice.table} BY NAME SELECT * FROM obj")
        # the standard keys the UI shows as row counts
        key = "dagster/partition_row_count" if context.has_partition_key else "dagster/row_count"
        context.add_output_metadata({key: len(obj)})

    def load_input(self, context, table_slice: TableSlice, connection) -> pd.DataFrame:
        stored = bool(_table_columns(connection, table_slice))
        df = super().load_input(context, table_slice, connection) if stored else pd.DataFrame()
        if df.empty:  # say what to run, not DuckDB's "Table with name bars does not exist!"
            partition = context.asset_partition_key if context.has_asset_partitions else None
            where = f" --partition '{partition}'" if partition else ""
            raise TbError(f"{table_slice.table} holds no rows{f' for {partition}' if partition else ''}: materialize it first, "
                          f"e.g. tb run --select {table_slice.table}{where}")
        # TIMESTAMPTZ comes back in the session time zone; the project speaks UTC
        for col in df.columns:
            if isinstance(df[col].dtype, pd.DatetimeTZDtype):
                df[col] = df[col].dt.tz_convert("UTC")
        return df


class Warehouse(dg.ConfigurableResource):
    """Read access to what the warehouse IO manager stored (TB_DATA_DIR/warehouse.duckdb), for an
    asset that must look at the stored partition before replacing it (the bars shrink guard)."""

    database: str = Field(description="The DuckDB file (TB_DATA_DIR/warehouse.duckdb)")
    schema_name: str = Field(default="main")

    def stored_timestamps(self, table: str, symbol: str, timeframe: str) -> pd.DatetimeIndex:
        """The `ts` of a partition as stored now (empty when nothing is): what a new write would replace."""
        if not Path(self.database).is_file():
            return pd.DatetimeIndex([], tz="UTC")
        conn = backoff(  # a writer in another process holds the file for a moment
            fn=duckdb.connect, retry_on=(RuntimeError, duckdb.IOException),
            kwargs={"database": self.database, "read_only": True}, max_retries=10,
        )
        try:
            if not conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [self.schema_name, table]
            ).fetchall():
                return pd.DatetimeIndex([], tz="UTC")
            ts = conn.execute(
                f"SELECT ts FROM {self.schema_name}.{table} WHERE symbol = ? AND timeframe = ? ORDER BY ts", [symbol, timeframe]
            ).fetchdf()["ts"]
        finally:
            conn.close()
        return pd.DatetimeIndex(ts).tz_convert("UTC") if len(ts) else pd.DatetimeIndex([], tz="UTC")


class WarehouseIOManager(DuckDBPandasIOManager):
    """dagster-duckdb's pandas IO manager on TB_DATA_DIR/warehouse.duckdb, with atomic partition
    replacement (delete + insert in one transaction) and by-name inserts."""

    @staticmethod
    def type_handlers():
        return [_PandasByNameHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=_TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=pd.DataFrame,
            io_manager_name="WarehouseIOManager",
        )
