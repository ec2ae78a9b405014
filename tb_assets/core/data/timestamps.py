"""Timestamp columns to UTC: epochs, ISO strings with offsets, naive wall-clock times in a zone,
and dd/mm vs mm/dd decided once per column (every error names the file, column and value)."""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tb_assets.core.errors import BarsValidationError

DateOrder = Literal["auto", "dmy", "mdy"]  # how to read 03/04/2024: decided from the data, or day or month first


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
    instants = None  # an aware column: every row an instant already
    if pd.api.types.is_datetime64_any_dtype(s):
        wall = pd.DatetimeIndex(s)
        if wall.tz is not None:  # judged as dates or times on its own zone's wall clock
            instants, wall = wall, wall.tz_localize(None)
    else:
        text = s.astype("string").str.strip()
        if pc.any(pc.match_substring_regex(_arrow(text), _OFFSET_RE)).as_py():  # (arrow: 10x faster on 1M rows)
            offset = _offsets(text.str.extract(_OFFSET_RE)[1])
            text = text.str.replace(_OFFSET_RE, r"\1", regex=True)
        wall = pd.DatetimeIndex(_parse_strings(text, origin=origin, date_order=date_order))
    _no_missing(wall, origin)
    if len(wall) and (wall == wall.normalize()).all():
        return wall.tz_localize("UTC").as_unit("ns")  # dates, not instants
    if instants is not None:
        return instants.tz_convert("UTC").as_unit("ns")
    if offset is None:  # one zone for every row (most files): no per-row assembly, 10 million rows in one pass
        return _localize(wall, tz, origin).as_unit("ns")
    utc = pd.Series(pd.NaT, index=range(len(wall)), dtype="datetime64[ns, UTC]")
    naive = offset.isna().to_numpy()
    if naive.any():
        utc[naive] = _localize(wall[naive], tz, origin)
    if not naive.all():
        aware = ~naive
        utc[aware] = (wall[aware] - pd.TimedeltaIndex(offset[aware])).tz_localize("UTC")
    return pd.DatetimeIndex(utc).as_unit("ns")


def _localize(wall: pd.DatetimeIndex, tz: str, origin: str) -> pd.DatetimeIndex:
    """Wall-clock times in `tz` as UTC instants; an ambiguous or skipped time (a DST change) is an error."""
    try:
        return wall.tz_localize(tz, ambiguous="raise", nonexistent="raise").tz_convert("UTC")
    except Exception as exc:  # pytz/zoneinfo raise several types; all mean the same to a user
        raise BarsValidationError(f"{origin}: timestamps without a UTC offset cannot be read as {tz}: {exc}") from exc


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
