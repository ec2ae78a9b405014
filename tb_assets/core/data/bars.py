"""OHLCV bars: column spellings, timestamp parsing, validation with counted repairs, resampling.

Every function takes the symbol and the origin (file, folder or source name) only to put them
in error messages: a user with a bad file must be told which file, column and timestamp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tb_assets.core.data.time_index import bucket_start, step
from tb_assets.core.data.timeframes import INTRADAY, validate_timeframe
from tb_assets.core.errors import BarsValidationError

PRICE_COLUMNS = ("open", "high", "low", "close")
# The stored schema, in order. vwap/trade_count/data_split are optional in the input.
BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume", "vwap", "trade_count", "data_split")
SPLIT_VALUES = ("train", "test")

Policy = Literal["repair", "fail"]
DateOrder = Literal["auto", "dmy", "mdy"]  # how to read 03/04/2024: decided from the data, or day or month first

# Common spellings seen in vendor files, after lower-casing and squashing separators to '_'.
COLUMN_ALIASES: dict[str, str] = {
    **dict.fromkeys(["ts", "timestamp", "date", "datetime", "date_time", "time", "dt_utc", "gmt_time"], "ts"),
    **dict.fromkeys(["open", "o", "open_price"], "open"),
    **dict.fromkeys(["high", "h", "high_price"], "high"),
    **dict.fromkeys(["low", "l", "low_price"], "low"),
    **dict.fromkeys(["close", "c", "close_price", "last"], "close"),
    **dict.fromkeys(["volume", "vol", "v"], "volume"),
    **dict.fromkeys(["vwap", "vw"], "vwap"),
    **dict.fromkeys(["trade_count", "trades", "n_trades", "transactions", "count"], "trade_count"),
    **dict.fromkeys(["data_split", "split"], "data_split"),
}
# Adjusted prices mix corporate actions into a price level; we never use them.
# symbol and timeframe name the partition in the stored table, so a vendor's own are not bars either.
_IGNORED = {"adj_close", "adjclose", "adjusted_close", "unnamed_0", "index", "symbol", "ticker", "timeframe"}
SPIKE_FACTOR = 10.0  # a price this many times off its neighbours' median close is impossible, not a move
SPIKE_WINDOW = 21  # the neighbourhood: 10 bars either side, so a level shift (a split) is never a spike


def squash_name(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


@dataclass
class BarsReport:
    """What validation found and repaired; goes into the asset's metadata as numbers."""

    rows_in: int = 0
    rows_out: int = 0
    reordered_rows: int = 0
    duplicates_dropped: int = 0
    ohlc_repaired: int = 0
    volume_filled: int = 0
    spikes_repaired: int = 0  # a high or low far off its neighbours, clipped to the bar's open/close
    spike_bars_dropped: int = 0  # an open or close far off its neighbours: the bar is dropped
    has_volume: bool = True
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def repaired_rows(self) -> int:
        return (self.reordered_rows + self.duplicates_dropped + self.ohlc_repaired + self.volume_filled
                + self.spikes_repaired + self.spike_bars_dropped)


def normalize_columns(df: pd.DataFrame, *, origin: str) -> tuple[pd.DataFrame, list[str]]:
    """Rename vendor spellings to canonical names; return the frame and the ignored columns.

    Unknown numeric columns are kept (resampling takes their last value); unknown non-numeric
    columns and adjusted closes are ignored and reported.
    """
    renamed: dict[object, str] = {}
    seen: dict[str, object] = {}
    ignored: list[str] = []
    for col in df.columns:
        key = squash_name(col)
        canon = COLUMN_ALIASES.get(key)
        if canon is None:
            if key in _IGNORED or key.startswith("unnamed") or not pd.api.types.is_numeric_dtype(df[col]):
                ignored.append(str(col))
                continue
            canon = key
        if canon in seen:
            raise BarsValidationError(
                f"{origin}: columns {seen[canon]!r} and {col!r} both mean {canon!r}; keep one"
            )
        seen[canon] = col
        renamed[col] = canon
    out = df[list(renamed)].rename(columns=renamed)
    missing = [c for c in ("ts", *PRICE_COLUMNS) if c not in out.columns]
    if missing:
        raise BarsValidationError(
            f"{origin}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}"
        )
    return out, ignored


def parse_timestamps(values: pd.Series, *, origin: str, tz: str = "UTC", date_order: DateOrder = "auto") -> pd.DatetimeIndex:
    """Parse a timestamp column to UTC.

    Values with a UTC offset (or a time zone) are instants. Values without are wall-clock times
    in `tz`, also when the same column has offsets on other rows. Values that are all at midnight
    of their own clock are dates (daily or weekly bars): they keep their date whatever `tz` is,
    so a Tokyo daily bar of 5 January stays 5 January. Numbers are epoch instants.
    """
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        idx = pd.DatetimeIndex(_parse_epoch(s))
        _no_missing(idx, origin)
        return idx.tz_convert("UTC").as_unit("ns")
    offset = None  # per row: the value's UTC offset, NaT where the value has none
    if pd.api.types.is_datetime64_any_dtype(s):
        wall = pd.DatetimeIndex(s)
        if wall.tz is not None:  # an aware column: its own zone's wall clock, every row an instant
            offset = pd.Series(wall.tz_localize(None) - wall.tz_convert("UTC").tz_localize(None))
            wall = wall.tz_localize(None)
    else:
        text = s.astype("string").str.strip()
        if pc.any(pc.match_substring_regex(_arrow(text), _OFFSET_RE)).as_py():  # (arrow: 10x faster on 1M rows)
            offset = _offsets(text.str.extract(_OFFSET_RE)[1])
            text = text.str.replace(_OFFSET_RE, r"\1", regex=True)
        wall = pd.DatetimeIndex(_parse_strings(text, origin=origin, date_order=date_order))
    _no_missing(wall, origin)
    if len(wall) and (wall == wall.normalize()).all():
        return wall.tz_localize("UTC").as_unit("ns")  # dates, not instants
    utc = pd.Series(pd.NaT, index=range(len(wall)), dtype="datetime64[ns, UTC]")
    naive = np.ones(len(wall), bool) if offset is None else offset.isna().to_numpy()
    if naive.any():
        try:
            utc[naive] = wall[naive].tz_localize(tz, ambiguous="raise", nonexistent="raise").tz_convert("UTC")
        except Exception as exc:  # pytz/zoneinfo raise several types; all mean the same to a user
            raise BarsValidationError(f"{origin}: timestamps without a UTC offset cannot be read as {tz}: {exc}") from exc
    if not naive.all():
        aware = ~naive
        utc[aware] = (wall[aware] - pd.TimedeltaIndex(offset[aware])).tz_localize("UTC")
    return pd.DatetimeIndex(utc).as_unit("ns")


def _no_missing(idx: pd.DatetimeIndex, origin: str) -> None:
    bad = idx.isna()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BarsValidationError(f"{origin}: column 'ts' has an empty or unparseable timestamp at row {row}")


def _offsets(found: pd.Series) -> pd.Series:
    """'+09:00', '-0500', 'Z' -> Timedelta; NaT where there is none."""
    parts = found.str.extract(r"([+-])(\d{2}):?(\d{2})")
    minutes = (parts[1].astype("float64") * 60 + parts[2].astype("float64")).to_numpy()
    minutes = np.where(parts[0].eq("-").fillna(False).to_numpy(bool), -minutes, minutes)
    minutes = np.where(found.eq("Z").fillna(False).to_numpy(bool), 0.0, minutes)
    return pd.Series(pd.to_timedelta(minutes, unit="m"))


def _parse_epoch(s: pd.Series) -> pd.Series:
    # epoch numbers: the magnitude tells the unit (seconds ~1e9 today, ns ~1e18)
    top = float(np.nanmax(np.abs(s.to_numpy(dtype="float64")))) if len(s) else 0.0
    unit = "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"
    return pd.to_datetime(s, unit=unit, utc=True)


# an offset follows a time of day: "05-01-2024" ends in "-2024", which is a year, not UTC-20:24
_OFFSET_RE = r"(\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})$"
_NUMERIC_DATE = r"^(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})[/.-](?P<year>\d{4}|\d{2})(?:$|[ T])"
_TIME_FORMATS = ("", " %H:%M", " %H:%M:%S", "T%H:%M", "T%H:%M:%S")


def _arrow(text: pd.Series) -> pa.Array:
    return pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())


def _parse_strings(s: pd.Series, *, origin: str, date_order: DateOrder = "auto") -> pd.Series:
    """Wall-clock strings (offsets already removed) to naive datetimes."""
    if len(s) and re.match(_NUMERIC_DATE, str(s.iloc[0])):
        dates = pc.extract_regex(_arrow(s), _NUMERIC_DATE)
        if dates.null_count == 0:
            return _parse_day_month(s, dates, origin=origin, date_order=date_order)
    # Try strict formats first (fast, unambiguous), then let pandas infer per element.
    for fmt in ("ISO8601", "%Y%m%d %H%M%S", "%Y%m%d", "mixed"):
        try:
            return pd.to_datetime(s, format=fmt)
        except (ValueError, TypeError) as exc:
            last = exc
    unreadable = (pd.to_datetime(s, format="mixed", errors="coerce").isna() & s.notna()).to_numpy()
    if unreadable.any():
        i = int(np.flatnonzero(unreadable)[0])
        raise BarsValidationError(
            f"{origin}: column 'ts' has values that are not timestamps: {s.iloc[i]!r} at row {i} "
            f"({int(unreadable.sum())} such row(s); a note or footer line in the file?)"
        ) from last
    raise BarsValidationError(f"{origin}: column 'ts' has values that are not timestamps: {last}") from last


def _only_plausible_order(first: np.ndarray, second: np.ndarray, dates: pa.StructArray) -> DateOrder | None:
    """When no number is above 12, the one reading whose dates run forward in the file's order,
    else the one with no Saturday or Sunday (11/5/2019: Tuesday 5 November, not Saturday 11 May);
    None when both readings are as plausible."""
    year = pc.cast(dates.field("year"), pa.int32()).to_numpy()
    year = np.where(year < 100, year + 2000, year)
    readings = {
        order: pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
        for order, day, month in (("dmy", first, second), ("mdy", second, first))
    }
    for plausible in (
        lambda d: d.notna().all() and d.is_monotonic_increasing,
        lambda d: d.notna().all() and not (d.dt.dayofweek >= 5).any(),
    ):
        fits = [order for order, d in readings.items() if plausible(d)]
        if len(fits) == 1:
            return fits[0]
    return None


def _parse_day_month(s: pd.Series, dates: pa.StructArray, *, origin: str, date_order: DateOrder) -> pd.Series:
    """dd/mm/yyyy or mm/dd/yyyy, decided once for the whole column: by a first number above 12
    (day first) or a second one above 12 (month first); a column where both are at most 12 is
    ambiguous and needs TB_DATE_ORDER."""
    if date_order == "auto":
        first, second = (pc.cast(dates.field(k), pa.int32()).to_numpy() for k in ("first", "second"))
        day_first, month_first = first > 12, second > 12
        if day_first.any() and month_first.any():
            i, j = int(np.flatnonzero(day_first)[0]), int(np.flatnonzero(month_first)[0])
            raise BarsValidationError(
                f"{origin}: column 'ts' mixes day-first and month-first dates: {s.iloc[i]!r} (row {i}) "
                f"and {s.iloc[j]!r} (row {j})"
            )
        if day_first.any() or month_first.any():
            date_order = "dmy" if day_first.any() else "mdy"
        else:
            date_order = _only_plausible_order(first, second, dates)
            if date_order is None:
                raise BarsValidationError(
                    f"{origin}: column 'ts' has dates like {s.iloc[0]!r} that read both as day/month and month/day "
                    "(no day above 12, both readings in order and on weekdays): set TB_DATE_ORDER=dmy or TB_DATE_ORDER=mdy"
                )
    sep = dates.field("sep")[0].as_py()
    year = "%Y" if len(dates.field("year")[0].as_py()) == 4 else "%y"
    date = f"%d{sep}%m{sep}{year}" if date_order == "dmy" else f"%m{sep}%d{sep}{year}"
    text = _arrow(s)
    for time in _TIME_FORMATS:  # arrow's strptime: 30x faster than pandas' for non-ISO formats
        try:
            return pd.Series(pc.strptime(text, format=date + time, unit="ns").to_pandas())
        except pa.ArrowInvalid:
            continue
    try:
        return pd.to_datetime(s, format="mixed", dayfirst=date_order == "dmy")
    except (ValueError, TypeError) as exc:
        raise BarsValidationError(f"{origin}: column 'ts' has values that are not {date} timestamps: {exc}") from exc


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

    Always errors: missing/non-numeric columns, NaN/inf/zero/negative prices, negative volume,
    unparseable or ambiguous timestamps, bars dated in the future, conflicting duplicate
    timestamps, unknown data_split values, no rows.
    Repaired under policy='repair' (counted in the report), errors under policy='fail':
    unsorted rows, exact duplicate rows, high < low or open/close outside [low, high],
    missing volume on some rows, prices `spike_factor` times off their neighbours (a wick is
    clipped to the bar's open/close, a bar whose open or close is off is dropped).
    """
    if policy not in ("repair", "fail"):
        raise BarsValidationError(f"unknown policy {policy!r}: use 'repair' or 'fail'")
    where = f"{symbol} ({origin})"
    report = BarsReport(rows_in=len(raw))
    if len(raw) == 0:
        raise BarsValidationError(f"{where}: no bars (empty result)")

    df, report.ignored_columns = normalize_columns(raw, origin=where)
    ts = parse_timestamps(df["ts"], origin=where, tz=tz, date_order=date_order)
    later = now if now is not None else pd.Timestamp.now(tz="UTC")
    future = np.asarray(ts > later)
    if future.any():  # never repaired: a clock or a file that is wrong, and stored it would leak nothing but lies
        raise BarsValidationError(
            f"{where}: {int(future.sum())} bar(s) dated in the future, first at {_first_ts(ts, future)} "
            f"(now is {later:%Y-%m-%d %H:%M} UTC): is the file's time zone (TB_SOURCE_TZ) or clock wrong?"
        )
    df = df.drop(columns="ts").reset_index(drop=True)

    numeric_cols = [c for c in df.columns if c != "data_split"]
    for col in numeric_cols:
        df[col] = _to_numeric(df[col], col=col, ts=ts, where=where)

    for col in PRICE_COLUMNS:
        v = df[col].to_numpy(dtype="float64")
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

    if "volume" not in df.columns or df["volume"].isna().all():
        df["volume"] = np.nan
        report.has_volume = False
    else:
        vol = df["volume"].to_numpy(dtype="float64")
        if np.isinf(vol).any() or (vol < 0).any():
            bad = np.isinf(vol) | (vol < 0)
            raise BarsValidationError(
                f"{where}: column 'volume' has {int(bad.sum())} negative or infinite value(s), "
                f"first at {_first_ts(ts, bad)}"
            )
        missing = np.isnan(vol)
        if missing.any():
            if policy == "fail":
                raise BarsValidationError(
                    f"{where}: column 'volume' is empty on {int(missing.sum())} row(s), first at {_first_ts(ts, missing)}"
                )
            df.loc[missing, "volume"] = 0.0
            report.volume_filled = int(missing.sum())

    if "data_split" in df.columns:
        df["data_split"] = _normalize_split(df["data_split"], ts=ts, where=where)

    df.insert(0, "ts", ts)

    # order: stable sort keeps the file's order among equal timestamps for the duplicate check
    tsv = df["ts"].to_numpy("datetime64[ns]")  # (plain to_numpy() of aware times makes 1M Timestamp objects: 2.5 s)
    if len(tsv) > 1 and (tsv[1:] < tsv[:-1]).any():
        out_of_order = int((tsv[1:] < tsv[:-1]).sum())
        if policy == "fail":
            first = np.flatnonzero(tsv[1:] < tsv[:-1])[0] + 1
            raise BarsValidationError(
                f"{where}: rows are not sorted by time: {df['ts'].iloc[first]} comes after "
                f"{df['ts'].iloc[first - 1]} ({out_of_order} such place(s))"
            )
        df = df.sort_values("ts", kind="stable").reset_index(drop=True)
        report.reordered_rows = out_of_order

    dup = df["ts"].duplicated(keep=False).to_numpy()
    if dup.any():
        exact = df.duplicated(keep="first").to_numpy()
        conflicting = dup & ~df.duplicated(keep=False).to_numpy()
        if conflicting.any():
            raise BarsValidationError(
                f"{where}: duplicate timestamp {df['ts'][conflicting].iloc[0]} with different values "
                f"({int(df['ts'][conflicting].nunique())} such timestamp(s))"
            )
        if policy == "fail":
            raise BarsValidationError(
                f"{where}: duplicate timestamp {df['ts'][dup].iloc[0]} ({int(exact.sum())} repeated row(s))"
            )
        df = df[~exact].reset_index(drop=True)
        report.duplicates_dropped = int(exact.sum())

    o, h, l, c = (df[k].to_numpy(dtype="float64") for k in PRICE_COLUMNS)
    bad = (h < l) | (o > h) | (o < l) | (c > h) | (c < l)
    if bad.any():
        if policy == "fail":
            i = int(np.flatnonzero(bad)[0])
            raise BarsValidationError(
                f"{where}: inconsistent OHLC on {int(bad.sum())} row(s), first at {df['ts'].iloc[i]} "
                f"(open={o[i]:g} high={h[i]:g} low={l[i]:g} close={c[i]:g}); "
                "need low <= open, close <= high"
            )
        # A swapped high/low is the usual vendor error; the true range still contains open and close.
        df["high"] = np.maximum.reduce([o, h, l, c])
        df["low"] = np.minimum.reduce([o, h, l, c])
        report.ohlc_repaired = int(bad.sum())

    df = _spikes(df, factor=spike_factor, policy=policy, where=where, report=report)

    for col in ("vwap", "trade_count"):
        if col not in df.columns:
            df[col] = np.nan
    if "data_split" not in df.columns:
        df["data_split"] = pd.Series([None] * len(df), dtype="string")
    extra = [c for c in df.columns if c not in BAR_COLUMNS]
    df = df[[*BAR_COLUMNS, *extra]]
    report.rows_out = len(df)
    return df, report


def _spikes(df: pd.DataFrame, *, factor: float, policy: Policy, where: str, report: BarsReport) -> pd.DataFrame:
    """Prices `factor` times above or below the median close of their neighbourhood: a fat finger
    or a feed error (a high of 1e300), never a market move."""
    if factor <= 1 or len(df) < 3:
        return df
    reference = df["close"].rolling(SPIKE_WINDOW, center=True, min_periods=1).median().to_numpy()
    off = {k: _far(df[k].to_numpy(dtype="float64"), reference, factor) for k in PRICE_COLUMNS}
    bad = off["open"] | off["high"] | off["low"] | off["close"]
    if not bad.any():
        return df
    if policy == "fail":
        i = int(np.flatnonzero(bad)[0])
        row = df.iloc[i]
        raise BarsValidationError(
            f"{where}: {int(bad.sum())} bar(s) with a price over {factor:g} times off the median close of "
            f"their neighbours, first at {row['ts']} (open={row['open']:g} high={row['high']:g} low={row['low']:g} "
            f"close={row['close']:g}, neighbours' median close {reference[i]:g})"
        )
    body_off = off["open"] | off["close"]
    wick_only = bad & ~body_off
    body = df[["open", "close"]].to_numpy(dtype="float64")
    df.loc[wick_only & off["high"], "high"] = body.max(axis=1)[wick_only & off["high"]]
    df.loc[wick_only & off["low"], "low"] = body.min(axis=1)[wick_only & off["low"]]
    report.spikes_repaired = int(wick_only.sum())
    report.spike_bars_dropped = int(body_off.sum())
    return df[~body_off].reset_index(drop=True)


def _far(values: np.ndarray, reference: np.ndarray, factor: float) -> np.ndarray:
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = values / reference
    return ~((ratio <= factor) & (ratio >= 1 / factor))


def _to_numeric(series: pd.Series, *, col: str, ts: pd.DatetimeIndex, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        raise BarsValidationError(f"{where}: column {col!r} is boolean, expected numbers")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    stripped = series.astype("string").str.strip().replace({"": pd.NA, "null": pd.NA, "NaN": pd.NA, "nan": pd.NA})
    out = pd.to_numeric(stripped, errors="coerce")
    bad = (out.isna() & stripped.notna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BarsValidationError(
            f"{where}: column {col!r} is not numeric: value {series.iloc[i]!r} at {ts[i]}"
        )
    return out.astype("float64")


def _normalize_split(series: pd.Series, *, ts: pd.DatetimeIndex, where: str) -> pd.Series:
    s = series.astype("string").str.strip().str.lower()
    bad = (s.notna() & ~s.isin(SPLIT_VALUES)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BarsValidationError(
            f"{where}: column 'data_split' must be 'train' or 'test', got {series.iloc[i]!r} at {ts[i]}"
        )
    return s


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


def prepare_bars(
    raw: pd.DataFrame, *, symbol: str, origin: str, timeframe: str, policy: Policy = "repair", tz: str = "UTC",
    date_order: DateOrder = "auto", spike_factor: float = SPIKE_FACTOR,
) -> tuple[pd.DataFrame, BarsReport, pd.Timedelta | None]:
    """Validate vendor bars and resample them to `timeframe`: the one path every stage uses.

    Returns the bars, the validation report and the source's own bar size.
    """
    from tb_assets.core.data.time_index import check_resolution, infer_base_step

    clean, report = validate_bars(
        raw, symbol=symbol, origin=origin, policy=policy, tz=tz, date_order=date_order, spike_factor=spike_factor
    )
    base = infer_base_step(clean["ts"])
    check_resolution(base, timeframe, symbol=symbol)
    return resample_bars(clean, timeframe), report, base
