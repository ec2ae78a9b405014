"""Deterministic synthetic bars at any frequency down to 1 minute, for tests and benchmarks.

Returns follow a GARCH(1,1) (volatility clustering) driven by shocks that load on one market
factor shared by every symbol (so context symbols are correlated with the primary). With
`signal` = s > 0 the next return's mean leans on a momentum state observable in the past,

    r_t = sigma_t * (s * m_{t-1} + sqrt(1 - s^2) * e_t),   m = tanh(past 5-bar return / its vol),

so a model that looks at recent returns can find it; s = 0 is a pure (GARCH) random walk whose
returns no past information predicts. The same (seed, symbol) always gives the same bars.
"""

from __future__ import annotations

import zlib

import numba
import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import step
from tb_assets.core.data.timeframes import INTRADAY, validate_timeframe
from tb_assets.core.errors import ConfigError
from tb_assets.sources.base import BarSource, RawBars
from tb_assets.sources.kinds import DEFAULT_UNIVERSE

DEFAULT_SYMBOLS, DEFAULT_CONTEXT = DEFAULT_UNIVERSE["synthetic"]
MARKET_CORRELATION = 0.6
ANNUAL_VOL = 0.20
SESSION_OPEN = pd.Timedelta(hours=14, minutes=30)  # 09:30 New York in winter, as UTC
SESSION_MINUTES = 390


class SyntheticSource(BarSource):
    name = "synthetic"

    def __init__(self, *, freq: str = "1d", n_bars: int = 5000, seed: int = 0, signal: float = 0.0, start: str = "2010-01-04"):
        self.freq = validate_timeframe(freq)
        if n_bars < 2:
            raise ConfigError(f"synthetic bars: need at least 2 bars, got {n_bars}")
        if not 0.0 <= signal < 1.0:
            raise ConfigError(f"synthetic signal must be in [0, 1), got {signal}")
        self.n_bars, self.seed, self.signal = int(n_bars), int(seed), float(signal)
        self.start = pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tz is None else pd.Timestamp(start).tz_convert("UTC")

    def list_symbols(self) -> None:
        return None

    def describe(self) -> str:
        return f"synthetic(freq={self.freq}, bars={self.n_bars}, seed={self.seed}, signal={self.signal})"

    def load(self, symbol: str) -> RawBars:
        start = start_before_now(self.freq, self.n_bars, self.start)
        return RawBars(symbol, synthetic_bars(symbol, self.freq, self.n_bars, self.seed, self.signal, start), self.describe())


def start_before_now(freq: str, n: int, start: pd.Timestamp, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """`start`, unless n bars from it would run past today: then the start that makes the last bar
    fall on the last weekday before today (5,000 daily bars from 2010 ran to 2029, and every
    partition was refused as dated in the future). Bars that fit keep their start, so a seed gives
    the same bars on any day."""
    today = (now if now is not None else pd.Timestamp.now(tz="UTC")).normalize()
    if bar_times(freq, n, start)[-1] < today:
        return start
    if freq == "1w":
        return today - pd.Timedelta(days=today.dayofweek + 7 * n)
    per_day = 1 if freq == "1d" else max(SESSION_MINUTES // int(step(freq) / pd.Timedelta(minutes=1)), 1)
    return pd.bdate_range(end=today - pd.Timedelta(days=1), periods=-(-n // per_day), freq="B")[0]


def bar_times(freq: str, n: int, start: pd.Timestamp) -> pd.DatetimeIndex:
    """n bar start times on weekdays only; intraday bars inside a 390-minute session."""
    freq = validate_timeframe(freq)
    if freq == "1w":
        first = start.normalize() - pd.Timedelta(days=start.dayofweek)
        return pd.date_range(first, periods=n, freq="7D")
    if freq == "1d":
        return pd.bdate_range(start.normalize(), periods=n, freq="B")
    per_day = SESSION_MINUTES // int(step(freq) / pd.Timedelta(minutes=1))
    per_day = max(per_day, 1)
    days = pd.bdate_range(start.normalize(), periods=-(-n // per_day), freq="B")
    offsets = pd.to_timedelta(SESSION_OPEN + step(freq) * np.arange(per_day)).to_numpy()
    grid = (days.tz_localize(None).to_numpy()[:, None] + offsets[None, :]).ravel()[:n]
    return pd.DatetimeIndex(grid).tz_localize("UTC")


@numba.njit(cache=True)
def _garch_returns(shocks, omega, alpha, beta, signal, lookback):
    n = shocks.shape[0]
    r = np.empty(n)
    sig = np.empty(n)
    var = omega / (1.0 - alpha - beta)
    noise = np.sqrt(1.0 - signal * signal)
    window = 0.0  # sum of the last `lookback` returns
    for t in range(n):
        if t > 0:
            var = omega + alpha * r[t - 1] ** 2 + beta * var
        s = np.sqrt(var)
        m = 0.0
        if t >= lookback:
            m = np.tanh(window / (s * np.sqrt(lookback)))
        r[t] = s * (signal * m + noise * shocks[t])
        sig[t] = s
        window += r[t]
        if t >= lookback:
            window -= r[t - lookback]
    return r, sig


def synthetic_bars(symbol: str, freq: str, n: int, seed: int, signal: float, start: pd.Timestamp) -> pd.DataFrame:
    ts = bar_times(freq, n, start)
    bars_per_year = 252 * (SESSION_MINUTES // max(int(step(freq) / pd.Timedelta(minutes=1)), 1) if freq in INTRADAY else 1)
    if freq == "1w":
        bars_per_year = 52
    bar_vol = ANNUAL_VOL / np.sqrt(bars_per_year)
    market = np.random.default_rng([seed, 0]).standard_normal(n)
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode()) + 1])
    own = rng.standard_normal(n)
    shocks = MARKET_CORRELATION * market + np.sqrt(1 - MARKET_CORRELATION**2) * own
    alpha, beta = 0.08, 0.90
    omega = bar_vol**2 * (1 - alpha - beta)
    r, sig = _garch_returns(shocks, omega, alpha, beta, signal, 5)

    level0 = 100.0 * np.exp(rng.normal(0, 0.3))
    close = level0 * np.exp(np.cumsum(r))
    prev = np.concatenate([[level0], close[:-1]])
    # open sits a little away from the previous close (overnight / auction noise)
    open_ = prev * np.exp(0.1 * sig * rng.standard_normal(n))
    hi_ext = np.abs(rng.standard_normal(n)) * 0.5 * sig
    lo_ext = np.abs(rng.standard_normal(n)) * 0.5 * sig
    high = np.maximum(open_, close) * np.exp(hi_ext)
    low = np.minimum(open_, close) * np.exp(-lo_ext)
    volume = np.round(np.exp(13.0 + 0.5 * rng.standard_normal(n) + 0.8 * np.abs(r) / sig))
    return pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume})
