"""The warehouse: one Parquet file per asset and partition, in a hive layout any engine reads.

    <TB_WAREHOUSE_URL>/<asset>/symbol=<SYMBOL>/timeframe=<TIMEFRAME>/part-0.parquet

No file is shared by two partitions, so runs on any number of processes and machines write at
once with no lock (DESIGN §6); a file is replaced whole, so a reader or a killed writer never
leaves half of one. Each partition keeps its own columns. The `symbol` and `timeframe` columns
live in the path, not the file (a hive reader adds them back; `read_partition` does too).
DuckDB is the query layer: `query_connection` gives one whose views read every asset's files.
No dagster import here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock
from upath import UPath

from tb_assets.core.errors import TbError
from tb_assets.storage.atomic import replace_atomically
from tb_assets.storage.urls import describe, is_local

PARTITION_COLUMNS = ("symbol", "timeframe")
FILE_NAME = "part-0.parquet"
# a folder is a table only under a plain name: a view is built from it in SQL, and a crafted folder
# name must never become SQL (one with a quote in it once ran a COPY that wrote a file)
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def quoted(identifier: str) -> str:
    """`identifier` as a DuckDB quoted identifier (a double quote inside is doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def partition_file(root: UPath, asset: str, symbol: str, timeframe: str) -> UPath:
    """Where one partition of an asset lives (symbol and timeframe are validated names)."""
    return root / asset / f"symbol={symbol}" / f"timeframe={timeframe}" / FILE_NAME


def checksum_file(path: UPath) -> UPath:
    """The SHA-256 of a partition file, recorded beside it when it is written (`part-0.parquet.sha256`:
    no reader's glob of `part-0.parquet` matches it)."""
    return path.with_name(path.name + ".sha256")


def read_verified(path: UPath, where: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A partition file's frame, after checking its bytes against the SHA-256 recorded when it was
    written: a flipped byte (most of which Parquet itself reads back as other numbers) or a file
    replaced behind the project's back is an error naming the file, and so is a missing record.

    One open file is hashed a megabyte at a time, then parsed: what is parsed is what was hashed
    (a file replaced meanwhile is another file; this one stays open), and the file's bytes are
    never held whole beside the frame (0.4 GB at 10 million bars)."""
    with path.open("rb") as handle:  # FileNotFoundError: the caller says what to run
        try:
            recorded = checksum_file(path).read_text().split()
        except FileNotFoundError:
            raise TbError(
                f"{where}: {describe(path)} has no recorded SHA-256 ({checksum_file(path).name}): it was written by an "
                "earlier version or by hand; `tb migrate` records the checksums of the files as they are, or materialize it again"
            ) from None
        digest = hashlib.sha256()
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
        actual = digest.hexdigest()
        if actual not in recorded:  # one line; two while a writer replaces the file (the new one's and the old one's)
            raise TbError(
                f"{where}: {describe(path)} is not the file that was written (SHA-256 {actual[:12]}..., recorded "
                f"{(recorded or ['nothing'])[0][:12]}...): "
                "corrupted or changed on disk; materialize it again"
            )
        handle.seek(0)
        return parquet_frame(handle, columns)


def write_partition(root: UPath, asset: str, symbol: str, timeframe: str, frame: pd.DataFrame) -> UPath:
    """Replace the partition's file with `frame` (its partition columns, if any, must match)."""
    if frame.empty:
        raise TbError(f"refusing to store an empty frame as {asset} {symbol}|{timeframe}: the stored rows stay")
    for column, value in zip(PARTITION_COLUMNS, (symbol, timeframe)):
        if column in frame.columns and not (frame[column] == value).all():
            wrong = frame.loc[frame[column] != value, column].iloc[0]
            raise TbError(f"{asset} {symbol}|{timeframe}: column {column!r} holds {wrong!r}, not {value!r}")
    data = parquet_bytes(frame, [c for c in frame.columns if c not in PARTITION_COLUMNS])
    path, digest = partition_file(root, asset, symbol, timeframe), hashlib.sha256(data).hexdigest()
    # the new file's checksum beside the old one's first, the file, then the new one's alone: a writer
    # killed at any point leaves a file that matches its record, the old bytes or the new
    try:
        previous = checksum_file(path).read_text().split()[:1]
    except FileNotFoundError:
        previous = []
    replace_atomically(checksum_file(path), "\n".join([digest, *previous]).encode())
    replace_atomically(path, data)
    replace_atomically(checksum_file(path), digest.encode())
    del data
    release_arrow_memory()
    return path


def append_partition(root: UPath, asset: str, symbol: str, timeframe: str, rows: pd.DataFrame, key: tuple[str, ...]) -> int:
    """Add the `rows` whose `key` the partition does not hold yet (an append-only table such as
    `signals`) and return how many were added. The file is replaced whole (write_partition), so a
    writer killed at any point leaves the old rows or the new ones, never part of them; writers of
    one partition on one machine take turns on a lock beside the file (on an object store, one run
    per partition at a time is the caller's to keep)."""
    path = partition_file(root, asset, symbol, timeframe)
    lock = FileLock(str(path.parent.path) + "/.append.lock", timeout=600) if is_local(root) else contextlib.nullcontext()
    if is_local(root):
        os.makedirs(path.parent.path, exist_ok=True)
    with lock:
        if not path.exists():
            stored = None
        else:
            stored = read_partition(root, asset, symbol, timeframe).drop(columns=list(PARTITION_COLUMNS))
        if stored is not None and len(rows):
            seen = pd.MultiIndex.from_frame(stored[list(key)])
            rows = rows.loc[~pd.MultiIndex.from_frame(rows[list(key)]).isin(seen)]
        if rows.empty:
            return 0
        frame = rows if stored is None else pd.concat([stored, rows], ignore_index=True)
        write_partition(root, asset, symbol, timeframe, frame.sort_values(list(key), kind="stable").reset_index(drop=True))
        return len(rows)


def parquet_bytes(frame: pd.DataFrame, columns: list[str] | None = None) -> pa.Buffer:
    """`frame` (its `columns`) as the bytes of a Parquet file, with no copy of the frame on the way
    (dropping columns, then pandas' to_parquet into a BytesIO, held it and the file twice)."""
    table = pa.Table.from_pandas(frame, columns=columns, preserve_index=False)
    sink = pa.BufferOutputStream()
    # microseconds, Parquet's and DuckDB's usual unit: `ts >= TIMESTAMPTZ '2024-01-02'` works in tb sql (DuckDB will
    # not compare nanosecond columns with such literals); a time finer than that is an error, never cut silently
    pq.write_table(table, sink, coerce_timestamps="us", allow_truncated_timestamps=False)
    return sink.getvalue()


def parquet_frame(source, columns: list[str] | None = None) -> pd.DataFrame:
    """The frame in a Parquet file (a path or an open binary file); each column is freed from Arrow
    as it is converted, so the frame is never held twice (pandas' read_parquet peaks at about twice its size)."""
    frame = pq.read_table(source, columns=columns).to_pandas(split_blocks=True, self_destruct=True)
    release_arrow_memory()
    return frame


def release_arrow_memory() -> None:
    """Give the pages Arrow's allocator keeps after a large read or write back to the system: it
    holds on to them (0.7 GB after 10 million bars), and the next step in the process starts there."""
    pa.default_memory_pool().release_unused()


def read_partition(root: UPath, asset: str, symbol: str, timeframe: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The partition as stored (its bytes verified against their recorded SHA-256), with `symbol` and
    `timeframe` first; a TbError saying what to run when it was never stored or is not what was written."""
    path = partition_file(root, asset, symbol, timeframe)
    try:
        frame = as_utc_ns(read_verified(path, f"{asset} {symbol}|{timeframe}", columns))
    except FileNotFoundError:
        raise TbError(
            f"{asset} holds no rows for {symbol}|{timeframe} ({describe(path)} is missing): materialize it "
            f"first, e.g. tb run --select {asset} --partition '{symbol}|{timeframe}'"
        ) from None
    if columns is None:
        frame.insert(0, "timeframe", timeframe)
        frame.insert(0, "symbol", symbol)
    return frame


def has_partition(root: UPath, asset: str, symbol: str, timeframe: str) -> bool:
    return partition_file(root, asset, symbol, timeframe).exists()


def _asset_folders(root: UPath) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob(f"symbol=*/timeframe=*/{FILE_NAME}")))


def stored_assets(root: UPath) -> list[str]:
    """Assets with at least one partition file, by name (folders whose name is not a plain table
    name are not tables: `refused_folders` lists them)."""
    return [name for name in _asset_folders(root) if TABLE_NAME.fullmatch(name)]


def refused_folders(root: UPath) -> list[str]:
    """Folders holding partition files whose name is not a plain table name: never queried."""
    return [name for name in _asset_folders(root) if not TABLE_NAME.fullmatch(name)]


def record_checksums(root: UPath) -> list[str]:
    """Record the SHA-256 of every partition file that has none (written before checksums existed),
    after checking it reads as Parquet; the files recorded (what `tb migrate` adopts)."""
    recorded = []
    for asset in _asset_folders(root):
        for path in sorted((root / asset).glob(f"symbol=*/timeframe=*/{FILE_NAME}")):
            if checksum_file(path).exists():
                continue
            data = path.read_bytes()
            try:
                pq.read_metadata(io.BytesIO(data))
            except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
                raise TbError(f"{describe(path)} is not a readable Parquet file ({exc}): its checksum is not recorded") from None
            replace_atomically(checksum_file(path), hashlib.sha256(data).hexdigest().encode())
            recorded.append(describe(path))
    return recorded


def parquet_glob(root: UPath, asset: str) -> str:
    """Every partition file of an asset, as DuckDB's read_parquet takes it."""
    base = root.path if is_local(root) else str(root)
    return f"{base.rstrip('/')}/{asset}/symbol=*/timeframe=*/{FILE_NAME}"


def read_parquet_sql(root: UPath, asset: str) -> str:
    """DuckDB's read_parquet over an asset's files. hive_types: a symbol like 7203 or a timeframe
    stays text; union_by_name: partitions keep their own columns (missing ones read as NULL)."""
    pattern = parquet_glob(root, asset).replace("'", "''")
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true, "
        "hive_types = {'symbol': VARCHAR, 'timeframe': VARCHAR})"
    )


def _create_views(con: duckdb.DuckDBPyConnection, root: UPath, assets: list[str]) -> None:
    if not is_local(root):  # DuckDB reads the URL through the same fsspec filesystem (no extension download)
        con.register_filesystem(root.fs)
    for asset in assets:
        if not TABLE_NAME.fullmatch(asset):
            raise TbError(f"{asset!r} is not a plain table name (letters, digits, _): the warehouse folder is not queried")
        con.execute(f"CREATE OR REPLACE VIEW {quoted(asset)} AS SELECT * FROM {read_parquet_sql(root, asset)}")


def refresh_views_file(root: UPath, views_file: Path) -> list[str]:
    """(Re)write `views_file`, a DuckDB database of views over every stored asset, for any DuckDB client.

    Written beside and renamed over the old one, so a client that has it open keeps working.
    """
    views_file = Path(views_file)
    if holds_tables(views_file):
        raise TbError(f"{views_file} holds tables of the single-file warehouse: run `tb migrate` to move them to {describe(root)} first")
    views_file.parent.mkdir(parents=True, exist_ok=True)
    assets = stored_assets(root)
    with FileLock(str(views_file) + ".lock", timeout=60):
        fd, tmp = tempfile.mkstemp(prefix=f".{views_file.name}.", dir=views_file.parent)
        os.close(fd)
        os.unlink(tmp)  # DuckDB makes the file itself
        try:
            con = duckdb.connect(tmp)
            try:
                _create_views(con, root, assets)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(tmp, views_file)
        finally:
            for leftover in (tmp, tmp + ".wal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
    return assets


def query_connection(root: UPath) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose views (bars, features, targets, ...) read the warehouse's Parquet."""
    con = duckdb.connect()
    _create_views(con, root, stored_assets(root))
    return con


def holds_tables(database: Path) -> bool:
    """Whether a DuckDB file holds tables (the one-file warehouse of earlier versions), not just views."""
    if not database.is_file():
        return False
    con = duckdb.connect(str(database), read_only=True)
    try:
        return bool(con.execute("SELECT 1 FROM information_schema.tables WHERE table_type = 'BASE TABLE' LIMIT 1").fetchall())
    finally:
        con.close()


def as_utc_ns(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps read back (microseconds; DuckDB's in its session zone) as the project computes with
    them: zoned ones in UTC, all in nanoseconds."""
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            frame[col] = frame[col].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif pd.api.types.is_datetime64_dtype(frame[col].dtype):
            frame[col] = frame[col].astype("datetime64[ns]")
    return frame


@dataclass
class MigrationReport:
    """What `migrate_single_file` moved, skipped and left out, per table."""

    written: dict[str, int] = field(default_factory=dict)  # table -> partitions written
    rows: dict[str, int] = field(default_factory=dict)
    skipped_existing: list[str] = field(default_factory=list)  # "table symbol|timeframe" already in Parquet
    columns_dropped: dict[str, int] = field(default_factory=dict)  # "table symbol|timeframe" -> all-NULL columns
    tables_ignored: list[str] = field(default_factory=list)  # no symbol/timeframe columns
    kept_as: Path | None = None


def migrate_single_file(database: Path, root: UPath, *, progress=print) -> MigrationReport:
    """Move every partition of the one-file DuckDB warehouse (tables with symbol and timeframe
    columns) to one Parquet file each, then rename the old file (kept, never deleted) and write the
    views file in its place. A partition already in Parquet is newer and is left as it is.

    The old tables were shared by all partitions, so a partition's rows carry NULL in the other
    partitions' columns: columns NULL in every row of a partition are not its own and are dropped
    (counted in the report)."""
    database = Path(database)
    if not holds_tables(database):
        raise TbError(f"{database} holds no warehouse tables: nothing to migrate")
    report = MigrationReport()
    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        for table in tables:
            columns = {
                r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
            }
            if not set(PARTITION_COLUMNS) <= columns:
                report.tables_ignored.append(table)
                continue
            keys = con.execute(f'SELECT DISTINCT symbol, timeframe FROM "{table}" ORDER BY 1, 2').fetchall()
            for symbol, timeframe in keys:
                where = f"{table} {symbol}|{timeframe}"
                if has_partition(root, table, symbol, timeframe):
                    report.skipped_existing.append(where)
                    continue
                frame = as_utc_ns(con.execute(f'SELECT * FROM "{table}" WHERE symbol = ? AND timeframe = ?', [symbol, timeframe]).fetchdf())
                empty = [c for c in frame.columns if c not in PARTITION_COLUMNS and frame[c].isna().all()]
                if empty:
                    report.columns_dropped[where] = len(empty)
                write_partition(root, table, symbol, timeframe, frame.drop(columns=empty))
                report.written[table] = report.written.get(table, 0) + 1
                report.rows[table] = report.rows.get(table, 0) + len(frame)
                progress(f"tb migrate: {where}: {len(frame)} rows -> {describe(partition_file(root, table, symbol, timeframe))}")
    finally:
        con.close()
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
    report.kept_as = database.with_name(f"{database.stem}.single-file-{stamp}{database.suffix}")
    os.replace(database, report.kept_as)
    refresh_views_file(root, database)
    return report
