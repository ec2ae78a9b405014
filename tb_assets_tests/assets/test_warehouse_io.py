"""The Parquet warehouse: one file per partition in a hive layout, replaced atomically (a failed or
killed write leaves the stored partition as it was), each partition with its own columns, on a
folder or any fsspec URL, with DuckDB views over it and a migration from the one-file warehouse."""

import os
import subprocess
import sys
import textwrap
import uuid

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tb_assets.core.errors import ConfigError, TbError
from tb_assets.resources import Warehouse, WarehouseIOManager
from tb_assets.storage.urls import check_writable, storage_root
from tb_assets.storage.warehouse import (
    append_partition,
    holds_tables,
    migrate_single_file,
    partition_file,
    query_connection,
    read_partition,
    refresh_views_file,
    write_partition,
)

PARTS = dg.MultiPartitionsDefinition(
    {"symbol": dg.StaticPartitionsDefinition(["AAA", "7203"]), "timeframe": dg.StaticPartitionsDefinition(["1d", "1h"])}
)


class Out(dg.Config):
    variant: str = "good"


@dg.asset(partitions_def=PARTS, io_manager_key="wh")
def table(context: dg.AssetExecutionContext, config: Out) -> pd.DataFrame:
    keys = context.partition_key.keys_by_dimension
    base = pd.DataFrame(
        {
            "symbol": keys["symbol"],
            "timeframe": keys["timeframe"],
            "x": [1.0, 2.0, 3.0],
            "ts": pd.date_range("2024-01-01", periods=3, tz="UTC"),
        }
    )
    if config.variant == "new_column":
        return base.assign(y=[1, 2, 3])
    if config.variant == "unserialisable":  # pyarrow refuses mixed objects: the write fails half way
        return base.assign(x=[1.0, object(), "c"])
    if config.variant == "empty":
        return base.iloc[:0]
    if config.variant == "wrong_partition":
        return base.assign(symbol="ZZZ")
    return base


def materialize(url, key, variant="good"):
    return dg.materialize(
        [table],
        partition_key=key,
        resources={"wh": WarehouseIOManager(url=str(url))},
        run_config={"ops": {"table": {"config": {"variant": variant}}}},
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
    )


def rows(url, key):
    symbol, timeframe = key.split("|")
    return read_partition(storage_root(str(url)), "table", symbol, timeframe)


def test_each_partition_is_its_own_parquet_file_in_a_hive_layout(tmp_path):
    assert materialize(tmp_path, "AAA|1d").success and materialize(tmp_path, "7203|1h", "new_column").success
    assert (tmp_path / "table" / "symbol=AAA" / "timeframe=1d" / "part-0.parquet").is_file()
    assert (tmp_path / "table" / "symbol=7203" / "timeframe=1h" / "part-0.parquet").is_file()
    # each partition keeps its own columns: no other partition's column appears in AAA's file
    assert list(rows(tmp_path, "AAA|1d").columns) == ["symbol", "timeframe", "x", "ts"]
    assert rows(tmp_path, "7203|1h")["y"].tolist() == [1, 2, 3]
    # the path carries symbol and timeframe; the file does not repeat them
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "table" / "symbol=AAA" / "timeframe=1d" / "part-0.parquet").names == ["x", "ts"]
    stored = rows(tmp_path, "AAA|1d")
    assert str(stored["ts"].dtype) == "datetime64[ns, UTC]" and stored["symbol"].eq("AAA").all()


@pytest.mark.parametrize("variant", ["unserialisable", "empty", "wrong_partition"])
def test_a_failed_write_keeps_the_old_partition(tmp_path, variant):
    assert materialize(tmp_path, "AAA|1d").success and materialize(tmp_path, "7203|1d").success
    before = rows(tmp_path, "AAA|1d")
    assert not materialize(tmp_path, "AAA|1d", variant).success
    pd.testing.assert_frame_equal(rows(tmp_path, "AAA|1d"), before)
    assert len(rows(tmp_path, "7203|1d")) == 3
    assert not [
        p for p in (tmp_path / "table").rglob("*") if p.is_file() and p.name not in ("part-0.parquet", "part-0.parquet.sha256")
    ]  # no temp


def killed_writer(kill_at: int, function: str, call: str) -> subprocess.CompletedProcess:
    """A process that runs `call` (storage.warehouse's `function`) and SIGKILLs itself just before
    its `kill_at`-th rename (os.replace)."""
    script = textwrap.dedent(f"""
        import os, signal
        import pandas as pd
        from tb_assets.storage.urls import storage_root
        from tb_assets.storage.warehouse import {function}
        real, calls = os.replace, []
        def replace(*a):
            calls.append(a)
            if len(calls) == {kill_at}:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a)
        os.replace = replace
    """) + textwrap.dedent(call)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kill_at, rows", [(1, 5), (2, 5), (3, 50)])
def test_a_writer_killed_mid_write_leaves_a_whole_file_that_matches_its_checksum(tmp_path, kill_at, rows):
    """The process dies (SIGKILL) just before its 1st, 2nd or 3rd rename (the checksum listing the new
    and old file, the file, the new checksum alone): readers see the previous partition or the new
    one, whole and verified, and the half-done temp file is not part of the table."""
    root = storage_root(str(tmp_path))
    old = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=5, tz="UTC"), "x": range(5)})
    write_partition(root, "bars", "AAA", "1d", old)
    done = killed_writer(
        kill_at,
        "write_partition",
        f"""write_partition(storage_root({str(tmp_path)!r}), "bars", "AAA", "1d",
            pd.DataFrame({{"ts": pd.date_range("2025-01-01", periods=50, tz="UTC"), "x": range(50)}}))""",
    )
    assert done.returncode == -9, done.stderr
    folder = tmp_path / "bars" / "symbol=AAA" / "timeframe=1d"
    # the file, its checksum and the killed writer's temp file
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["part-0.parquet", "part-0.parquet.sha256"]
    assert len(list(folder.iterdir())) == 3
    stored = read_partition(root, "bars", "AAA", "1d")
    assert stored["x"].tolist() == list(range(rows))
    con = query_connection(root)
    assert con.execute("SELECT count(*) FROM bars").fetchone()[0] == rows  # the temp file is not read as data


def test_the_warehouse_works_on_an_fsspec_url():
    url = f"memory://tb-test-{uuid.uuid4().hex}/warehouse"
    assert materialize(url, "AAA|1d").success and materialize(url, "AAA|1h", "new_column").success
    assert rows(url, "AAA|1h")["y"].tolist() == [1, 2, 3]
    before = rows(url, "AAA|1d")
    assert not materialize(url, "AAA|1d", "unserialisable").success
    pd.testing.assert_frame_equal(rows(url, "AAA|1d"), before)
    con = query_connection(storage_root(url))  # DuckDB reads it through the same fsspec filesystem
    assert con.execute('SELECT timeframe, count(*), count(y) FROM "table" GROUP BY ALL ORDER BY 1').fetchall() == [
        ("1d", 3, 0),
        ("1h", 3, 3),
    ]
    assert Warehouse(url=url).stored_timestamps("table", "AAA", "1d").equals(pd.DatetimeIndex(before["ts"]))


@dg.asset(partitions_def=PARTS, io_manager_key="wh")
def reader(table: pd.DataFrame) -> None:
    return None


def _load_error(resources) -> str:
    result = dg.materialize([table.to_source_asset(), reader], partition_key="AAA|1d", resources=resources, raise_on_error=False)
    error = next(e.step_failure_data.error for e in result.all_events if e.is_step_failure)
    while error.cause is not None and "TbError" not in error.cls_name:
        error = error.cause
    return error.message


def test_reading_a_partition_never_stored_says_what_to_materialize(tmp_path):
    resources = {"wh": WarehouseIOManager(url=str(tmp_path))}
    expected = "materialize it first, e.g. tb run --select table --partition 'AAA|1d'"
    assert "table holds no rows for AAA|1d" in _load_error(resources) and expected in _load_error(resources)
    assert dg.materialize([table], partition_key="7203|1d", resources=resources).success
    assert expected in _load_error(resources)  # the table exists, but not partition AAA|1d


def test_an_unwritable_warehouse_url_fails_naming_the_setting(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"TB_WAREHOUSE_URL=.*a-file/warehouse.* is not writable"):
        check_writable(storage_root(str(blocker / "warehouse")), "TB_WAREHOUSE_URL")
    result = materialize(blocker / "warehouse", "AAA|1d")
    assert not result.success
    assert "TB_WAREHOUSE_URL" in str([e.event_specific_data for e in result.all_events if e.is_failure])


def test_an_unwritable_artifacts_url_fails_the_run_naming_the_setting(tmp_path):
    from tb_assets.resources import ArtifactStore

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    @dg.asset(partitions_def=PARTS)
    def uses_artifacts(artifacts: ArtifactStore) -> None:
        return None

    result = dg.materialize(
        [uses_artifacts],
        partition_key="AAA|1d",
        resources={"artifacts": ArtifactStore(root=str(blocker / "x"))},
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert not result.success
    assert "TB_ARTIFACTS_URL=" in str([e.event_specific_data for e in result.all_events if e.is_failure])


def test_views_read_every_partition_with_its_hive_columns(tmp_path):
    root = storage_root(str(tmp_path / "wh"))
    frame = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=4, tz="UTC"), "close": [1.0, 2.0, 3.0, 4.0]})
    write_partition(root, "bars", "AAA", "1d", frame)
    write_partition(root, "bars", "7203", "1h", frame.assign(extra=1))
    views = tmp_path / "warehouse.duckdb"
    assert refresh_views_file(root, views) == ["bars"]
    con = duckdb.connect(str(views), read_only=True)  # what a user's DuckDB client sees
    try:
        got = con.execute("SELECT symbol, timeframe, count(*), count(extra) FROM bars GROUP BY ALL ORDER BY 1").fetchall()
    finally:
        con.close()
    assert got == [("7203", "1h", 4, 4), ("AAA", "1d", 4, 0)]  # 7203 stays text, not a number
    assert not holds_tables(views)
    write_partition(root, "targets", "AAA", "1d", frame)  # a new asset appears as a view on refresh
    assert refresh_views_file(root, views) == ["bars", "targets"]


def _one_file_warehouse(path):
    """The layout of earlier versions: one DuckDB table per asset, shared by every partition."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE bars (symbol VARCHAR, timeframe VARCHAR, ts TIMESTAMPTZ, close DOUBLE)")
    con.execute(
        "INSERT INTO bars VALUES ('SPX', '1d', '2024-01-02 00:00:00+00', 10.0), ('SPX', '1d', '2024-01-03 00:00:00+00', 11.0),"
        " ('IXIC', '1d', '2024-01-02 00:00:00+00', 20.0)"
    )
    # features: SPX's context column rsi_IXIC is NULL in IXIC's rows (not IXIC's column)
    con.execute("CREATE TABLE features (symbol VARCHAR, timeframe VARCHAR, ts TIMESTAMPTZ, rsi DOUBLE, rsi_IXIC DOUBLE)")
    con.execute(
        "INSERT INTO features VALUES ('SPX', '1d', '2024-01-02 00:00:00+00', 50, 40), ('IXIC', '1d', '2024-01-02 00:00:00+00', 60, NULL)"
    )
    con.execute("CREATE TABLE notes (txt VARCHAR)")
    con.close()


def test_migrate_moves_every_partition_and_keeps_the_old_file(tmp_path):
    old = tmp_path / "warehouse.duckdb"
    _one_file_warehouse(old)
    root = storage_root(str(tmp_path / "warehouse"))
    newer = pd.DataFrame({"ts": pd.date_range("2024-06-01", periods=2, tz="UTC"), "close": [99.0, 98.0]})
    write_partition(root, "bars", "IXIC", "1d", newer)  # already migrated or rebuilt since: stays
    lines = []
    report = migrate_single_file(old, root, progress=lines.append)
    assert report.written == {"bars": 1, "features": 2} and report.rows == {"bars": 2, "features": 2}
    assert report.skipped_existing == ["bars IXIC|1d"] and report.tables_ignored == ["notes"]
    assert report.columns_dropped == {"features IXIC|1d": 1}
    spx = read_partition(root, "bars", "SPX", "1d")
    assert spx["close"].tolist() == [10.0, 11.0] and str(spx["ts"].dtype) == "datetime64[ns, UTC]"
    assert spx["ts"].iloc[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert read_partition(root, "bars", "IXIC", "1d")["close"].tolist() == [99.0, 98.0]
    assert list(read_partition(root, "features", "IXIC", "1d").columns) == ["symbol", "timeframe", "ts", "rsi"]
    assert read_partition(root, "features", "SPX", "1d")["rsi_IXIC"].tolist() == [40.0]
    assert holds_tables(report.kept_as) and report.kept_as.parent == tmp_path  # the old data is kept, renamed
    assert old.is_file() and not holds_tables(old)  # warehouse.duckdb is now the views file
    assert len(lines) == 3 and "bars SPX|1d: 2 rows" in lines[0]
    with pytest.raises(TbError, match="nothing to migrate"):
        migrate_single_file(old, root)


def test_the_views_file_refuses_to_replace_an_unmigrated_warehouse(tmp_path):
    old = tmp_path / "warehouse.duckdb"
    _one_file_warehouse(old)
    with pytest.raises(TbError, match="run `tb migrate`"):
        refresh_views_file(storage_root(str(tmp_path / "warehouse")), old)
    assert holds_tables(old)


def test_partition_files_are_named_by_validated_keys(tmp_path):
    root = storage_root(str(tmp_path))
    assert partition_file(root, "bars", "BRK.B", "1d").path == os.path.join(
        str(tmp_path), "bars", "symbol=BRK.B", "timeframe=1d", "part-0.parquet"
    )


@pytest.mark.parametrize("kill_at, kept", [(1, 5), (2, 5), (3, 9)])
def test_an_append_killed_mid_write_leaves_the_old_rows_or_all_the_new_ones(tmp_path, kill_at, kept):
    """An append-only table (signals): a writer killed before its 1st or 2nd rename leaves the rows that
    were there, before its 3rd (the file is in place) all of them plus every new one, verified; never a
    part of the new rows. A repeated append adds only what is missing."""
    root = storage_root(str(tmp_path))
    old = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=5, tz="UTC"), "model_id": "a", "x": range(5)})
    assert append_partition(root, "signals", "AAA", "1d", old, ("ts", "model_id")) == 5
    done = killed_writer(
        kill_at,
        "append_partition",
        f"""append_partition(storage_root({str(tmp_path)!r}), "signals", "AAA", "1d",
            pd.DataFrame({{"ts": pd.date_range("2024-01-04", periods=6, tz="UTC"), "model_id": "a", "x": range(3, 9)}}),
            ("ts", "model_id"))""",
    )
    assert done.returncode == -9, done.stderr
    rows = read_partition(root, "signals", "AAA", "1d")["x"].tolist()
    assert rows == list(range(kept))
    again = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=10, tz="UTC"), "model_id": "a", "x": range(10)})
    assert append_partition(root, "signals", "AAA", "1d", again, ("ts", "model_id")) == 10 - len(rows)
    assert read_partition(root, "signals", "AAA", "1d")["x"].tolist() == list(range(10))
    other = again.assign(model_id="b")  # another model scores the same bars: its own rows
    assert append_partition(root, "signals", "AAA", "1d", other, ("ts", "model_id")) == 10
