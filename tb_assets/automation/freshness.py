"""Freshness of the live signals: a stalled feed shows in the UI and alerts (DESIGN §5).

`signals` carries a Dagster freshness policy, evaluated by the daemon's freshness daemon: it
fails when no partition got new signals for longer than the fail window. The default follows the
finest timeframe's cadence: three of its bars, plus three days for a weekend and a holiday (a
market that closes is not a stalled feed); TB_SIGNALS_FRESHNESS="FAIL[,WARN]" (e.g. "2h,30min")
for a feed that never closes. Sample and synthetic sources have no feed: no policy.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from tb_assets.core.data.time_index import step
from tb_assets.settings import Settings

CLOSED_MARKET = timedelta(days=3)


def freshness_windows(settings: Settings) -> tuple[timedelta, timedelta | None] | None:
    """(fail, warn) windows of the signals' freshness policy, or None when the source has no feed."""
    if settings.source not in ("parquet", "csv"):
        return None
    if settings.signals_freshness:
        import pandas as pd

        parts = [pd.Timedelta(p.strip()).to_pytimedelta() for p in settings.signals_freshness.split(",")]
        return parts[0], parts[1] if len(parts) > 1 else None
    bar = min(step(tf) for tf in settings.timeframes).to_pytimedelta()
    return 3 * bar + CLOSED_MARKET, 3 * bar + timedelta(days=1)


def signals_freshness(settings: Settings) -> dg.FreshnessPolicy | None:
    windows = freshness_windows(settings)
    if windows is None:
        return None
    fail, warn = windows
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)
