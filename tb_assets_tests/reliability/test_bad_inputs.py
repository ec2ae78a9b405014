"""The reliability table: bad inputs and faults against a partition stored before, for every file
source (CSV and Parquet).

Each case first has the good ACME|1d partition stored (a copy of one good warehouse), then puts
its bad input where the good file was and materializes `bars` again. A case that must fail has to
fail naming the input (the raw folder) and the problem, in `tb run`'s own summary line, leave the
stored rows exactly as they were, and, the good file put back, let the next run succeed. A case
that is repaired must count its repairs; a case that is read right must store what the good file
stored. Add a row whenever a new kind of bad input
turns up.
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tb_assets.definitions import build_definitions
from tb_assets.runs.events import step_failure_reason
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import failure_text, metadata, run, stored

N = 60
SYMBOL = "ACME"
KEY = f"{SYMBOL}|1d"


def good() -> pd.DataFrame:
    """60 business days of a random walk, as a vendor writes them (Date, Open ... Volume)."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame(
        {
            "Date": pd.bdate_range("2024-01-01", periods=N).strftime("%Y-%m-%d"),
            "Open": open_,
            "High": np.maximum(open_, close) * 1.004,
            "Low": np.minimum(open_, close) * 0.996,
            "Close": close,
            "Volume": rng.integers(1_000, 5_000, N).astype(float),
        }
    )


def with_row(df: pd.DataFrame, i: int, **values) -> pd.DataFrame:
    df = df.astype({k: object for k, v in values.items() if isinstance(v, str)})
    for k, v in values.items():
        df.loc[i, k] = v
    return df


@dataclass
class Case:
    name: str
    make: Callable[[], pd.DataFrame | bytes]  # a frame (written as each source writes it) or a CSV file's bytes
    fails: tuple[str, ...] = ()  # each must be in the summary line
    repaired: dict = field(default_factory=dict)  # metadata counts
    same: bool = False  # stored exactly what the good file stored
    config: dict = field(default_factory=dict)  # the bars op's config
    settings: dict = field(default_factory=dict)
    sources: tuple[str, ...] = ("csv", "parquet")


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def future(df, rows):
    out = df.copy()
    out.loc[out.index[-rows:], "Date"] = pd.bdate_range("2099-01-01", periods=rows).strftime("%Y-%m-%d")
    return out


def at_local(df, clock: str, last_day: str):
    out = df.copy()
    out["Date"] = pd.date_range(end=last_day, periods=N, freq="D").strftime(f"%Y-%m-%d {clock}")  # Sundays too: DST changes on one
    return out


def mixed_offsets(df):
    """Every other row carries -05:00; the others are New York wall clock (TB_SOURCE_TZ): all 20:00 there."""
    out = df.copy()
    out["Date"] = [f"{d} 20:00" + ("-05:00" if i % 2 else "") for i, d in enumerate(df["Date"])]
    return out


def next_day(new: pd.DataFrame, before: pd.DataFrame) -> None:
    # 20:00 in New York (EST) is 01:00 UTC the next day, for the offset rows and the naive ones alike
    assert list(new["ts"]) == [t + pd.Timedelta(days=1) for t in before["ts"]]


CASES = [
    # point 2: bad files must not replace good data
    Case(
        "all_bars_in_the_future",
        lambda: good().assign(Date=pd.bdate_range("2099-01-01", periods=N).strftime("%Y-%m-%d")),
        fails=("60 bar(s) dated in the future, first at 2099-01-01",),
    ),
    Case("five_bars_in_the_future", lambda: future(good(), 5), fails=("5 bar(s) dated in the future",)),
    Case("truncated_download", lambda: good().iloc[:1], fails=("would drop 59 of the 60 stored bars", "allow_shrink")),
    Case(
        "truncated_download_allowed", lambda: good().iloc[:1], repaired={"stored_bars_lost": 59, "rows": 1}, config={"allow_shrink": True}
    ),
    Case("dd_mm_yyyy_dates", lambda: good().assign(Date=pd.bdate_range("2024-01-01", periods=N).strftime("%d/%m/%Y")), same=True),
    Case("mm_dd_yyyy_dates", lambda: good().assign(Date=pd.bdate_range("2024-01-01", periods=N).strftime("%m/%d/%Y")), same=True),
    Case(
        "day_first_and_month_first_mixed",
        lambda: with_row(good().assign(Date=pd.bdate_range("2024-01-01", periods=N).strftime("%d/%m/%Y")), 3, Date="01/13/2024"),
        fails=("mixes day-first and month-first dates", "'01/13/2024' (row 3)"),
    ),
    Case("absurd_high", lambda: with_row(good(), 30, High=1e300), repaired={"spikes_repaired": 1, "rows": N}),
    Case(
        "absurd_high_fail_policy",
        lambda: with_row(good(), 30, High=1e300),
        config={"policy": "fail"},
        fails=("1 bar(s) with a price over 10 times off the median close", "first at 2024-02-12"),
    ),
    Case("absurd_close", lambda: with_row(good(), 30, Close=1e6, High=1e6), repaired={"spike_bars_dropped": 1, "rows": N - 1}),
    # point 3: raw exceptions become messages naming the file and the problem
    Case("utf16_csv", lambda: good().to_csv(index=False).encode("utf-16"), same=True, sources=("csv",)),
    Case("binary_file", lambda: bytes(range(256)) * 8, fails=("not a text file",), sources=("csv",)),
    Case("xlsx_renamed_csv", xlsx_bytes, fails=("zip archive (an Excel .xlsx",), sources=("csv",)),
    Case(
        "latin1_csv",
        lambda: "Date,Open,High,Low,Close,Volume,Note\n2024-01-02,1,2,0.5,1.5,10,caf\xe9\n".encode("latin-1"),
        fails=("not utf-8 text",),
        sources=("csv",),
    ),
    Case(
        "vendor_footer",
        lambda: csv_bytes(good()) + b"Data provided by Example Vendor Inc. All rights reserved.\n",
        fails=("'Data provided by Example Vendor Inc. All rights reserved.' at row 60", "footer"),
        sources=("csv",),
    ),
    Case(
        "ragged_rows",
        lambda: csv_bytes(good()).replace(b"\n2024-01-10,", b",7,8\n2024-01-10,", 1),
        fails=("not a readable CSV file", "Expected 6 fields"),
        sources=("csv",),
    ),
    Case(
        "dst_ambiguous_local_time",
        lambda: at_local(good(), "01:30", "2024-11-05"),
        settings={"source_tz": "America/New_York"},
        fails=("cannot be read as America/New_York", "2024-11-03 01:30"),
    ),
    Case(
        "dst_missing_local_time",
        lambda: at_local(good(), "02:30", "2024-03-12"),
        settings={"source_tz": "America/New_York"},
        fails=("cannot be read as America/New_York", "2024-03-10 02:30"),
    ),
    Case("timeframe_and_symbol_columns", lambda: good().assign(timeframe=1440, symbol="ACME"), same=True),
    Case("corrupt_file_among_several", lambda: good(), fails=("1 of 3 file(s) unreadable", "dt=2024-02-01"), sources=("parquet",)),
    # point 6: a link out of TB_RAW_DIR is refused unless allowed; one inside it is just a file
    Case("symlink_out_of_the_raw_folder", good, fails=("outside TB_RAW_DIR", "TB_RAW_ALLOW_LINKS=1")),
    Case("symlink_out_of_the_raw_folder_allowed", good, settings={"raw_allow_links": True}, same=True),
    Case("symlink_inside_the_raw_folder", good, same=True),
    # point 4: times that were silently wrong
    Case("naive_and_offset_timestamps_mixed", lambda: mixed_offsets(good()), settings={"source_tz": "America/New_York"}),
    Case("tokyo_daily_dates", good, settings={"source_tz": "Asia/Tokyo"}, same=True),
    # what was handled before, kept so
    Case("missing_column", lambda: good().drop(columns="Low"), fails=("missing column(s) low",)),
    Case("non_numeric_price", lambda: with_row(good(), 5, Close="12,5"), fails=("column 'close' is not numeric: value '12,5'",)),
    Case("nan_price", lambda: with_row(good(), 7, Open=np.nan), fails=("column 'open' has 1 NaN/inf value(s)",)),
    Case("infinite_price", lambda: with_row(good(), 7, High=np.inf), fails=("column 'high' has 1 NaN/inf value(s)",)),
    Case("zero_price", lambda: with_row(good(), 7, Low=0.0), fails=("column 'low' has 1 zero or negative price(s)",)),
    Case("negative_price", lambda: with_row(good(), 7, Low=-1.0), fails=("column 'low' has 1 zero or negative price(s)",)),
    Case("negative_volume", lambda: with_row(good(), 7, Volume=-5.0), fails=("column 'volume' has 1 negative",)),
    Case(
        "conflicting_duplicates",
        lambda: pd.concat([good(), with_row(good().iloc[[10]], 10, Close=1.0)]),
        fails=("duplicate timestamp 2024-01-15 00:00:00+00:00 with different values",),
    ),
    Case("exact_duplicates", lambda: pd.concat([good(), good().iloc[[10, 11]]]), repaired={"duplicates_dropped": 2, "rows": N}),
    Case("unsorted_rows", lambda: good().iloc[::-1], repaired={"reordered_rows": N - 1, "rows": N}),
    Case("unsorted_rows_fail_policy", lambda: good().iloc[::-1], config={"policy": "fail"}, fails=("rows are not sorted by time",)),
    Case("high_below_low", lambda: with_row(good(), 3, High=90.0, Low=110.0), repaired={"ohlc_repaired": 1, "rows": N}),
    Case("missing_volume_on_some_rows", lambda: with_row(good(), 4, Volume=np.nan), repaired={"volume_filled": 1}),
    Case("unknown_split_value", lambda: good().assign(split="valid"), fails=("'data_split' must be 'train' or 'test', got 'valid'",)),
    Case("unparseable_date", lambda: with_row(good(), 9, Date="not a date"), fails=("'not a date' at row 9",)),
    Case("two_columns_one_meaning", lambda: good().assign(Last=good()["Close"]), fails=("both mean 'close'",)),
    Case("header_only", lambda: good().iloc[:0], fails=("no bars (empty result)",)),
    Case("empty_file", lambda: b"", fails=("the file is empty",), sources=("csv",)),
    # issue 26: accepted silently, or hanging
    Case(
        "csv_cut_mid_write",
        lambda: csv_bytes(good()).rstrip(b"\n").rsplit(b",", 1)[0][:-3],  # the last line loses its volume and a price its digits
        fails=("line 61", "has 5 of 6 fields and no line end", "cut while being written"),
        sources=("csv",),
    ),
    Case("volume_of_2_to_the_63", lambda: with_row(good(), 7, Volume=2.0**63), fails=("column 'volume' has 1 value(s) of 2^53 or more",)),
    Case("volume_beyond_2_to_the_64", lambda: with_row(good(), 8, Volume=3.0e19), fails=("value(s) of 2^53 or more", "2024-01-11")),
    Case(
        "a_row_1ms_after_a_daily_bar",
        lambda: pd.concat([good(), with_row(good().iloc[[10]], 10, Date="2024-01-15 00:00:00.001", Close=1.0)]),
        fails=("1 row(s) with a time of day in a file of dates, first at 2024-01-15 00:00:00.001",),
    ),
    Case(
        "a_row_at_16h_of_a_daily_bar",
        lambda: pd.concat([good(), with_row(good().iloc[[10]], 10, Date="2024-01-15 16:00", Close=1.0)]),
        fails=("row(s) with a time of day in a file of dates",),
    ),
    Case(
        "all_constant_prices",
        lambda: good().assign(Open=100.0, High=100.0, Low=100.0, Close=100.0),
        fails=("every open, high, low and close of its 60 rows is 100", "placeholder"),
    ),
    Case("named_pipe", good, fails=("is not a regular file (a named pipe",)),
    Case(
        "epoch_seconds",
        lambda: good().assign(Date=(pd.bdate_range("2024-01-01", periods=N) - pd.Timestamp(0)) // pd.Timedelta("1s")),
        same=True,
    ),
]


def write_input(kind: str, raw: Path, case: Case) -> None:
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    if case.name == "named_pipe":  # a reader that opened it would wait for a writer forever
        target = raw / f"{SYMBOL}.csv" if kind == "csv" else raw / SYMBOL / "dt=2024-01-01" / "part-0.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(target)
        return
    data = case.make()
    if kind == "csv":
        (raw / f"{SYMBOL}.csv").write_bytes(data if isinstance(data, bytes) else csv_bytes(data))
        return
    data = data.astype({c: str for c in data.columns if data[c].dtype == object})
    if case.name == "corrupt_file_among_several":
        for month, rows in data.groupby(data["Date"].str[:7]):
            folder = raw / SYMBOL / f"dt={month}-01"
            folder.mkdir(parents=True)
            rows.to_parquet(folder / "part-0.parquet", index=False)
        victim = raw / SYMBOL / "dt=2024-02-01" / "part-0.parquet"
        victim.write_bytes(victim.read_bytes()[:40] + b"\xff" * 64 + victim.read_bytes()[104:])
        return
    (raw / SYMBOL / "dt=2024-01-01").mkdir(parents=True)
    data.to_parquet(raw / SYMBOL / "dt=2024-01-01" / "part-0.parquet", index=False)


def write_linked(kind: str, raw: Path, case: Case) -> None:
    """The good file elsewhere (outside the raw folder, or in a hidden folder inside it) and a
    symlink to it where the source looks."""
    elsewhere = raw.parent / "elsewhere" if "out_of" in case.name else raw / ".store"
    write_input(kind, elsewhere, Case("good", good))
    raw.mkdir(parents=True, exist_ok=True)
    name = f"{SYMBOL}.csv" if kind == "csv" else SYMBOL
    (raw / name).symlink_to(elsewhere / name)


@pytest.fixture(scope="module")
def stored_good(tmp_path_factory):
    """Per source: a warehouse holding the good partition, and that partition's rows."""
    out = {}
    for kind in ("csv", "parquet"):
        folder = tmp_path_factory.mktemp(f"good_{kind}")
        write_input(kind, folder / "raw", Case("good", good))
        settings = make_settings(folder, source=kind, raw_dir=str(folder / "raw"), symbols=(SYMBOL,), timeframes=("1d",))
        result = run(build_definitions(settings), KEY, selection=[dg.AssetKey("bars")])
        assert result.success, failure_text(result)
        out[kind] = (Path(settings.warehouse), stored(settings, SYMBOL, "1d"))
    return out


PARAMS = [pytest.param(kind, case, id=f"{kind}-{case.name}") for case in CASES for kind in case.sources]


def test_the_table_covers_at_least_thirty_kinds():
    assert len(CASES) >= 30 and len(PARAMS) >= 60


@pytest.mark.parametrize("kind,case", PARAMS)
def test_bad_input_fails_clearly_or_is_repaired_and_counted_and_never_damages_stored_bars(tmp_path, stored_good, kind, case):
    warehouse, before = stored_good[kind]
    shutil.copytree(warehouse, tmp_path / "warehouse")
    raw = tmp_path / "raw"
    (write_linked if case.name.startswith("symlink") else write_input)(kind, raw, case)
    settings = make_settings(tmp_path, source=kind, raw_dir=str(raw), symbols=(SYMBOL,), timeframes=("1d",), **case.settings)
    config = {"ops": {"bars": {"config": case.config}}} if case.config else None
    result = run(build_definitions(settings), KEY, run_config=config, selection=[dg.AssetKey("bars")])
    after = stored(settings, SYMBOL, "1d")
    if case.fails:
        assert not result.success, f"{case.name} was stored: {len(after)} rows"
        reason = step_failure_reason(result.all_events)  # what tb run's summary and the alerts show
        for words in (*case.fails, str(raw), SYMBOL):
            assert words.lower() in reason.lower(), f"{words!r} not in {reason!r}"
        assert reason.startswith("bars: ") and "Error: " in reason
        pd.testing.assert_frame_equal(after, before)  # the stored partition is untouched
        # the file fixed, the next run succeeds and stores what the good file stored
        write_input(kind, raw, Case("good", good))
        again = run(
            build_definitions(make_settings(tmp_path, source=kind, raw_dir=str(raw), symbols=(SYMBOL,), timeframes=("1d",))),
            KEY,
            selection=[dg.AssetKey("bars")],
        )
        assert again.success, failure_text(again)
        pd.testing.assert_frame_equal(stored(settings, SYMBOL, "1d"), before)
        return
    assert result.success, failure_text(result)
    assert all(c.passed for c in result.get_asset_check_evaluations())
    counts = metadata(result)
    for key, value in case.repaired.items():
        assert counts[key] == value, (key, counts[key])
    if case.repaired:
        assert counts["repaired_rows"] + counts["stored_bars_lost"] > 0
    if case.same:
        pd.testing.assert_frame_equal(after, before)
    if case.name == "naive_and_offset_timestamps_mixed":
        next_day(after, before)
