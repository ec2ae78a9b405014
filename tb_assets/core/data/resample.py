"""Resampling validated bars to a timeframe, and counting the holes in them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tb_assets.core.data.columns import BAR_COLUMNS
from tb_assets.core.data.time_index import bucket_start, step
from tb_assets.core.data.timeframes import INTRADAY, validate_timeframe


def resample_bars(bars: pd.DataFrame, tf: str) -> pd.DataFrame:
    """Aggregate validated base bars into `tf` buckets labelled by the bucket start.

    open first, high max, low min, close last, volume sum, vwap volume-weighted (last when the
    bucket traded nothing), trade_count sum, other numeric columns last, data_split 'test' if any
    base bar of the bucket is 'test'. Only buckets that contain bars exist: nights, weekends and
    holidays are not invented.
    """
    validate_timeframe(tf)
    if bars.empty:
        return bars.copy()
    key = bucket_start(bars["ts"], tf)
    if key.equals(pd.DatetimeIndex(bars["ts"])):
        return bars.reset_index(drop=True).copy()  # already at this timeframe

    df = bars.assign(_bucket=key.to_numpy())
    g = df.groupby("_bucket", sort=True)
    out = pd.DataFrame(
        {
            "open": g["open"].first(),
            "high": g["high"].max(),
            "low": g["low"].min(),
            "close": g["close"].last(),
            "volume": g["volume"].sum(min_count=1),
        }
    )
    # vwap: sum(vwap*volume)/sum(volume); NaN-safe and falls back to the last vwap
    pv = (df["vwap"] * df["volume"]).groupby(df["_bucket"]).sum(min_count=1)
    vsum = df["volume"].where(df["vwap"].notna()).groupby(df["_bucket"]).sum(min_count=1)
    vw = pv / vsum.where(vsum > 0)
    out["vwap"] = vw.fillna(g["vwap"].last())
    out["trade_count"] = g["trade_count"].sum(min_count=1)
    split = df["data_split"]
    is_test = split.eq("test").fillna(False).groupby(df["_bucket"]).any()
    has_split = split.notna().groupby(df["_bucket"]).any()
    out["data_split"] = pd.Series(np.where(is_test, "test", "train"), index=out.index, dtype="string").where(
        has_split, pd.NA
    )
    for col in (c for c in bars.columns if c not in BAR_COLUMNS):
        out[col] = g[col].last()
    out.index.name = "ts"
    out = out.reset_index()
    return out[[*BAR_COLUMNS, *(c for c in bars.columns if c not in BAR_COLUMNS)]]


GAP_RULE = {
    "intraday": "interval longer than one bar between two bars of the same UTC day",
    "1d": "interval longer than 4 days (more than a long weekend)",
    "1w": "interval longer than 1 week",
}


def count_gaps(ts: pd.Series | pd.DatetimeIndex, tf: str) -> tuple[int, pd.Timedelta]:
    """Holes in the data at timeframe `tf`, by GAP_RULE; returns (count, largest interval).

    Nights and weekends are not gaps: they are how markets work, and counting them would bury
    the real holes (a missing hour inside a session, a missing week of daily bars).
    """
    idx = pd.DatetimeIndex(ts)
    if len(idx) < 2:
        return 0, pd.Timedelta(0)
    d = idx[1:] - idx[:-1]
    largest = d.max()
    if tf in INTRADAY:
        same_day = idx[1:].normalize() == idx[:-1].normalize()
        n = int(((d > step(tf)) & same_day).sum())
    elif tf == "1d":
        n = int((d > pd.Timedelta(days=4)).sum())
    else:
        n = int((d > step(tf)).sum())
    return n, largest
