"""`tb sql` and `tb migrate` as a user runs them: a query over the Parquet warehouse, and an old
one-file warehouse moved into it."""

import hashlib

import duckdb
import numpy as np
import pandas as pd
import pytest

from tb_assets.cli import main
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import holds_tables, read_partition, write_partition


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in ("TB_WAREHOUSE_URL", "TB_PROFILE", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    return tmp_path


def test_sql_queries_every_partition_and_refreshes_the_views_file(data_dir, capsys):
    assert main(["sql", "select 1"]) == 1  # nothing stored yet: says so
    assert "holds nothing yet" in capsys.readouterr().err
    root = storage_root(str(data_dir / "warehouse"))
    bars = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, tz="UTC"), "close": [1.0, 2.0, 3.0]})
    write_partition(root, "bars", "SPX", "1d", bars)
    write_partition(root, "bars", "IXIC", "1d", bars.iloc[:2])
    assert main(["sql", "select symbol, count(*) as n from bars where ts >= TIMESTAMPTZ '2024-01-02' group by all order by 1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["symbol", "n"] and [line.split() for line in out[2:]] == [["IXIC", "1"], ["SPX", "2"]]
    assert main(["sql", "--csv", "select close from bars where symbol = 'SPX' order by ts"]) == 0
    assert capsys.readouterr().out.splitlines() == ["close", "1.0", "2.0", "3.0"]
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from bars").fetchone()[0] == 5
    con.close()
    assert main(["sql", "select * from nowhere"]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_migrate_moves_the_one_file_warehouse(data_dir, capsys):
    old = data_dir / "warehouse.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE bars (symbol VARCHAR, timeframe VARCHAR, ts TIMESTAMPTZ, close DOUBLE)")
    con.execute("INSERT INTO bars VALUES ('SPX', '1d', '2024-01-02 00:00:00+00', 10.0)")
    con.close()
    assert main(["sql", "select 1"]) == 1  # the old file is not read as the warehouse: says what to do
    assert "`tb migrate` moves it" in capsys.readouterr().err
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert "bars: 1 partition(s), 1 rows written" in out and "the old file is kept as" in out
    assert read_partition(storage_root(str(data_dir / "warehouse")), "bars", "SPX", "1d")["close"].tolist() == [10.0]
    assert not holds_tables(old) and [p for p in data_dir.glob("warehouse.single-file-*.duckdb") if holds_tables(p)]
    assert main(["migrate"]) == 2  # nothing left to migrate: a clear configuration error
    assert "nothing to migrate" in capsys.readouterr().err


def test_sql_never_runs_a_folder_name(data_dir, capsys, monkeypatch, tmp_path):
    """A crafted folder name under the warehouse once became SQL (a COPY that wrote a file): a
    folder that is not a plain table name is listed and ignored, and view names are quoted."""
    from tb_assets.storage.warehouse import quoted

    root = storage_root(str(data_dir / "warehouse"))
    bars = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, tz="UTC"), "close": [1.0, 2.0, 3.0]})
    write_partition(root, "bars", "SPX", "1d", bars)
    crafted = "x\" AS SELECT 1; COPY (SELECT 42) TO 'pwned.csv'; CREATE VIEW \"y"
    write_partition(root, crafted, "SPX", "1d", bars)
    monkeypatch.chdir(tmp_path)
    assert main(["sql", "select count(*) as n from bars"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[2].split() == ["3"] and "ignored warehouse folder" in captured.err and "COPY" in captured.err
    assert not (tmp_path / "pwned.csv").exists()
    assert quoted('a"b') == '"a""b"'


def test_every_flipped_byte_of_a_warehouse_file_is_caught_on_read(data_dir, capsys):
    """Most single-byte flips in a Parquet file read back as other numbers: every read checks the
    file against the SHA-256 recorded when it was written, and names the file. A file without a
    record is refused too (never a silent pass) until `tb migrate` records it."""
    from tb_assets.core.errors import TbError
    from tb_assets.storage.warehouse import checksum_file, partition_file

    root = storage_root(str(data_dir / "warehouse"))
    rng = np.random.default_rng(0)
    bars = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=500, tz="UTC"), "close": rng.random(500)})
    path = partition_file(root, "bars", "SPX", "1d")
    write_partition(root, "bars", "SPX", "1d", bars)
    good = path.read_bytes()
    assert checksum_file(path).read_text() == hashlib.sha256(good).hexdigest()
    for _ in range(200):
        flipped = bytearray(good)
        flipped[int(rng.integers(len(good)))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(flipped))
        with pytest.raises(TbError, match=r"bars SPX\|1d: .*part-0.parquet is not the file that was written"):
            read_partition(root, "bars", "SPX", "1d")
    path.write_bytes(good)
    assert read_partition(root, "bars", "SPX", "1d")["close"].tolist() == bars["close"].tolist()
    checksum_file(path).unlink()  # a file from before checksums
    with pytest.raises(TbError, match="has no recorded SHA-256"):
        read_partition(root, "bars", "SPX", "1d")
    assert main(["migrate"]) == 0 and "recorded the SHA-256 of 1 partition file(s)" in capsys.readouterr().out
    assert read_partition(root, "bars", "SPX", "1d")["close"].tolist() == bars["close"].tolist()
