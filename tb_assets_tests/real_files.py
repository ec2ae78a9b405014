"""The real market files under TB_REAL_DATA the tests read, each under the symbol the CSV source sees."""

from tb_assets.core.data.validation import validate_bars
from tb_assets.sources import make_source

REAL_FILES = {
    "VIX": "finance-vix/vix-daily.csv",
    "SPYD": "pandas-ta/SPY_D.csv",
    "SPY0818": "mplfinance/yahoofinance-SPY-20080101-20180101.csv",
    "AAPL": "mplfinance/yahoofinance-AAPL-20040819-20180120.csv",
    "INTC": "mplfinance/yahoofinance-INTC-19950101-20040412.csv",
    "SPXM": "mplfinance/SP500_NOV2019_IDayRVol.csv",
    "SPXMZ": "mplfinance/SP500_NOV2019_IDay.csv",
    "SPXD": "mplfinance/SP500_NOV2019_Hist.csv",
    "SPYMIN": "pyalgotrade/nt-spy-minute-2011-03.csv",
    "SPYJAN": "pyalgotrade/nt-spy-minute-2011.csv",
    "SPY2010": "pyalgotrade/spy-2010-yahoofinance.csv",
}


def load(real_csv_dir, symbol, policy="repair", tz="UTC"):
    """A real file's bars and validation report, read through the CSV source as a user's would be."""
    raw = make_source("csv", raw_dir=str(real_csv_dir)).load(symbol)
    return validate_bars(raw.frame, symbol=symbol, origin=raw.origin, policy=policy, tz=tz)
