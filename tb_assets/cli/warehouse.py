"""`tb sql` and `tb migrate`: query the Parquet warehouse with DuckDB, and move an old one-file
warehouse (TB_DATA_DIR/warehouse.duckdb with tables) into it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SQL_DESCRIPTION = """Run a DuckDB query over the warehouse (TB_WAREHOUSE_URL, default TB_DATA_DIR/warehouse):
every stored asset is a view (bars, features, targets) over its Parquet files, with `symbol` and
`timeframe` columns from the hive layout. Also refreshes TB_DATA_DIR/warehouse.duckdb, the same
views as a file any DuckDB client opens read-only (duckdb -readonly data/warehouse.duckdb)."""

SQL_EPILOG = """examples:
  tb sql "select symbol, timeframe, count(*) as bars, max(ts) as last from bars group by all order by all"
  tb sql "select * from targets where symbol = 'SPX' and timeframe = '1d' limit 5"
  tb sql --csv "select * from features where symbol = 'SPX'" > spx_features.csv"""

MIGRATE_DESCRIPTION = """Move the one-file DuckDB warehouse of earlier versions (TB_DATA_DIR/warehouse.duckdb holding
tables bars, features, targets with symbol and timeframe columns) to one Parquet file per partition
under TB_WAREHOUSE_URL. A partition already stored as Parquet is newer and stays. Columns that are
NULL in every row of a partition were other partitions' columns in the shared table and are left
out (counted). The old file is renamed, never deleted, and warehouse.duckdb becomes the views file.

It also records the SHA-256 of every partition file written before checksums existed (each is
read as Parquet first): reads verify every file against its checksum and refuse one without."""


def add_parser(sub) -> None:
    sql = sub.add_parser(
        "sql",
        help="query the warehouse's Parquet with DuckDB (views bars, features, targets)",
        description=SQL_DESCRIPTION,
        epilog=SQL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sql.add_argument("query", help="a DuckDB SQL statement")
    sql.add_argument("--csv", action="store_true", help="print CSV (every row) instead of a table")
    sql.add_argument("--limit", "-n", type=int, default=50, help="at most this many rows in the table (default 50; 0 = all)")
    sql.set_defaults(func=cmd_sql)

    migrate = sub.add_parser(
        "migrate",
        help="move an old one-file warehouse.duckdb into the Parquet warehouse; record checksums of older files",
        description=MIGRATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    migrate.set_defaults(func=cmd_migrate)


def _settings():
    from tb_assets.settings import apply_default_environment, load_settings

    apply_default_environment()
    return load_settings()


def preflight(command: str) -> None:
    """Before runs start: the warehouse and artifacts URLs must take writes (a ConfigError naming
    TB_WAREHOUSE_URL or TB_ARTIFACTS_URL, exit 2), and an old one-file warehouse is pointed out
    (its data is not read any more)."""
    from tb_assets.storage.atomic import sweep_temp_files
    from tb_assets.storage.urls import check_writable, is_local, storage_root
    from tb_assets.storage.warehouse import holds_tables

    settings = _settings()
    for url, name in ((settings.warehouse, "TB_WAREHOUSE_URL"), (settings.artifacts, "TB_ARTIFACTS_URL")):
        root = check_writable(storage_root(url), name)
        if is_local(root):  # the temp files of writers killed mid-write (never a live writer's)
            swept = sweep_temp_files(Path(root.path))
            if swept:
                print(f"{command}: removed {len(swept)} temp file(s) that killed writers left under {url}", file=sys.stderr)
    if holds_tables(settings.views_path):
        print(
            f"{command}: {settings.views_path} holds the one-file warehouse of an earlier version, which is not read "
            f"any more: `tb migrate` moves it to {settings.warehouse}",
            file=sys.stderr,
        )


def cmd_sql(args) -> int:
    import duckdb

    from tb_assets.storage.urls import storage_root
    from tb_assets.storage.warehouse import holds_tables, query_connection, refresh_views_file, refused_folders, stored_assets

    settings = _settings()
    root = storage_root(settings.warehouse)
    for name in refused_folders(root):
        print(f"tb sql: ignored warehouse folder {name!r}: not a plain table name (letters, digits, _)", file=sys.stderr)
    if holds_tables(settings.views_path):
        print(
            f"tb sql: {settings.views_path} holds the one-file warehouse of an earlier version: `tb migrate` moves it to "
            f"{settings.warehouse}, which tb sql reads",
            file=sys.stderr,
        )
        return 1
    if not stored_assets(root):
        print(
            f"tb sql: the warehouse {settings.warehouse} holds nothing yet: materialize something first, e.g. tb run --select bars",
            file=sys.stderr,
        )
        return 1
    refresh_views_file(root, settings.views_path)
    con = query_connection(root)
    try:
        con.execute("SET TimeZone = 'UTC'")
        frame = con.execute(args.query).fetchdf()
    except duckdb.Error as exc:
        print(f"tb sql: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
        return 0
    from tb_assets.reporting.tables import text_table

    shown = frame if args.limit <= 0 else frame.head(args.limit)
    print(text_table(list(map(str, frame.columns)), shown.astype(object).where(shown.notna(), "NULL").values.tolist()))
    if len(shown) < len(frame):
        print(f"({len(frame)} rows, first {len(shown)} shown: --limit 0 for all, --csv for a file)")
    return 0


def cmd_migrate(args) -> int:
    from tb_assets.core.errors import TbError
    from tb_assets.storage.urls import check_writable, storage_root
    from tb_assets.storage.warehouse import holds_tables, migrate_single_file, record_checksums

    settings = _settings()
    root = check_writable(storage_root(settings.warehouse), "TB_WAREHOUSE_URL")
    migrated = holds_tables(settings.views_path)
    if migrated:
        report_migration(settings, migrate_single_file(settings.views_path, root, progress=lambda line: print(line, file=sys.stderr)))
    recorded = record_checksums(root)
    if recorded:
        print(f"recorded the SHA-256 of {len(recorded)} partition file(s) written before checksums (each read as Parquet first)")
    elif not migrated:
        raise TbError(f"{settings.views_path} holds no warehouse tables and every partition file has its checksum: nothing to migrate")
    return 0


def report_migration(settings, report) -> None:
    for table, count in sorted(report.written.items()):
        print(f"{table}: {count} partition(s), {report.rows[table]} rows written")
    if report.skipped_existing:
        print(f"kept {len(report.skipped_existing)} partition(s) already in Parquet (newer): {', '.join(report.skipped_existing)}")
    for where, count in sorted(report.columns_dropped.items()):
        print(f"{where}: left out {count} column(s) NULL in every row (other partitions' columns)")
    if report.tables_ignored:
        print(f"ignored table(s) without symbol and timeframe columns: {', '.join(report.tables_ignored)}")
    print(f"the old file is kept as {report.kept_as}; {settings.views_path} now holds views over {settings.warehouse}")
