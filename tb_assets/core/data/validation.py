"""Vendor bars to clean bars: validation with every repair counted, the stored-bars contract, and
the guard that keeps a shorter file from silently replacing a partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from tb_assets.core.data.columns import BAR_COLUMNS, PRICE_COLUMNS, SPLIT_VALUES, canonical_columns
from tb_assets.core.data.timestamps import DateOrder, parse_timestamps
from tb_assets.core.errors import BarsValidationError

Policy = Literal["repair", "fail"]


MAX_VOLUME = 2.0**53  # the largest count a float64 holds exactly
CONSTANT_FILE_ROWS = 20  # this many rows with one price throughout is a placeholder file, not a market
SPIKE_FACTOR = 10.0  # a price this many times off the recent median close is impossible, not a move


# the neighbourhood: the last 5 closes, the bar's own included. Causal, so a stored bar never changes
# when later bars arrive (a centred window looked 10 bars ahead and revised the newest bars), and short,
# so a squeeze that multiplies the price over weeks is never judged against last month's level; the
# price: a genuine level shift over spike_factor (an unadjusted split) loses its first 2 bars, counted
# as dropped spike bars, before the median moves to the new level
SPIKE_WINDOW = 5


@dataclass
class BarsReport:
    """What validation found and repaired; goes into the asset's metadata as numbers."""

    rows_in: int = 0
    rows_out: int = 0
    reordered_rows: int = 0
    duplicates_dropped: int = 0
    ohlc_repaired: int = 0
    volume_filled: int = 0
    spikes_repaired: int = 0  # a high or low far off the recent median, clipped to the bar's open/close
    spike_bars_dropped: int = 0  # an open or close far off the recent median: the bar is dropped
    has_volume: bool = True
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def repaired_rows(self) -> int:
        return (self.reordered_rows + self.duplicates_dropped + self.ohlc_repaired + self.volume_filled
                + self.spikes_repaired + self.spike_bars_dropped)


def _first_ts(ts: pd.DatetimeIndex, mask: np.ndarray) -> str:
    return str(ts[int(np.flatnonzero(mask)[0])])


def validate_bars(
    raw: pd.DataFrame,
    *,
    symbol: str,
    origin: str,
    policy: Policy = "repair",
    tz: str = "UTC",
    date_order: DateOrder = "auto",
    spike_factor: float = SPIKE_FACTOR,
    now: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, BarsReport]:
    """Turn a vendor frame into clean bars sorted by UTC `ts`, or raise naming what is wrong.

    Always errors: missing/non-numeric columns, NaN/inf/zero/negative prices, negative volume or
    one of 2^53 or more, unparseable or ambiguous timestamps, bars dated in the future, a row with a
    time of day in a file of dates, one price throughout a file, conflicting duplicate timestamps,
    unknown data_split values, no rows.
    Repaired under policy='repair' (counted in the report), errors under policy='fail':
    unsorted rows, exact duplicate rows, high < low or open/close outside [low, high],
    missing volume on some rows, prices `spike_factor` times off the median close of the last 5 bars (a wick is
    clipped to the bar's open/close, a bar whose open or close is off is dropped).
    """
    if policy not in ("repair", "fail"):
        raise BarsValidationError(f"unknown policy {policy!r}: use 'repair' or 'fail'")
    where = f"{symbol} ({origin})"
    report = BarsReport(rows_in=len(raw))
    if len(raw) == 0:
        raise BarsValidationError(f"{where}: no bars (empty result)")

    # column by column, as arrays: the raw frame is never copied whole, and an array changes only
    # where a repair changes it (10 million bars: the step's peak memory is what users run out of)
    renamed, report.ignored_columns = canonical_columns(raw, origin=where)
    columns = {canon: raw[col] for col, canon in renamed.items()}  # positions, not index labels, from here on
    ts = parse_timestamps(columns.pop("ts"), origin=where, tz=tz, date_order=date_order)
    later = now if now is not None else pd.Timestamp.now(tz="UTC")
    future = np.asarray(ts > later)
    if future.any():  # never repaired: a clock or a file that is wrong, and stored it would leak nothing but lies
        raise BarsValidationError(
            f"{where}: {int(future.sum())} bar(s) dated in the future, first at {_first_ts(ts, future)} "
            f"(now is {later:%Y-%m-%d %H:%M} UTC): the source {origin} dates them after now (for a file: is its time "
            "zone, TB_SOURCE_TZ, or the clock that wrote it wrong?)"
        )
    del future
    _stray_times_in_a_daily_file(ts, where)

    split = columns.pop("data_split", None)
    values = {col: _to_numeric(series, col=col, ts=ts, where=where) for col, series in columns.items()}
    del columns
    for col in PRICE_COLUMNS:
        v = values[col]
        bad = ~np.isfinite(v)
        if bad.any():
            raise BarsValidationError(
                f"{where}: column {col!r} has {int(bad.sum())} NaN/inf value(s), first at {_first_ts(ts, bad)}"
            )
        bad = v <= 0
        if bad.any():
            raise BarsValidationError(
                f"{where}: column {col!r} has {int(bad.sum())} zero or negative price(s), "
                f"first at {_first_ts(ts, bad)} ({v[bad][0]:g})"
            )
    first_price = values["open"][0]
    if len(ts) >= CONSTANT_FILE_ROWS and all((values[col] == first_price).all() for col in PRICE_COLUMNS):
        raise BarsValidationError(
            f"{where}: every open, high, low and close of its {len(ts):,} rows is {first_price:g}: a placeholder "
            "file, not bars (the stored bars stay)"
        )

    vol = values.get("volume")
    if vol is None or np.isnan(vol).all():
        values["volume"] = np.full(len(ts), np.nan)
        report.has_volume = False
    else:
        if np.isinf(vol).any() or (vol < 0).any():
            bad = np.isinf(vol) | (vol < 0)
            raise BarsValidationError(
                f"{where}: column 'volume' has {int(bad.sum())} negative or infinite value(s), "
                f"first at {_first_ts(ts, bad)}"
            )
        huge = vol >= MAX_VOLUME
        if huge.any():  # beyond 2^53 a float is no longer a count, and no bar trades that much: an overflowed field
            raise BarsValidationError(
                f"{where}: column 'volume' has {int(huge.sum())} value(s) of 2^53 or more, first at {_first_ts(ts, huge)} "
                f"({vol[huge][0]:.6g}): an overflowed or corrupt field"
            )
        missing = np.isnan(vol)
        if missing.any():
            if policy == "fail":
                raise BarsValidationError(
                    f"{where}: column 'volume' is empty on {int(missing.sum())} row(s), first at {_first_ts(ts, missing)}"
                )
            values["volume"] = np.where(missing, 0.0, vol)  # a new array: the caller's frame stays as it was
            report.volume_filled = int(missing.sum())
    del vol
    if split is not None:
        split = _normalize_split(split, ts=ts, where=where)

    # order: stable sort keeps the file's order among equal timestamps for the duplicate check
    tsv = ts.asi8
    if len(tsv) > 1 and (tsv[1:] < tsv[:-1]).any():
        out_of_order = int((tsv[1:] < tsv[:-1]).sum())
        if policy == "fail":
            first = np.flatnonzero(tsv[1:] < tsv[:-1])[0] + 1
            raise BarsValidationError(
                f"{where}: rows are not sorted by time: {ts[first]} comes after {ts[first - 1]} ({out_of_order} such place(s))"
            )
        order = np.argsort(tsv, kind="stable")
        ts, values, split = _take(ts, values, split, order)
        report.reordered_rows = out_of_order

    tsv = ts.asi8
    if len(tsv) > 1 and (tsv[1:] == tsv[:-1]).any():  # sorted, so equal timestamps are neighbours
        rows = _frame(ts, values, split)
        dup = rows["ts"].duplicated(keep=False).to_numpy()
        exact = rows.duplicated(keep="first").to_numpy()
        conflicting = dup & ~rows.duplicated(keep=False).to_numpy()
        if conflicting.any():
            raise BarsValidationError(
                f"{where}: duplicate timestamp {rows['ts'][conflicting].iloc[0]} with different values "
                f"({int(rows['ts'][conflicting].nunique())} such timestamp(s))"
            )
        if policy == "fail":
            raise BarsValidationError(
                f"{where}: duplicate timestamp {rows['ts'][dup].iloc[0]} ({int(exact.sum())} repeated row(s))"
            )
        del rows
        ts, values, split = _take(ts, values, split, np.flatnonzero(~exact))
        report.duplicates_dropped = int(exact.sum())

    o, h, l, c = (values[k] for k in PRICE_COLUMNS)
    bad = (h < l) | (o > h) | (o < l) | (c > h) | (c < l)
    if bad.any():
        if policy == "fail":
            i = int(np.flatnonzero(bad)[0])
            raise BarsValidationError(
                f"{where}: inconsistent OHLC on {int(bad.sum())} row(s), first at {ts[i]} "
                f"(open={o[i]:g} high={h[i]:g} low={l[i]:g} close={c[i]:g}); "
                "need low <= open, close <= high"
            )
        # A swapped high/low is the usual vendor error; the true range still contains open and close.
        values["high"] = np.maximum.reduce([o, h, l, c])
        values["low"] = np.minimum.reduce([o, h, l, c])
        report.ohlc_repaired = int(bad.sum())
    del o, h, l, c, bad

    keep = _spikes(ts, values, factor=spike_factor, policy=policy, where=where, report=report)
    if keep is not None:
        ts, values, split = _take(ts, values, split, np.flatnonzero(keep))

    df = _frame(ts, values, split)
    report.rows_out = len(df)
    return df, report


def _take(ts: pd.DatetimeIndex, values: dict[str, np.ndarray], split: pd.Series | None, rows: np.ndarray):
    """The bars at positions `rows` (new arrays: the caller's frame stays as it was)."""
    return (ts[rows], {k: v[rows] for k, v in values.items()},
            None if split is None else split.iloc[rows].reset_index(drop=True))


def _frame(ts: pd.DatetimeIndex, values: dict[str, np.ndarray], split: pd.Series | None) -> pd.DataFrame:
    """The stored schema (BAR_COLUMNS, then any extra numeric column) from the checked columns."""
    n = len(ts)
    columns: dict[str, object] = {"ts": ts}
    for col in BAR_COLUMNS[1:-1]:
        columns[col] = values[col] if col in values else np.full(n, np.nan)
    columns["data_split"] = (split if split is not None else pd.Series(pd.NA, index=range(n), dtype="string")).array
    columns.update((col, v) for col, v in values.items() if col not in BAR_COLUMNS)
    return pd.DataFrame(columns)


def _stray_times_in_a_daily_file(ts: pd.DatetimeIndex, where: str) -> None:
    """A daily file (nearly every row at midnight) with a row at a time of day: one stray row (1 ms
    after a bar, or 16:00 of its day) would be merged into that day's bar and change it silently."""
    if len(ts) < 10:
        return
    odd = np.asarray(ts != ts.normalize())  # parse_timestamps gives UTC; a file of dates reads as midnights
    if odd.any() and odd.mean() <= 0.05:
        raise BarsValidationError(
            f"{where}: {int(odd.sum())} row(s) with a time of day in a file of dates, first at {_first_ts(ts, odd)}: "
            "a daily bar would be changed by it; remove the row or give every row its time"
        )


def _spikes(
    ts: pd.DatetimeIndex, values: dict[str, np.ndarray], *, factor: float, policy: Policy, where: str, report: BarsReport
) -> np.ndarray | None:
    """Prices `factor` times above or below the median close of the last SPIKE_WINDOW bars (the
    bar's own included, nothing after it): a fat finger or a feed error (a high of 1e300), never a
    market move. The verdict on a bar depends on it and earlier bars only. Clips a wick in
    `values`; returns the rows to keep when a bar must go (None: all of them)."""
    if factor <= 1 or len(ts) < 3:
        return None
    reference = pd.Series(values["close"]).rolling(SPIKE_WINDOW, min_periods=1).median().to_numpy()
    off = {k: _far(values[k], reference, factor) for k in PRICE_COLUMNS}
    bad = off["open"] | off["high"] | off["low"] | off["close"]
    if not bad.any():
        return None
    o, h, l, c = (values[k] for k in PRICE_COLUMNS)
    if policy == "fail":
        i = int(np.flatnonzero(bad)[0])
        raise BarsValidationError(
            f"{where}: {int(bad.sum())} bar(s) with a price over {factor:g} times off the median close of "
            f"the last {SPIKE_WINDOW} bars, first at {ts[i]} (open={o[i]:g} high={h[i]:g} low={l[i]:g} "
            f"close={c[i]:g}, median close {reference[i]:g})"
        )
    body_off = off["open"] | off["close"]
    wick_only = bad & ~body_off
    values["high"] = np.where(wick_only & off["high"], np.maximum(o, c), h)
    values["low"] = np.where(wick_only & off["low"], np.minimum(o, c), l)
    report.spikes_repaired = int(wick_only.sum())
    report.spike_bars_dropped = int(body_off.sum())
    return ~body_off if body_off.any() else None


def _far(values: np.ndarray, reference: np.ndarray, factor: float) -> np.ndarray:
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = values / reference
    return ~((ratio <= factor) & (ratio >= 1 / factor))


def _to_numeric(series: pd.Series, *, col: str, ts: pd.DatetimeIndex, where: str) -> np.ndarray:
    """The column as float64 (a view of a float64 column, never written to)."""
    if pd.api.types.is_bool_dtype(series):
        raise BarsValidationError(f"{where}: column {col!r} is boolean, expected numbers")
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    stripped = series.astype("string").str.strip().replace({"": pd.NA, "null": pd.NA, "NaN": pd.NA, "nan": pd.NA})
    out = pd.to_numeric(stripped, errors="coerce")
    bad = (out.isna() & stripped.notna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BarsValidationError(
            f"{where}: column {col!r} is not numeric: value {series.iloc[i]!r} at {ts[i]}"
        )
    return out.to_numpy(dtype="float64", na_value=np.nan)

def _normalize_split(series: pd.Series, *, ts: pd.DatetimeIndex, where: str) -> pd.Series:
    s = series.astype("string").str.strip().str.lower()
    bad = (s.notna() & ~s.isin(SPLIT_VALUES)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BarsValidationError(
            f"{where}: column 'data_split' must be 'train' or 'test', got {series.iloc[i]!r} at {ts[i]}"
        )
    return s


def ohlcv_problems(bars: pd.DataFrame, *, now: pd.Timestamp | None = None) -> list[str]:
    """What is wrong with stored bars (empty list when nothing): the contract later stages rely on.

    Timestamps UTC, strictly increasing and not in the future; prices finite and positive;
    low <= open, close <= high; volume non-negative where present.
    """
    problems: list[str] = []
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        return [f"missing column(s) {', '.join(missing)}"]
    if bars.empty:
        return ["no rows"]
    ts = pd.DatetimeIndex(bars["ts"])
    if ts.tz is None or str(ts.tz) != "UTC":
        problems.append(f"ts is not UTC (tz={ts.tz})")
    else:
        later = now if now is not None else pd.Timestamp.now(tz="UTC")
        if ts[-1] > later:
            problems.append(f"bar in the future: {ts[-1]} is after {later}")
    d = ts[1:] - ts[:-1]
    if (d <= pd.Timedelta(0)).any():
        i = int(np.flatnonzero(d <= pd.Timedelta(0))[0]) + 1
        problems.append(f"ts not strictly increasing at {ts[i]} (after {ts[i - 1]})")
    prices = bars[list(PRICE_COLUMNS)].to_numpy(dtype="float64")
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        i = int(np.flatnonzero(bad.any(axis=1))[0])
        problems.append(f"{int(bad.sum())} non-finite or non-positive price(s), first at {ts[i]}")
    o, h, l, c = prices.T
    with np.errstate(invalid="ignore"):
        inconsistent = (l > np.minimum(o, c)) | (h < np.maximum(o, c))
    if inconsistent.any():
        i = int(np.flatnonzero(inconsistent)[0])
        problems.append(f"{int(inconsistent.sum())} bar(s) with open/close outside [low, high], first at {ts[i]}")
    vol = bars["volume"].to_numpy(dtype="float64")
    if (vol < 0).any():
        problems.append(f"{int((vol < 0).sum())} negative volume(s)")
    return problems


def shrink_guard(stored: pd.DatetimeIndex, new: pd.Series, *, max_lost_fraction: float, allow: bool, where: str) -> int:
    """How many stored bars the new ones would drop (stored timestamps no longer present); raise
    when that is more than `max_lost_fraction` of them and `allow` is off: a truncated download or
    a wrong file must not replace the history stored before."""
    if len(stored) == 0:
        return 0
    lost = int((~stored.isin(pd.DatetimeIndex(new))).sum())
    if lost > max_lost_fraction * len(stored) and not allow:
        raise BarsValidationError(
            f"{where}: the new bars would drop {lost:,} of the {len(stored):,} stored bars ({len(stored):,} -> {len(new):,} rows; "
            f"stored {stored[0]:%Y-%m-%d} to {stored[-1]:%Y-%m-%d}), more than max_lost_fraction={max_lost_fraction:g}: "
            "a truncated download? The stored bars are kept. To store them anyway, run with "
            "ops: {bars: {config: {allow_shrink: true}}} (tb run --allow-shrink)"
        )
    return lost
