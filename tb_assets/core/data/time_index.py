"""How timestamps fall into a timeframe's buckets, and timestamps as epoch nanoseconds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tb_assets.core.data.timeframes import TIMEFRAMES, validate_timeframe
from tb_assets.core.errors import ConfigError


def step(tf: str) -> pd.Timedelta:
    return pd.Timedelta(seconds=TIMEFRAMES[validate_timeframe(tf)])


def bucket_start(ts: pd.Series | pd.DatetimeIndex, tf: str) -> pd.DatetimeIndex:
    """Label of the bucket each UTC timestamp falls in: the bucket's start.

    Intraday buckets are aligned to midnight UTC (4h: 00, 04, 08 ...), days are UTC calendar
    days and weeks start on Monday 00:00 UTC.
    """
    idx = pd.DatetimeIndex(ts)
    tf = validate_timeframe(tf)
    if tf == "1w":
        day = idx.floor("D")
        return day - pd.to_timedelta(day.dayofweek, unit="D")
    return idx.floor(step(tf))


def infer_base_step(ts: pd.Series | pd.DatetimeIndex) -> pd.Timedelta | None:
    """The source's native bar size: the most common spacing between consecutive bars.

    Gaps (nights, weekends, missing minutes) are longer than the native step, so the mode
    of the spacing is robust where the minimum would be fooled by a single odd bar.
    """
    idx = pd.DatetimeIndex(ts)
    if len(idx) < 2:
        return None
    diffs = pd.Series(idx[1:] - idx[:-1])
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        return None
    return diffs.mode().iloc[0]


def check_resolution(base: pd.Timedelta | None, tf: str, *, symbol: str) -> None:
    """Raise if the requested timeframe is finer than the source's own bars."""
    if base is None:
        return
    if step(tf) < base:
        finest = next((name for name in TIMEFRAMES if step(name) >= base), None)
        raise ConfigError(
            f"{symbol}: timeframe {tf!r} is finer than the source data (bars every {base}); "
            f"use {finest!r} or coarser"
        )


def epoch_ns(values) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC). `asi8` alone counts in the index's
    own unit (pandas 2 keeps us or s from DuckDB and Parquet), so comparing two indexes' `asi8`
    is wrong whenever their units differ."""
    index = values if isinstance(values, pd.DatetimeIndex) else pd.DatetimeIndex(values)
    if index.unit != "ns":  # as_unit copies even when the unit is already ns: a million-row copy per call
        index = index.as_unit("ns")
    return index.asi8


def from_epoch_ns(ns: np.ndarray, like: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """int64 nanoseconds since the epoch back to timestamps with `like`'s time zone and unit."""
    out = pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")
    out = out.tz_convert(like.tz) if like.tz is not None else out.tz_localize(None)
    return out if like.unit == "ns" else out.as_unit(like.unit)
