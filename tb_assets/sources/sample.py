"""Offline sample: real daily index data bundled with the `arch` package.

SPX and IXIC are daily OHLCV of the S&P 500 and NASDAQ Composite, 1999-2018 (Yahoo Finance,
as shipped by arch). VIX is the CBOE volatility index close, 2014-2019: a close-only series,
so its bars are flat (open = high = low = close) and carry no volume; the data set's empty
holiday rows are skipped and counted in the origin text.
"""

from __future__ import annotations

import pandas as pd

from tb_assets.core.errors import SourceError
from tb_assets.sources.base import BarSource, RawBars

SAMPLE_SYMBOLS = ("SPX", "IXIC", "VIX")
DEFAULT_PRIMARY = ("SPX", "IXIC")
# Each index is the other's context. VIX is opt-in (TB_CONTEXT_SYMBOLS=SPX,IXIC,VIX): its data
# set covers 2014-2019 only, and the inner join on timestamps would cut 1999-2013 away.
DEFAULT_CONTEXT = ("SPX", "IXIC")


class SampleSource(BarSource):
    name = "sample"

    def list_symbols(self) -> list[str]:
        return list(SAMPLE_SYMBOLS)

    def load(self, symbol: str) -> RawBars:
        if symbol == "SPX":
            from arch.data import sp500

            return RawBars(symbol, _ohlcv(sp500.load()), "arch.data.sp500")
        if symbol == "IXIC":
            from arch.data import nasdaq

            return RawBars(symbol, _ohlcv(nasdaq.load()), "arch.data.nasdaq")
        if symbol == "VIX":
            from arch.data import vix

            series = vix.load()["vix"]
            # arch aligns VIX to a calendar with US holidays as empty rows: those are not bars
            close = series.dropna()
            frame = pd.DataFrame(
                {"ts": close.index, "open": close.values, "high": close.values, "low": close.values, "close": close.values}
            )
            dropped = len(series) - len(close)
            return RawBars(symbol, frame, f"arch.data.vix (close only; {dropped} empty holiday rows skipped)")
        raise SourceError(
            f"unknown symbol {symbol!r} in the sample source: it has {', '.join(SAMPLE_SYMBOLS)} "
            "(set TB_SOURCE=csv/parquet and TB_RAW_DIR for your own data)"
        )


def _ohlcv(df: pd.DataFrame) -> pd.DataFrame:
    # Adj Close is dropped by validation; keep the vendor's own column names otherwise
    return df.reset_index()
