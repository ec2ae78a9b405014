"""Dagster resources: where bars come from and where tables go."""


from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field
from upath import UPath

from tb_assets.core.data.bars import prepare_bars
from tb_assets.core.data.symbols import validate_symbol
from tb_assets.core.errors import TbError
from tb_assets.core.storage import check_writable, storage_root
from tb_assets.settings import Settings
from tb_assets.sources import make_source
from tb_assets.sources.base import BarSource, RawBars
from tb_assets.warehouse import has_partition, partition_file, read_partition, write_partition


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

    root: str = Field(description="Folder or fsspec URL of all artifacts (TB_ARTIFACTS_URL, default TB_DATA_DIR/artifacts)")

    def setup_for_execution(self, context) -> None:
        # checked when a run starts: a read-only mount or a missing bucket fails the run at once, by name
        check_writable(storage_root(self.root), "TB_ARTIFACTS_URL")

    @property
    def root_path(self) -> UPath:
        return storage_root(self.root)


class ParquetWarehouseIOManager(dg.UPathIOManager):
    """One Parquet file per partition under the warehouse URL (tb_assets.warehouse has the layout),
    replaced atomically: a failed or killed write leaves the stored partition as it was."""

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        # `partition` is the multi-partition key as "SPX/1d" (dimensions in name order: symbol, timeframe)
        symbol, timeframe = partition.split("/")
        return partition_file(path.parent, path.name, symbol, timeframe)

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        symbol, timeframe = _partition_of(context)
        write_partition(self._base_path, context.asset_key.path[-1], symbol, timeframe, obj)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        symbol, timeframe = _partition_of(context)
        return read_partition(self._base_path, context.asset_key.path[-1], symbol, timeframe)

    def get_metadata(self, context: dg.OutputContext, obj: pd.DataFrame) -> dict:
        # the standard key the UI shows as the partition's row count
        return {"dagster/partition_row_count": len(obj)}


def _partition_of(context: dg.InputContext | dg.OutputContext) -> tuple[str, str]:
    if not context.has_asset_partitions:
        raise TbError(f"{context.asset_key.to_user_string()}: the warehouse stores partitioned assets only")
    keys = context.asset_partition_key.keys_by_dimension
    return keys["symbol"], keys["timeframe"]


class WarehouseIOManager(dg.ConfigurableIOManagerFactory):
    """The warehouse's IO manager: TB_WAREHOUSE_URL (default TB_DATA_DIR/warehouse), any folder or
    fsspec URL (file:///mnt/shared/..., s3://bucket/prefix)."""

    url: str = Field(description="Folder or fsspec URL of the Parquet warehouse (TB_WAREHOUSE_URL)")

    def create_io_manager(self, context) -> ParquetWarehouseIOManager:
        # checked when a run starts: a read-only mount or a missing bucket fails the run at once, by name
        return ParquetWarehouseIOManager(base_path=check_writable(storage_root(self.url), "TB_WAREHOUSE_URL"))


class Warehouse(dg.ConfigurableResource):
    """Read access to what the warehouse IO manager stored, for an asset that must look at the stored
    partition before replacing it (the bars shrink guard)."""

    url: str = Field(description="Folder or fsspec URL of the Parquet warehouse (TB_WAREHOUSE_URL)")

    def stored_timestamps(self, table: str, symbol: str, timeframe: str) -> pd.DatetimeIndex:
        """The `ts` of a partition as stored now (empty when nothing is): what a new write would replace."""
        root = storage_root(self.url)
        if not has_partition(root, table, symbol, timeframe):
            return pd.DatetimeIndex([], tz="UTC")
        ts = read_partition(root, table, symbol, timeframe, columns=["ts"])["ts"]
        return pd.DatetimeIndex(ts).tz_convert("UTC").sort_values()
