"""Real market data from TB_REAL_DATA through the CSV source, as a user's files would go.

Each file keeps its own quirks (column order, date formats, no header, newest row first,
out-of-order high/low); the assertions pin what we must make of them.
"""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.data.resample import count_gaps, resample_bars
from tb_assets.core.data.time_index import check_resolution, infer_base_step
from tb_assets.core.data.validation import ohlcv_problems
from tb_assets.core.errors import BarsValidationError
from tb_assets_tests.real_files import load

pytestmark = pytest.mark.real_data


def test_vix_out_of_order_high_low_repaired_and_counted(real_csv_dir):
    bars, rep = load(real_csv_dir, "VIX")
    assert len(bars) == 9235 and not rep.has_volume
    assert rep.ohlc_repaired >= 47  # the README counts 47 rows with high/low out of order
    assert ohlcv_problems(bars) == []
    # the file's early years (1990-91) are flat O=H=L=C bars: valid, and left untouched
    flat = bars[bars["ts"] < "1992-01-01"]
    assert len(flat) > 500 and (flat["high"] == flat["low"]).all() and (flat["open"] == flat["close"]).all()
    with pytest.raises(BarsValidationError, match=r"VIX \(.*VIX.csv\): inconsistent OHLC on \d+ row"):
        load(real_csv_dir, "VIX", policy="fail")


@pytest.mark.parametrize("symbol,rows,first", [("SPYD", 5241, "1999-11-01"), ("SPY0818", 2519, "2007-12-31"), ("INTC", None, "1995-01-03")])
def test_daily_files_with_vendor_columns(real_csv_dir, symbol, rows, first):
    bars, rep = load(real_csv_dir, symbol)
    if rows:
        assert len(bars) == rows
    assert bars["ts"].iloc[0] == pd.Timestamp(first, tz="UTC")
    assert ohlcv_problems(bars) == [] and rep.has_volume
    assert infer_base_step(bars["ts"]) == pd.Timedelta(days=1)
    weekly = resample_bars(bars, "1w")
    assert (weekly["ts"].dt.dayofweek == 0).all()
    assert weekly["volume"].sum() == bars["volume"].sum()
    assert 4.5 < len(bars) / len(weekly) <= 5.0  # about five trading days a week


def test_adjusted_close_is_never_the_close(real_csv_dir):
    bars, rep = load(real_csv_dir, "AAPL")
    raw = pd.read_csv(real_csv_dir / "AAPL.csv")
    assert "Adj Close" in rep.ignored_columns
    np.testing.assert_allclose(bars["close"].to_numpy(), raw["Close"].to_numpy())


def test_newest_first_file_is_sorted_or_refused(real_csv_dir):
    bars, rep = load(real_csv_dir, "SPY2010")
    assert bars["ts"].is_monotonic_increasing and rep.reordered_rows == len(bars) - 1
    assert bars["ts"].iloc[0] == pd.Timestamp("2010-01-04", tz="UTC")
    with pytest.raises(BarsValidationError, match="not sorted by time"):
        load(real_csv_dir, "SPY2010", policy="fail")


def test_naive_eastern_minutes_to_utc_and_resampled(real_csv_dir):
    bars, _ = load(real_csv_dir, "SPXM", tz="America/New_York")
    assert len(bars) == 1563
    assert bars["ts"].iloc[0] == pd.Timestamp("2019-11-05 14:30", tz="UTC")  # 09:30 EST
    assert infer_base_step(bars["ts"]) == pd.Timedelta(minutes=1)
    five = resample_bars(bars, "5m")
    assert five["volume"].sum() == bars["volume"].sum()
    assert five["high"].max() == bars["high"].max() and five["low"].min() == bars["low"].min()
    days = resample_bars(bars, "1d")
    assert len(days) == 4
    # the same minutes with M/D/Y dates and no volume parse to the same instants and prices
    zero, rep = load(real_csv_dir, "SPXMZ", tz="America/New_York")
    assert (zero["ts"].to_numpy() == bars["ts"].to_numpy()).all()
    np.testing.assert_allclose(zero["close"], bars["close"])
    assert (zero["volume"] == 0).all() and rep.has_volume
    # and the vendor's own daily bars agree with our daily resample of its minutes on the open
    hist, _ = load(real_csv_dir, "SPXD")
    ours = days.set_index(days["ts"].dt.date)["open"]
    theirs = hist.set_index(hist["ts"].dt.date)["open"]
    common = ours.index.intersection(theirs.index)
    assert len(common) == 4
    np.testing.assert_allclose(ours.loc[common], theirs.loc[common], rtol=2e-3)


@pytest.mark.parametrize("symbol,rows", [("SPYMIN", 17577), ("SPYJAN", 14180)])
def test_headerless_minute_files_with_gaps(real_csv_dir, symbol, rows):
    bars, rep = load(real_csv_dir, symbol)
    assert len(bars) == rows and rep.repaired_rows == 0
    assert infer_base_step(bars["ts"]) == pd.Timedelta(minutes=1)
    gaps, largest = count_gaps(bars["ts"], "1m")
    assert gaps > 100  # minutes without trades have no bar
    assert largest >= pd.Timedelta(hours=12)  # nights and weekends, not counted as gaps
    for tf in ("5m", "15m", "30m", "1h", "4h", "1d"):
        out = resample_bars(bars, tf)
        assert ohlcv_problems(out) == [], tf
        assert out["volume"].sum() == bars["volume"].sum()
        assert out["ts"].is_unique
    hourly = resample_bars(bars, "1h")
    assert len(hourly) < len(bars) / 30  # aggregated, no empty hours invented
    with pytest.raises(Exception, match="finer than the source"):
        check_resolution(infer_base_step(resample_bars(bars, "1h")["ts"]), "5m", symbol=symbol)
