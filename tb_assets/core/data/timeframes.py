"""Timeframes (bar sizes): the names the partition dimension accepts and their lengths.

Pure Python, so reading the settings (`tb models`, `tb sql`, `tb partitions`) loads no pandas;
how timestamps fall into a timeframe's buckets is in `time_index`."""

from __future__ import annotations

from tb_assets.core.errors import ConfigError

# Seconds per bar, ordered from finest to coarsest; the partition dimension accepts exactly these names.
TIMEFRAMES: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400, "1w": 604800}

INTRADAY = ("1m", "5m", "15m", "30m", "1h", "4h")


def validate_timeframe(tf: str) -> str:
    t = tf.strip() if isinstance(tf, str) else tf
    if t not in TIMEFRAMES:
        raise ConfigError(f"unsupported timeframe {tf!r}: choose from {', '.join(TIMEFRAMES)}")
    return t


def parse_timeframe_list(text: str) -> list[str]:
    out: list[str] = []
    for part in text.split(","):
        if part.strip():
            tf = validate_timeframe(part)
            if tf not in out:
                out.append(tf)
    if not out:
        raise ConfigError(f"timeframes: the list {text!r} names no timeframe")
    # keep a stable fine-to-coarse order whatever order the user typed
    return sorted(out, key=lambda t: TIMEFRAMES[t])


