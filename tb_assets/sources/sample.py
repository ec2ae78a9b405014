"""Offline sample: real daily index data, bundled.

SPX and IXIC are daily OHLCV of the S&P 500 and NASDAQ Composite, 1999-2018 (Yahoo Finance,
as shipped by the `arch` package). VIX is the CBOE volatility index, daily OHLC 1990-2026 (the
finance-vix data package, ODC-PDDL-1.0, shipped in tb_assets/sources/data/): no volume, flat bars
(open = high = low = close) before 1992 and a few dozen vendor rows with high/low out of order,
which `bars` repairs and counts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tb_assets.core.errors import SourceError
from tb_assets.sources.base import BarSource, RawBars
from tb_assets.sources.kinds import DEFAULT_UNIVERSE

SAMPLE_SYMBOLS = ("SPX", "IXIC", "VIX")
DEFAULT_PRIMARY, DEFAULT_CONTEXT = DEFAULT_UNIVERSE["sample"]  # SPX and IXIC as VIX's context would cut it to 1999-2018
VIX_FILE = Path(__file__).parent / "data" / "vix-daily.csv"


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
            from tb_assets.sources.csv import read_bars_csv

            return RawBars(symbol, read_bars_csv(VIX_FILE), f"{VIX_FILE.name} (CBOE VIX via finance-vix, ODC-PDDL-1.0)")
        raise SourceError(
            f"unknown symbol {symbol!r} in the sample source: it has {', '.join(SAMPLE_SYMBOLS)} "
            "(set TB_SOURCE=csv/parquet and TB_RAW_DIR for your own data)"
        )


def _ohlcv(df: pd.DataFrame) -> pd.DataFrame:
    # Adj Close is dropped by validation; keep the vendor's own column names otherwise
    return df.reset_index()
