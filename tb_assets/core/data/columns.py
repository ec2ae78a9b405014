"""Bar columns: the stored schema and the vendor spellings that map onto it."""

from __future__ import annotations

import re

import pandas as pd

from tb_assets.core.errors import BarsValidationError

PRICE_COLUMNS = ("open", "high", "low", "close")


# The stored schema, in order. vwap/trade_count/data_split are optional in the input.
BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume", "vwap", "trade_count", "data_split")


SPLIT_VALUES = ("train", "test")


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


def squash_name(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def normalize_columns(df: pd.DataFrame, *, origin: str) -> tuple[pd.DataFrame, list[str]]:
    """Rename vendor spellings to canonical names; return the frame and the ignored columns.

    Unknown numeric columns are kept (resampling takes their last value); unknown non-numeric
    columns and adjusted closes are ignored and reported.
    """
    renamed, ignored = canonical_columns(df, origin=origin)
    return df[list(renamed)].rename(columns=renamed), ignored


def canonical_columns(df: pd.DataFrame, *, origin: str) -> tuple[dict[object, str], list[str]]:
    """{vendor column: canonical name} of the columns kept, and the ignored columns, by
    normalize_columns' rules; the frame itself is not copied (10 million bars are 0.5 GB)."""
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
    missing = [c for c in ("ts", *PRICE_COLUMNS) if c not in renamed.values()]
    if missing:
        raise BarsValidationError(
            f"{origin}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}"
        )
    return renamed, ignored
