"""OHLCV bars: the one path from a vendor frame to bars at a timeframe (columns, timestamps,
validation with counted repairs, resampling: one module each beside this one).

Every function takes the symbol and the origin (file, folder or source name) only to put them
in error messages: a user with a bad file must be told which file, column and timestamp.
"""

from __future__ import annotations

import pandas as pd

from tb_assets.core.data.resample import resample_bars
from tb_assets.core.data.time_index import check_resolution, infer_base_step
from tb_assets.core.data.timestamps import DateOrder
from tb_assets.core.data.validation import SPIKE_FACTOR, BarsReport, Policy, validate_bars


def prepare_bars(
    raw: pd.DataFrame, *, symbol: str, origin: str, timeframe: str, policy: Policy = "repair", tz: str = "UTC",
    date_order: DateOrder = "auto", spike_factor: float = SPIKE_FACTOR,
) -> tuple[pd.DataFrame, BarsReport, pd.Timedelta | None]:
    """Validate vendor bars and resample them to `timeframe`: the one path every stage uses.

    Returns the bars, the validation report and the source's own bar size.
    """
    clean, report = validate_bars(
        raw, symbol=symbol, origin=origin, policy=policy, tz=tz, date_order=date_order, spike_factor=spike_factor
    )
    base = infer_base_step(clean["ts"])
    check_resolution(base, timeframe, symbol=symbol)
    return resample_bars(clean, timeframe), report, base
