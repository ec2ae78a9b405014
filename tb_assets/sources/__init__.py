"""Where bars come from. Each source returns raw vendor frames; validation lives in core.bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tb_assets.core.errors import ConfigError
from tb_assets.sources.kinds import SOURCE_KINDS

if TYPE_CHECKING:  # a source module loads pandas: only make_source imports one
    from tb_assets.sources.base import BarSource


def make_source(
    kind: str,
    *,
    raw_dir: str | None = None,
    allow_links: bool = False,
    synthetic_freq: str = "1d",
    synthetic_bars: int = 5000,
    synthetic_seed: int = 0,
    synthetic_signal: float = 0.0,
    synthetic_start: str = "2010-01-04",
) -> BarSource:
    """Build the source named by `kind` (the TB_SOURCE values)."""
    kind = (kind or "sample").strip().lower()
    if kind == "sample":
        from tb_assets.sources.sample import SampleSource

        return SampleSource()
    if kind in ("parquet", "csv"):
        if not raw_dir:
            raise ConfigError(f"TB_SOURCE={kind} needs TB_RAW_DIR, the folder that holds your {kind} files")
        if kind == "parquet":
            from tb_assets.sources.parquet import ParquetSource

            return ParquetSource(raw_dir, allow_links=allow_links)
        from tb_assets.sources.csv import CsvSource

        return CsvSource(raw_dir, allow_links=allow_links)
    if kind == "synthetic":
        from tb_assets.sources.synthetic import SyntheticSource

        return SyntheticSource(
            freq=synthetic_freq,
            n_bars=synthetic_bars,
            seed=synthetic_seed,
            signal=synthetic_signal,
            start=synthetic_start,
        )
    raise ConfigError(f"unknown TB_SOURCE {kind!r}: choose from {', '.join(SOURCE_KINDS)}")


__all__ = ["SOURCE_KINDS", "make_source"]
