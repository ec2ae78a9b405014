"""Forward-return targets: the change of the close over the next `lookforward` bars, computed once.

The `targets` table stores them beside each event's triple-barrier label (`fwd_*` columns, with
`fwd_t1`, the bar where the horizon ends: what purging needs), and the training service reads
them from there: one horizon for the partition, one computation. `direction` is 1 when the close
`lookforward` bars ahead is at or above today's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError

# target_transform -> the targets table's column of that forward change
TRANSFORMS = {"log_return": "fwd_log_return", "pct_change": "fwd_pct_change", "none": "fwd_raw_change"}
DIRECTION = "fwd_direction"
END = "fwd_t1"


def forward_returns(close: pd.Series, lookforward: int) -> pd.DataFrame:
    """Regression/classification targets over `lookforward` bars (NaN, and NaT for the end, where the
    future is unknown): log return, percent change, raw price change, direction, and the bar the
    horizon ends on."""
    if lookforward < 1:
        raise TbError(f"lookforward must be at least 1 bar, got {lookforward}")
    c = close.to_numpy("float64")
    fut = np.full_like(c, np.nan)
    fut[:-lookforward] = c[lookforward:]
    direction = np.where(np.isnan(fut), np.nan, (fut >= c).astype("float64"))
    ends = pd.Series(close.index, index=close.index).shift(-lookforward)
    return pd.DataFrame(
        {
            "fwd_log_return": np.log(fut / c),
            "fwd_pct_change": fut / c - 1.0,
            "fwd_raw_change": fut - c,
            DIRECTION: direction,
            END: ends,
        },
        index=close.index,
    )


def price_from_change(close: np.ndarray, change: np.ndarray, transform: str) -> np.ndarray:
    """The future price a predicted (transformed) change implies: what rmse_price scores."""
    if transform == "log_return":
        return close * np.exp(change)
    if transform == "pct_change":
        return close * (1.0 + change)
    if transform == "none":
        return close + change
    raise TbError(f"target_transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
