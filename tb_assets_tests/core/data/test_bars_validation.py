"""Every validation rule: the error names the symbol, origin, column and timestamp."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.data.columns import BAR_COLUMNS, normalize_columns
from tb_assets.core.data.timestamps import parse_timestamps
from tb_assets.core.data.validation import ohlcv_problems, shrink_guard, validate_bars
from tb_assets.core.errors import BarsValidationError
from tb_assets_tests.conftest import minute_bars


def run(df, policy="repair", tz="UTC"):
    return validate_bars(df, symbol="SPX", origin="spx.csv", policy=policy, tz=tz)


def test_clean_bars_pass_unchanged_with_full_schema():
    raw = minute_bars()
    out, rep = run(raw)
    assert list(out.columns) == list(BAR_COLUMNS)
    assert rep.repaired_rows == 0 and rep.rows_in == rep.rows_out == len(raw)
    np.testing.assert_allclose(out["close"], raw["close"])
    assert str(out["ts"].dt.tz) == "UTC"
    assert out["vwap"].isna().all() and out["data_split"].isna().all()


def test_vendor_spellings_and_adjusted_close():
    raw = pd.DataFrame(
        {"Date": ["2020-01-02", "2020-01-03"], "Open": [1.0, 2], "High": [2.0, 3], "Low": [0.5, 1], "Close": [1.5, 2],
         "Adj Close": [1.4, 1.9], "Volume": [10, 20], "Comment": ["x", "y"]}
    )
    out, rep = run(raw)
    assert rep.ignored_columns == ["Adj Close", "Comment"]
    assert out["close"].tolist() == [1.5, 2.0]  # never the adjusted close
    assert out["ts"].iloc[0] == pd.Timestamp("2020-01-02", tz="UTC")


def test_two_columns_meaning_the_same_is_an_error():
    raw = minute_bars().rename(columns={"ts": "Date"}).assign(timestamp=lambda d: d["Date"])
    with pytest.raises(BarsValidationError, match="'Date' and 'timestamp' both mean 'ts'"):
        run(raw)


def test_missing_column_names_file_and_found_columns():
    with pytest.raises(BarsValidationError, match=r"SPX \(spx.csv\): missing column\(s\) low; found ts, open, high, close"):
        run(minute_bars().drop(columns=["low", "volume"]))


def test_non_numeric_column_names_value_and_timestamp():
    raw = minute_bars()
    raw["close"] = raw["close"].astype(object)
    raw.loc[3, "close"] = "n/a"
    with pytest.raises(BarsValidationError, match=r"column 'close' is not numeric: value 'n/a' at 2024-01-02 14:33:00\+00:00"):
        run(raw)


def test_numeric_strings_are_accepted():
    raw = minute_bars()
    raw["open"] = raw["open"].map(lambda v: f" {v:.6f} ")
    out, _ = run(raw)
    assert out["open"].dtype == "float64"


@pytest.mark.parametrize("value,what", [(np.nan, "NaN/inf"), (np.inf, "NaN/inf"), (0.0, "zero or negative"), (-5.0, "zero or negative")])
def test_bad_prices_fail_whatever_the_policy(value, what):
    raw = minute_bars()
    raw.loc[4, "low"] = value
    for policy in ("repair", "fail"):
        with pytest.raises(BarsValidationError, match=rf"column 'low' has 1 {what}.*first at 2024-01-02 14:34:00"):
            run(raw, policy)


def test_negative_volume_fails():
    raw = minute_bars()
    raw.loc[2, "volume"] = -1
    with pytest.raises(BarsValidationError, match=r"'volume' has 1 negative.*14:32"):
        run(raw)


def test_partial_missing_volume_repaired_or_failed():
    raw = minute_bars()
    raw.loc[[1, 5], "volume"] = np.nan
    out, rep = run(raw)
    assert rep.volume_filled == 2 and out.loc[1, "volume"] == 0
    with pytest.raises(BarsValidationError, match=r"'volume' is empty on 2 row\(s\), first at 2024-01-02 14:31"):
        run(raw, "fail")


def test_no_volume_at_all_is_an_index():
    out, rep = run(minute_bars().drop(columns="volume"))
    assert not rep.has_volume and out["volume"].isna().all() and rep.repaired_rows == 0


def test_high_below_low_repaired_with_count_or_failed():
    raw = minute_bars()
    raw.loc[[2, 7], ["high", "low"]] = raw.loc[[2, 7], ["low", "high"]].to_numpy()  # swapped
    raw.loc[9, "close"] = raw.loc[9, "high"] + 1  # close above the high
    out, rep = run(raw)
    assert rep.ohlc_repaired == 3
    assert ohlcv_problems(out) == []
    assert out.loc[9, "high"] == raw.loc[9, "close"]
    with pytest.raises(BarsValidationError, match=r"inconsistent OHLC on 3 row\(s\), first at 2024-01-02 14:32"):
        run(raw, "fail")


def test_unsorted_rows_sorted_or_failed():
    raw = minute_bars().iloc[::-1].reset_index(drop=True)
    out, rep = run(raw)
    assert out["ts"].is_monotonic_increasing and rep.reordered_rows == len(raw) - 1
    with pytest.raises(BarsValidationError, match=r"not sorted by time: 2024-01-02 14:40:00\+00:00 comes after 2024-01-02 14:41"):
        run(raw, "fail")


def test_exact_duplicates_dropped_or_failed_and_conflicts_always_fail():
    raw = minute_bars()
    dup = pd.concat([raw, raw.iloc[[3]]]).sort_values("ts", kind="stable").reset_index(drop=True)
    out, rep = run(dup)
    assert rep.duplicates_dropped == 1 and len(out) == len(raw)
    with pytest.raises(BarsValidationError, match=r"duplicate timestamp 2024-01-02 14:33"):
        run(dup, "fail")
    conflict = dup.copy()
    conflict.loc[4, "close"] = conflict.loc[4, "close"] * 1.0001
    conflict.loc[4, "high"] = conflict.loc[4, ["high", "close"]].max()
    with pytest.raises(BarsValidationError, match=r"duplicate timestamp 2024-01-02 14:33:00\+00:00 with different values"):
        run(conflict)


def test_naive_timestamps_localised_and_aware_converted():
    raw = minute_bars()
    naive = raw.assign(ts=raw["ts"].dt.tz_localize(None))
    out, _ = run(naive, tz="America/New_York")
    assert out["ts"].iloc[0] == pd.Timestamp("2024-01-02 19:30", tz="UTC")  # 14:30 EST = 19:30 UTC
    aware = raw.assign(ts=raw["ts"].dt.tz_convert("Asia/Tokyo"))
    out2, _ = run(aware)
    assert (out2["ts"] == raw["ts"]).all()


def test_mixed_offset_strings_become_utc_instants():
    ts = parse_timestamps(pd.Series(["2024-03-08T09:30:00-05:00", "2024-03-11T09:30:00-04:00"]), origin="x")
    assert list(ts) == [pd.Timestamp("2024-03-08 14:30", tz="UTC"), pd.Timestamp("2024-03-11 13:30", tz="UTC")]


@pytest.mark.parametrize(
    "values,first",
    [(["20110103 143000", "20110103 143100"], "2011-01-03 14:30"), (["11/05/2019 09:30", "11/05/2019 09:31"], "2019-11-05 09:30"),
     ([1_700_000_000, 1_700_000_060], "2023-11-14 22:13:20"), ([1_700_000_000_000, 1_700_000_060_000], "2023-11-14 22:13:20")],
)
def test_timestamp_formats(values, first):
    assert parse_timestamps(pd.Series(values), origin="x")[0] == pd.Timestamp(first, tz="UTC")


def test_unparseable_and_missing_timestamps_name_the_row():
    with pytest.raises(BarsValidationError, match="not timestamps"):
        parse_timestamps(pd.Series(["2024-01-01", "yesterday-ish"]), origin="f.csv")
    with pytest.raises(BarsValidationError, match="row 1"):
        parse_timestamps(pd.Series(["2024-01-01", None]), origin="f.csv")


def test_dst_gap_in_local_time_is_an_error_not_a_guess():
    with pytest.raises(BarsValidationError, match="cannot be read as America/New_York"):
        parse_timestamps(pd.Series(["2024-03-10 02:30"]), origin="f.csv", tz="America/New_York")


def test_empty_input():
    with pytest.raises(BarsValidationError, match=r"SPX \(spx.csv\): no bars"):
        run(minute_bars().iloc[:0])


def test_data_split_values():
    raw = minute_bars().assign(data_split=["Train"] * 6 + ["TEST"] * 6)
    out, _ = run(raw)
    assert out["data_split"].tolist() == ["train"] * 6 + ["test"] * 6
    with pytest.raises(BarsValidationError, match=r"'data_split' must be 'train' or 'test', got 'valid'"):
        run(raw.assign(data_split=["valid"] * 12))


def test_unknown_policy_refused():
    with pytest.raises(BarsValidationError, match="policy"):
        run(minute_bars(), policy="ignore")


def test_normalize_keeps_unknown_numeric_columns():
    out, ignored = normalize_columns(minute_bars().assign(open_interest=1.0), origin="x")
    assert "open_interest" in out.columns and ignored == []


def test_ohlcv_problems_finds_each_broken_contract():
    good, _ = run(minute_bars())
    assert ohlcv_problems(good) == []
    bad = good.copy()
    bad.loc[3, "high"] = bad.loc[3, "low"] - 1
    assert "outside [low, high]" in ohlcv_problems(bad)[0]
    rev = good.iloc[::-1].reset_index(drop=True)
    assert "not strictly increasing" in ohlcv_problems(rev)[0]
    neg = good.copy()
    neg.loc[0, "close"] = -1.0
    assert any("non-positive" in p for p in ohlcv_problems(neg))
    fut = good.copy()
    assert "future" in ohlcv_problems(fut, now=pd.Timestamp("2024-01-02 14:35", tz="UTC"))[0]
    naive = good.assign(ts=good["ts"].dt.tz_localize(None))
    assert "not UTC" in ohlcv_problems(naive)[0]
    assert ohlcv_problems(good.drop(columns="volume")) == ["missing column(s) volume"]


def test_naive_rows_beside_offset_rows_are_read_in_the_source_zone():
    ts = parse_timestamps(pd.Series(["2024-01-05 10:00", "2024-01-05 11:00-05:00", "2024-01-05T12:00:00Z",
                                     "2024-01-05T12:00:00.5+0100"]), origin="x", tz="America/New_York")
    assert list(ts) == [pd.Timestamp(t, tz="UTC") for t in ("2024-01-05 15:00", "2024-01-05 16:00", "2024-01-05 12:00",
                                                            "2024-01-05 11:00:00.5")]


@pytest.mark.parametrize("values", [
    pd.Series(["2024-01-05", "2024-01-08"]),  # naive dates, TB_SOURCE_TZ=Asia/Tokyo
    pd.Series(["2024-01-05T00:00:00+09:00", "2024-01-08T00:00:00+09:00"]),  # midnight in Tokyo, as offsets
    pd.Series(pd.to_datetime(["2024-01-05", "2024-01-08"]).tz_localize("Asia/Tokyo")),  # an aware parquet column
])
def test_a_daily_bar_keeps_its_exchange_date(values):
    assert list(parse_timestamps(values, origin="x", tz="Asia/Tokyo")) == [pd.Timestamp("2024-01-05", tz="UTC"),
                                                                           pd.Timestamp("2024-01-08", tz="UTC")]
    # a time of day makes them instants again: 09:00 in Tokyo is midnight UTC
    intraday = pd.Series(pd.to_datetime(["2024-01-05 09:00", "2024-01-08 09:00"]).tz_localize("Asia/Tokyo"))
    assert parse_timestamps(intraday, origin="x")[0] == pd.Timestamp("2024-01-05 00:00", tz="UTC")


def test_day_month_order_is_decided_once_or_refused():
    assert parse_timestamps(pd.Series(["13/01/2024", "02/01/2024"]), origin="x")[1] == pd.Timestamp("2024-01-02", tz="UTC")
    assert parse_timestamps(pd.Series(["01/13/2024", "01/02/2024"]), origin="x")[1] == pd.Timestamp("2024-01-02", tz="UTC")
    # dashes too: "-2024" ends the date, it is not a UTC offset of -20:24
    assert list(parse_timestamps(pd.Series(["05-01-2024", "15-01-2024"]), origin="x")) == [
        pd.Timestamp("2024-01-05", tz="UTC"), pd.Timestamp("2024-01-15", tz="UTC")]
    with pytest.raises(BarsValidationError, match=r"mixes day-first and month-first dates: '13/01/2024' \(row 0\) and '01/13/2024' \(row 1\)"):
        parse_timestamps(pd.Series(["13/01/2024", "01/13/2024"]), origin="x")
    # 1 Feb and 2 Jan 2024 are both weekdays, and one row is in order either way: ambiguous
    with pytest.raises(BarsValidationError, match="TB_DATE_ORDER=dmy or TB_DATE_ORDER=mdy"):
        parse_timestamps(pd.Series(["01/02/2024"]), origin="x")
    assert parse_timestamps(pd.Series(["01/02/2024"]), origin="x", date_order="dmy")[0] == pd.Timestamp("2024-02-01", tz="UTC")
    # only one reading runs forward in the file's order: 2 Mar, 2 Apr, 1 May (3 Feb, 4 Feb, 5 Jan does not)
    forward = pd.Series(["03/02/2024", "04/02/2024", "05/01/2024"])
    assert parse_timestamps(forward, origin="x")[0] == pd.Timestamp("2024-03-02", tz="UTC")


def test_bars_in_the_future_are_refused_before_anything_is_stored():
    raw = minute_bars()
    with pytest.raises(BarsValidationError, match=r"2 bar\(s\) dated in the future, first at 2024-01-02 14:40"):
        validate_bars(raw, symbol="SPX", origin="spx.csv", now=pd.Timestamp("2024-01-02 14:39", tz="UTC"))


def test_spikes_are_clipped_or_dropped_and_a_level_shift_is_accepted_after_two_bars():
    raw = minute_bars(60)
    raw.loc[20, "high"] = 1e300
    raw.loc[40, ["close", "high"]] = raw.loc[40, "close"] * 1000
    out, report = run(raw)
    assert report.spikes_repaired == 1 and report.spike_bars_dropped == 1 and len(out) == 59
    assert out["high"].iloc[20] == max(raw.loc[20, "open"], raw.loc[20, "close"])
    with pytest.raises(BarsValidationError, match="times off the median close of the last 5 bars"):
        run(raw, policy="fail")
    split = minute_bars(60)  # an unadjusted 50:1 split at bar 30
    split.loc[30:, ["open", "high", "low", "close"]] /= 50
    split.loc[30, "open"] = split.loc[30, "close"]
    split.loc[30, "high"] = split.loc[30, ["open", "close", "high"]].max()
    out, report = run(split)
    # nothing after a bar decides its fate: the first 2 bars at the new level are dropped (counted), then
    # the median of the last 5 closes has moved and the new level is kept
    assert report.spike_bars_dropped == 2 and report.spikes_repaired == 0
    assert list(out["ts"]) == list(split["ts"].drop(index=[30, 31]))
    squeeze = minute_bars(60)  # a squeeze: x2.3 a bar for 5 bars (x64 in all), then back: a market move, never a spike
    squeeze.loc[30:34, ["open", "high", "low", "close"]] *= np.cumprod([2.3] * 5)[:, None]
    squeeze.loc[30:34, "open"] = squeeze.loc[30:34, "close"]
    squeeze.loc[30:34, "high"] = squeeze.loc[30:34, ["open", "close", "high"]].max(axis=1)
    _, report = run(squeeze)
    assert report.spike_bars_dropped <= 2  # the fall back (x1/64 in one bar) is the only thing the rule may doubt


@pytest.mark.parametrize("shift", [12.0, 1 / 12.0])
def test_stored_bars_of_any_prefix_equal_the_full_runs(shift):
    """A stored bar never depends on bars after it: validating the first n rows of a file gives the
    full run's bars up to row n, for every n, with a genuine level shift (a reverse split), a fat
    finger and a wick in it (the centred window used to drop the newest bars of a shift until 10
    more arrived)."""
    raw = minute_bars(90)
    raw.loc[50:, ["open", "high", "low", "close"]] *= shift
    raw.loc[20, "high"] = raw.loc[20, "high"] * 40
    raw.loc[70, ["close", "low"]] = raw.loc[70, "close"] / 30
    full, _ = run(raw.copy())
    for n in range(1, len(raw) + 1):
        part, _ = run(raw.iloc[:n].copy())
        expected = full[full["ts"] <= raw["ts"].iloc[n - 1]].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, expected, obj=f"the first {n} rows")


def test_shrink_guard_counts_lost_bars_and_refuses_most_of_them():
    stored = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=100, tz="UTC"))
    assert shrink_guard(stored, pd.Series(stored[:60]), max_lost_fraction=0.5, allow=False, where="x") == 40
    with pytest.raises(BarsValidationError, match="would drop 99 of the 100 stored bars"):
        shrink_guard(stored, pd.Series(stored[:1]), max_lost_fraction=0.5, allow=False, where="x")
    assert shrink_guard(stored, pd.Series(stored[:1]), max_lost_fraction=0.5, allow=True, where="x") == 99
    assert shrink_guard(stored[:0], pd.Series(stored[:1]), max_lost_fraction=0.5, allow=False, where="x") == 0
