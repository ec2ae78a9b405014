"""Parquet folders in the layouts users already have, scanned with DuckDB's read_parquet.

    {TB_RAW_DIR}/{SYMBOL}/dt=YYYY-MM-DD/*.parquet        (a folder per symbol, hive dates)
    {TB_RAW_DIR}/symbol={SYMBOL}/**/*.parquet            (hive symbol partitions, any depth)

Only the requested symbol's folder is globbed, so other symbols' files are never opened.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tb_assets.core.data.symbols import is_symbol
from tb_assets.core.errors import SourceError
from tb_assets.sources.base import BarSource, RawBars
from tb_assets.sources.files import inside_root, raw_root

_HIVE_PREFIX = "symbol="


class ParquetSource(BarSource):
    name = "parquet"

    def __init__(self, raw_dir: str, *, allow_links: bool = False):
        self.root = raw_root(raw_dir)
        self.allow_links = allow_links

    def _folders(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir():
                continue
            name = entry.name[len(_HIVE_PREFIX) :] if entry.name.lower().startswith(_HIVE_PREFIX) else entry.name
            if next(entry.rglob("*.parquet"), None) is not None:
                out[name] = entry
        return out

    def _symbol_dirs(self) -> dict[str, Path]:
        return {name.upper(): entry for name, entry in self._folders().items() if is_symbol(name)}

    def ignored_entries(self) -> list[str]:
        return sorted(entry.name for name, entry in self._folders().items() if not is_symbol(name))

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
        files = [inside_root(self.root, f, allow_links=self.allow_links) for f in sorted(folder.rglob("*.parquet"))]
        pattern = str(folder / "**" / "*.parquet")
        con = duckdb.connect()  # in-memory: reading never touches the warehouse lock
        try:
            frame = con.execute(
                "SELECT * FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
                [pattern],
            ).fetchdf()
        except duckdb.Error as exc:
            bad = _unreadable_files(con, files)
            named = "; ".join(f"{path}: {why}" for path, why in bad[:5]) if bad else _first_line(exc)
            more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            raise SourceError(
                f"{symbol}: cannot read parquet under {folder}: {len(bad) or 'some'} of {len(files)} file(s) unreadable: {named}{more}"
            ) from exc
        finally:
            con.close()
        # hive columns describe the layout, not the bars
        frame = frame.drop(columns=[c for c in ("symbol", "dt") if c in frame.columns and c != "ts"])
        return RawBars(symbol, frame, f"{folder} ({len(files)} parquet file(s))")


def _unreadable_files(con: duckdb.DuckDBPyConnection, files: list[Path]) -> list[tuple[Path, str]]:
    """The files DuckDB cannot read on their own, with why: the error of a scan over many files
    seldom names the one at fault."""
    bad = []
    for path in files:
        try:
            con.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        except duckdb.Error as exc:
            bad.append((path, _first_line(exc)))
    return bad


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
