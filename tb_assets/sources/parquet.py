"""Parquet folders in the layouts users already have, scanned with DuckDB's read_parquet.

    {TB_RAW_DIR}/{SYMBOL}/dt=YYYY-MM-DD/*.parquet        (a folder per symbol, hive dates)
    {TB_RAW_DIR}/symbol={SYMBOL}/**/*.parquet            (hive symbol partitions, any depth)

Only the requested symbol's folder is globbed, so other symbols' files are never opened.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tb_assets.core.errors import SourceError
from tb_assets.sources.base import BarSource, RawBars
from tb_assets.sources.files import raw_root

_HIVE_PREFIX = "symbol="


class ParquetSource(BarSource):
    name = "parquet"

    def __init__(self, raw_dir: str):
        self.root = raw_root(raw_dir)

    def _symbol_dirs(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir():
                continue
            name = entry.name[len(_HIVE_PREFIX) :] if entry.name.lower().startswith(_HIVE_PREFIX) else entry.name
            if next(entry.rglob("*.parquet"), None) is not None:
                out[name.upper()] = entry
        return out

    def list_symbols(self) -> list[str]:
        return sorted(self._symbol_dirs())

    def watched_files(self, symbol: str) -> list[Path]:
        folder = self._symbol_dirs().get(symbol.upper())
        return sorted(folder.rglob("*.parquet")) if folder is not None else []

    def load(self, symbol: str) -> RawBars:
        dirs = self._symbol_dirs()
        folder = dirs.get(symbol.upper())
        if folder is None:
            found = ", ".join(sorted(dirs)[:20]) or "none"
            raise SourceError(
                f"no parquet files for {symbol!r} under {self.root}: expected {symbol}/dt=YYYY-MM-DD/*.parquet "
                f"or symbol={symbol}/**/*.parquet (symbols found: {found})"
            )
        files = sorted(folder.rglob("*.parquet"))
        pattern = str(folder / "**" / "*.parquet")
        con = duckdb.connect()  # in-memory: reading never touches the warehouse lock
        try:
            frame = con.execute(
                "SELECT * FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
                [pattern],
            ).fetchdf()
        except duckdb.Error as exc:
            raise SourceError(f"{symbol}: cannot read parquet under {folder}: {_first_line(exc)}") from exc
        finally:
            con.close()
        # hive columns describe the layout, not the bars
        frame = frame.drop(columns=[c for c in ("symbol", "dt") if c in frame.columns and c != "ts"])
        return RawBars(symbol, frame, f"{folder} ({len(files)} parquet file(s))")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

