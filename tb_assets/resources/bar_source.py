"""The bar source as a Dagster resource: validated, resampled bars of a symbol at a timeframe."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.core.data.bars import prepare_bars
from tb_assets.core.data.symbols import validate_symbol
from tb_assets.core.errors import TbError
from tb_assets.settings import Settings
from tb_assets.sources import make_source
from tb_assets.sources.base import BarSource, RawBars


class BarSourceResource(dg.ConfigurableResource):
    """The bar source chosen by TB_SOURCE (sample, parquet, csv or synthetic)."""

    kind: str = Field(default="sample", description="sample | parquet | csv | synthetic (TB_SOURCE)")
    raw_dir: str | None = Field(default=None, description="Input folder for parquet/csv (TB_RAW_DIR)")
    timezone: str = Field(default="UTC", description="Time zone of naive timestamps in the input, e.g. America/New_York (TB_SOURCE_TZ)")
    allow_links: bool = Field(default=False, description="Follow symlinks in raw_dir that point outside it (TB_RAW_ALLOW_LINKS)")
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
            raw.frame,
            symbol=raw.symbol,
            origin=raw.origin,
            timeframe=timeframe,
            policy=policy,
            tz=self.timezone,
            date_order=self.date_order,
            **rules,
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
