"""CSV files, one per symbol: `{TB_RAW_DIR}/{SYMBOL}.csv`.

Reads the spellings vendors use (Date/date/ts/timestamp, Open/open, Adj Close ignored ...),
sniffs the delimiter, and reads header-less files (`ts;open;high;low;close[;volume]`, as
NinjaTrader exports) by position.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from tb_assets.core.data.columns import COLUMN_ALIASES, squash_name
from tb_assets.core.data.symbols import is_symbol
from tb_assets.core.errors import SourceError
from tb_assets.sources.base import BarSource, RawBars
from tb_assets.sources.files import inside_root, match_entry, raw_root

_POSITIONAL = ["ts", "open", "high", "low", "close", "volume", "vwap", "trade_count"]


class CsvSource(BarSource):
    name = "csv"

    def __init__(self, raw_dir: str, *, allow_links: bool = False):
        self.root = raw_root(raw_dir)
        self.allow_links = allow_links

    def _names(self) -> set[str]:
        return {p.name[: -len(".csv")] for p in self.root.glob("*") if p.name.lower().endswith(".csv")}

    def list_symbols(self) -> list[str]:
        return sorted({n.upper() for n in self._names() if is_symbol(n)})

    def ignored_entries(self) -> list[str]:
        return sorted(f"{n}.csv" for n in self._names() if not is_symbol(n))

    def _path(self, symbol: str) -> Path:
        return match_entry(self.root, f"{symbol}.csv", what="CSV file", available=[f"{s}.csv" for s in self.list_symbols()])

    def load(self, symbol: str) -> RawBars:
        path = inside_root(self.root, self._path(symbol), allow_links=self.allow_links)
        return RawBars(symbol, read_bars_csv(path), str(path))

    def watched_files(self, symbol: str) -> list[Path]:
        try:
            return [self._path(symbol)]
        except SourceError:  # not there (yet): nothing to watch
            return []


def read_bars_csv(path: Path) -> pd.DataFrame:
    encoding = text_encoding(path)
    try:
        with open(path, newline="", encoding=encoding) as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: not {encoding} text (byte {exc.object[exc.start]:#04x} at offset {exc.start}): save it as UTF-8 CSV"
        ) from exc
    if not head.strip():
        raise SourceError(f"{path}: the file is empty")
    try:
        sep = csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    first = next(csv.reader([head.splitlines()[0]], delimiter=sep))
    has_header = any(squash_name(name) in COLUMN_ALIASES for name in first)
    _refuse_a_cut_last_line(path, sep, len(first), encoding)
    try:
        if has_header:
            return pd.read_csv(path, sep=sep, encoding=encoding)
        if not 5 <= len(first) <= len(_POSITIONAL):
            raise SourceError(
                f"{path}: no header with known column names (Date, Open, High, Low, Close ...) "
                f"and {len(first)} columns, too many or too few to read by position"
            )
        # keep timestamps as text so '20110103 143000' is not read as a number
        return pd.read_csv(path, sep=sep, header=None, names=_POSITIONAL[: len(first)], dtype={0: str}, encoding=encoding)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable CSV file: {str(exc).strip()}") from exc


def _refuse_a_cut_last_line(path: Path, sep: str, fields: int, encoding: str) -> None:
    """A file whose last line has no line end and fewer fields than its first was cut while being
    written (a volume missing, a price shortened): stored, that bar would be wrong."""
    if encoding.startswith("utf-16"):  # two bytes a character: the byte tail below would misread it
        return
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    last = tail.decode(encoding.replace("-sig", ""), errors="replace").splitlines()[-1]
    got = len(next(csv.reader([last], delimiter=sep)))
    if got < fields:
        with open(path, "rb") as fh:
            line = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) + 1
        raise SourceError(
            f"{path}: line {line} ({last!r}) has {got} of {fields} fields and no line end: the file was cut while "
            "being written; the stored bars stay (finish or remove that line)"
        )


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_NOT_CSV = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook named .csv?): export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls or other Office file: export the sheet as CSV"),
    (b"PAR1", "a Parquet file: use TB_SOURCE=parquet"),
    (b"\x1f\x8b", "gzip-compressed: unpack it first"),
)


def text_encoding(path: Path) -> str:
    """The file's text encoding from its first bytes: UTF-8 (with or without BOM) or UTF-16 with a
    BOM (Excel's "Unicode text"); anything else that is not text is refused, naming what it looks like."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(8192)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from exc
    for bom, encoding in _BOMS:
        if start.startswith(bom):
            return encoding
    for magic, what in _NOT_CSV:
        if start.startswith(magic):
            raise SourceError(f"{path}: not a CSV file but {what}")
    nul = start.find(b"\0")
    if nul >= 0:
        raise SourceError(f"{path}: not a text file (a NUL byte at offset {nul}): is it binary?")
    return "utf-8"
