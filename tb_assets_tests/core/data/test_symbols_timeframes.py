import pandas as pd
import pytest

from tb_assets.core.data.symbols import parse_symbol_list, validate_symbol
from tb_assets.core.data.time_index import bucket_start, check_resolution, infer_base_step
from tb_assets.core.data.timeframes import parse_timeframe_list, validate_timeframe
from tb_assets.core.errors import ConfigError


@pytest.mark.parametrize("sym,canon", [("SPX", "SPX"), ("brk.b", "BRK.B"), ("^GSPC", "^GSPC"), ("EUR_USD", "EUR_USD"), (" ixic ", "IXIC"), ("ES-1", "ES-1")])
def test_valid_symbols_are_canonicalised(sym, canon):
    assert validate_symbol(sym) == canon


@pytest.mark.parametrize(
    "bad",
    ["", "..", "../etc", "a/b", "a\\b", "SPX|1d", "x'; DROP TABLE bars;--", "a b", "A" * 33, "...", "a..b", "sp x"],
)
def test_symbols_that_could_break_paths_or_sql_are_refused(bad):
    with pytest.raises(ConfigError) as err:
        validate_symbol(bad)
    assert "symbol" in str(err.value)


def test_symbol_list_dedupes_and_names_the_variable():
    assert parse_symbol_list("spx, IXIC,SPX,,") == ["SPX", "IXIC"]
    with pytest.raises(ConfigError, match="TB_SYMBOLS"):
        parse_symbol_list(" , ", what="TB_SYMBOLS")


def test_timeframes_parse_sorted_and_unknown_refused():
    assert parse_timeframe_list("1w, 1d,5m,1d") == ["5m", "1d", "1w"]
    with pytest.raises(ConfigError, match="2h"):
        validate_timeframe("2h")


def test_bucket_start_alignment():
    ts = pd.DatetimeIndex(["2024-01-03 13:59", "2024-01-03 14:00", "2024-01-07 23:59"], tz="UTC")  # Wed, Wed, Sun
    assert list(bucket_start(ts, "4h")) == list(pd.DatetimeIndex(["2024-01-03 12:00", "2024-01-03 12:00", "2024-01-07 20:00"], tz="UTC"))
    # weeks start Monday 00:00 UTC: Wed 3rd and Sun 7th are in the week of Mon 1st
    assert set(bucket_start(ts, "1w")) == {pd.Timestamp("2024-01-01", tz="UTC")}
    assert list(bucket_start(ts, "1d"))[2] == pd.Timestamp("2024-01-07", tz="UTC")


def test_base_step_is_the_typical_spacing_not_the_smallest():
    ts = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=30, tz="UTC")).append(pd.DatetimeIndex(["2024-03-01 00:01"], tz="UTC"))
    ts = ts.sort_values()
    assert infer_base_step(ts) == pd.Timedelta(days=1)
    assert infer_base_step(pd.Series(ts)) == pd.Timedelta(days=1)


def test_timeframe_finer_than_source_is_refused_with_advice():
    with pytest.raises(ConfigError, match=r"SPX: timeframe '1h' is finer than the source data.*'1d'"):
        check_resolution(pd.Timedelta(days=1), "1h", symbol="SPX")
    check_resolution(pd.Timedelta(days=1), "1d", symbol="SPX")
    check_resolution(pd.Timedelta(minutes=1), "5m", symbol="SPX")
