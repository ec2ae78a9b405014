"""WarehouseIOManager: a failed write never destroys the stored partition; inserts go by name."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tb_assets.resources import WarehouseIOManager

PARTS = dg.StaticPartitionsDefinition(["A", "B"])


class Out(dg.Config):
    variant: str = "good"


@dg.asset(partitions_def=PARTS, io_manager_key="wh", metadata={"partition_expr": "symbol"})
def table(context: dg.AssetExecutionContext, config: Out) -> pd.DataFrame:
    base = pd.DataFrame({"symbol": context.partition_key, "x": [1.0, 2.0, 3.0], "ts": pd.date_range("2024-01-01", periods=3, tz="UTC")})
    if config.variant == "reordered":
        return base[["ts", "x", "symbol"]].assign(x=[7.0, 8.0, 9.0])
    if config.variant == "new_column":
        return base.assign(y=[1, 2, 3])
    if config.variant == "type_conflict":
        return base.assign(x=["a", "b", "c"], ts=["not", "a", "time"])
    if config.variant == "empty":
        return base.iloc[:0]
    return base


def materialize(db, key, variant="good"):
    return dg.materialize(
        [table], partition_key=key, resources={"wh": WarehouseIOManager(database=str(db), schema="main")},
        run_config={"ops": {"table": {"config": {"variant": variant}}}}, raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
    )


def rows(db, key):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM main.table WHERE symbol = ? ORDER BY ts", [key]).fetchdf()
    finally:
        con.close()


@pytest.mark.parametrize("variant", ["type_conflict", "empty"])
def test_failed_write_keeps_the_old_partition(tmp_path, variant):
    db = tmp_path / "w.duckdb"
    assert materialize(db, "A").success and materialize(db, "B").success
    before = rows(db, "A")
    assert not materialize(db, "A", variant).success
    pd.testing.assert_frame_equal(rows(db, "A"), before)
    assert len(rows(db, "B")) == 3


def test_inserts_by_name_and_adds_new_columns(tmp_path):
    db = tmp_path / "w.duckdb"
    assert materialize(db, "A").success and materialize(db, "B").success
    assert materialize(db, "A", "reordered").success
    assert rows(db, "A")["x"].tolist() == [7.0, 8.0, 9.0]  # landed in x, not in another column
    assert materialize(db, "B", "new_column").success
    assert rows(db, "B")["y"].tolist() == [1, 2, 3]
    assert rows(db, "A")["y"].isna().all()
    assert len(rows(db, "A")) == 3


@dg.asset(partitions_def=PARTS, io_manager_key="wh")
def reader(table: pd.DataFrame) -> None:
    return None


def _load_error(resources) -> str:
    result = dg.materialize([table.to_source_asset(), reader], partition_key="A", resources=resources, raise_on_error=False)
    error = next(e.step_failure_data.error for e in result.all_events if e.is_step_failure)
    while error.cause is not None and "TbError" not in error.cls_name:
        error = error.cause
    return error.message


def test_reading_a_partition_never_stored_says_what_to_materialize(tmp_path):
    resources = {"wh": WarehouseIOManager(database=str(tmp_path / "w.duckdb"), schema="main")}
    expected = "table holds no rows for A: materialize it first, e.g. tb run --select table --partition 'A'"
    assert expected in _load_error(resources)  # no table at all
    assert dg.materialize([table], partition_key="B", resources=resources).success
    assert expected in _load_error(resources)  # the table exists, but not partition A
