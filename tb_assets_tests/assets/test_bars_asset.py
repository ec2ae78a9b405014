"""The `bars` asset in a real Dagster instance over a real DuckDB file."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tb_assets.definitions import build_definitions
from tb_assets_tests.conftest import make_settings, minute_bars
from tb_assets_tests.helpers import QUIET, failure_text, metadata, run, stored, tamper


def run_bars(defs, key, run_config=None):
    return run(defs, key, run_config, selection=[dg.AssetKey("bars")])


def test_sample_partitions_materialize_with_metadata_and_checks(tmp_path):
    settings = make_settings(tmp_path)
    defs = build_definitions(settings)
    daily = run_bars(defs, "SPX|1d")
    assert daily.success
    md = metadata(daily)
    assert md["rows"] == 5031 and md["gaps"] == 3 and md["has_volume"] is True and md["repaired_rows"] == 0
    assert md["source"] == "sample" and md["source_bar_size"] == "1 days 00:00:00"
    assert md["dagster/partition_row_count"] == 5031
    assert [(c.asset_check_key.name, c.passed) for c in daily.get_asset_check_evaluations()] == [("bars_valid_ohlcv", True)]

    weekly = run_bars(defs, "SPX|1w")
    assert weekly.success and metadata(weekly)["rows"] == 1044
    table = stored(settings, "SPX", "1w")
    assert len(table) == 1044 and (table["ts"].dt.tz_convert("UTC").dt.dayofweek == 0).all()
    # re-materializing replaces the partition (no duplicate rows) and leaves the others alone
    assert run_bars(defs, "SPX|1w").success
    assert len(stored(settings, "SPX", "1w")) == 1044 and len(stored(settings, "SPX", "1d")) == 5031


def write_csv(folder, symbol, df):
    df.to_csv(folder / f"{symbol}.csv", index=False)


def good_daily(n=40):
    d = minute_bars(n)
    d["ts"] = pd.bdate_range("2024-01-01", periods=n, tz="UTC")
    return d


def break_missing_column(d):
    return d.drop(columns="low")


def break_non_numeric(d):
    d = d.astype({"close": object})
    d.loc[5, "close"] = "12,5"
    return d


def break_nan(d):
    d.loc[7, "open"] = np.nan
    return d


def break_zero(d):
    d.loc[7, "low"] = 0.0
    return d


def break_high_low(d):
    d.loc[3, ["high", "low"]] = d.loc[3, ["low", "high"]].to_numpy()
    return d


def break_duplicate(d):
    extra = d.iloc[[10]].copy()
    extra["close"] = extra["close"] * 1.001
    extra["high"] = extra[["high", "close"]].max(axis=1)
    return pd.concat([d, extra]).sort_values("ts", kind="stable")


def break_unsorted(d):
    return d.iloc[::-1]


def break_empty(d):
    return d.iloc[:0]


def break_naive_dst(d):
    d = d.copy()
    d["ts"] = ["2024-03-10 02:30"] * 1 + [f"2024-03-{day:02d} 10:00" for day in range(11, 11 + len(d) - 1)]
    return d


BAD_INPUTS = [
    (break_missing_column, {}, "missing column(s) low"),
    (break_non_numeric, {}, "column 'close' is not numeric: value '12,5' at 2024-01-08"),
    (break_nan, {}, "column 'open' has 1 NaN/inf value(s), first at 2024-01-10"),
    (break_zero, {}, "column 'low' has 1 zero or negative price(s), first at 2024-01-10"),
    (break_high_low, {"policy": "fail"}, "inconsistent OHLC on 1 row(s), first at 2024-01-04"),
    (break_duplicate, {}, "duplicate timestamp 2024-01-15 00:00:00+00:00 with different values"),
    (break_unsorted, {"policy": "fail"}, "rows are not sorted by time"),
    (break_empty, {}, "no bars (empty result)"),
]


@pytest.mark.parametrize("breaker,config,message", BAD_INPUTS, ids=[b[0].__name__ for b in BAD_INPUTS])
def test_bad_csv_fails_the_partition_and_keeps_the_stored_one(tmp_path, breaker, config, message):
    raw = tmp_path / "raw"
    raw.mkdir()
    settings = make_settings(tmp_path, source="csv", raw_dir=str(raw), symbols=("ACME",), timeframes=("1d",))
    defs = build_definitions(settings)
    write_csv(raw, "ACME", good_daily())
    assert run_bars(defs, "ACME|1d").success
    before = stored(settings, "ACME", "1d")
    assert len(before) == 40

    write_csv(raw, "ACME", breaker(good_daily()))
    bars_config = {"ops": {"bars": {"config": config}}} if config else None
    result = run_bars(defs, "ACME|1d", run_config=bars_config)
    assert not result.success
    text = failure_text(result)
    assert message in text and "ACME" in text and "ACME.csv" in text
    pd.testing.assert_frame_equal(stored(settings, "ACME", "1d"), before)


def test_repair_policy_counts_repairs_in_metadata(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    settings = make_settings(tmp_path, source="csv", raw_dir=str(raw), symbols=("ACME",), timeframes=("1d",))
    write_csv(raw, "ACME", break_unsorted(break_high_low(good_daily())))
    result = run_bars(build_definitions(settings), "ACME|1d")
    assert result.success
    md = metadata(result)
    assert md["ohlc_repaired"] == 1 and md["reordered_rows"] == 39 and md["repaired_rows"] == 40
    assert md["policy"] == "repair"


def test_unknown_symbol_unsupported_timeframe_and_corrupt_parquet_fail_clearly(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    settings = make_settings(tmp_path, source="csv", raw_dir=str(raw), symbols=("ACME", "GONE"), timeframes=("1h", "1d"))
    defs = build_definitions(settings)
    write_csv(raw, "ACME", good_daily())
    missing = run_bars(defs, "GONE|1d")
    assert not missing.success and "no CSV file 'GONE.csv'" in failure_text(missing)
    finer = run_bars(defs, "ACME|1h")
    assert not finer.success and "ACME: timeframe '1h' is finer than the source data" in failure_text(finer)

    pq = tmp_path / "pq"
    (pq / "ACME" / "dt=2024-01-02").mkdir(parents=True)
    (pq / "ACME" / "dt=2024-01-02" / "part-0.parquet").write_bytes(b"PAR1garbagePAR1")
    pq_defs = build_definitions(make_settings(tmp_path, source="parquet", raw_dir=str(pq), symbols=("ACME",), timeframes=("1d",)))
    corrupt = run_bars(pq_defs, "ACME|1d")
    assert not corrupt.success and "ACME: cannot read parquet under" in failure_text(corrupt)


def test_parquet_minutes_resampled_per_partition(tmp_path):
    pq = tmp_path / "pq"
    for day in ("2024-01-02", "2024-01-03"):
        folder = pq / "ES" / f"dt={day}"
        folder.mkdir(parents=True)
        minute_bars(390, start=f"{day} 14:30", seed=int(day[-1])).to_parquet(folder / "part-0.parquet", index=False)
    settings = make_settings(tmp_path, source="parquet", raw_dir=str(pq), symbols=("ES",), timeframes=("5m", "1h", "1d"))
    defs = build_definitions(settings)
    for key, rows in (("ES|5m", 156), ("ES|1h", 14), ("ES|1d", 2)):
        result = run_bars(defs, key)
        assert result.success, failure_text(result)
        assert metadata(result)["rows"] == rows
    hourly = stored(settings, "ES", "1h")
    assert hourly["ts"].dt.tz_convert("UTC").iloc[0] == pd.Timestamp("2024-01-02 14:00", tz="UTC")


def test_blocking_check_fails_on_corrupted_stored_bars(tmp_path):
    settings = make_settings(tmp_path, symbols=("SPX",), timeframes=("1w",))
    defs = build_definitions(settings)
    assert run_bars(defs, "SPX|1w").success
    tamper(settings, "UPDATE bars SET high = low * 0.5 WHERE ts = (SELECT min(ts) FROM bars)")
    # run only the check: it reads the stored partition back through the warehouse IO manager
    check_key = dg.AssetCheckKey(dg.AssetKey("bars"), "bars_valid_ohlcv")
    check_only = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(), asset_check_selection={check_key})
    result = check_only.execute_in_process(
        partition_key="SPX|1w", instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, run_config=QUIET
    )
    assert not result.success  # blocking: the failed check fails the run
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "open/close outside [low, high], first at 1999-01-04" in evaluation.metadata["problems"].value


@pytest.mark.real_data
def test_real_minutes_from_parquet_layout_materialize_and_survive_corruption(tmp_path, real_data):
    """Real SPY minutes (March 2011) in the {SYMBOL}/dt=YYYY-MM-DD/*.parquet layout."""
    raw = pd.read_csv(
        real_data / "pyalgotrade/nt-spy-minute-2011-03.csv",
        sep=";",
        header=None,
        names=["ts", "open", "high", "low", "close", "volume"],
        dtype={"ts": str},
    )
    raw["ts"] = pd.to_datetime(raw["ts"], format="%Y%m%d %H%M%S", utc=True)
    pq = tmp_path / "pq"
    for day, g in raw.groupby(raw["ts"].dt.strftime("%Y-%m-%d")):
        (pq / "SPY" / f"dt={day}").mkdir(parents=True)
        g.to_parquet(pq / "SPY" / f"dt={day}" / "part-0.parquet", index=False)
    settings = make_settings(tmp_path, source="parquet", raw_dir=str(pq), symbols=("SPY",), timeframes=("5m", "1h", "1d"))
    defs = build_definitions(settings)
    for tf in ("5m", "1h", "1d"):
        result = run_bars(defs, f"SPY|{tf}")
        assert result.success, failure_text(result)
        assert all(c.passed for c in result.get_asset_check_evaluations())
        md = metadata(result)
        assert md["base_rows"] == 17577 and md["source_bar_size"] == "0 days 00:01:00"
        table = stored(settings, "SPY", tf)
        assert len(table) == md["rows"] and table["volume"].sum() == raw["volume"].sum()
    assert metadata(run_bars(defs, "SPY|5m"))["gaps"] > 0  # 5-minute stretches with no trade inside sessions
    assert len(stored(settings, "SPY", "1d")) == raw["ts"].dt.date.nunique()

    before = stored(settings, "SPY", "1h")
    victim = next((pq / "SPY").glob("dt=2011-03-15/*.parquet"))
    victim.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    broken = run_bars(defs, "SPY|1h")
    assert not broken.success and "SPY: cannot read parquet under" in failure_text(broken)
    assert "dt=2011-03-15/part-0.parquet" in failure_text(broken)  # the corrupt file is named
    pd.testing.assert_frame_equal(stored(settings, "SPY", "1h"), before)
