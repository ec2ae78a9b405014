"""Technical indicators as vectorised functions of past bars only.

Every value at bar t is computed from bars <= t (rolling windows end at t, exponential
averages run forward). Price-unit indicators are divided by the close so that a model sees the
same scale in 1999 and 2018. Conventions follow the textbook definitions:

- Wilder's smoothing (RSI, ATR): the first average is the simple mean of the first n values,
  then avg_t = avg_{t-1} + (x_t - avg_{t-1}) / n.
- EMA (MACD): alpha = 2 / (span + 1), seeded with the first value (pandas adjust=False).
- Rolling standard deviations are sample (ddof=1) except Bollinger bands (population, ddof=0).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

LN2 = np.log(2.0)


def _safe_div(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """num / den with `fill` where den == 0 (flat bars, flat windows)."""
    out = np.full_like(num, fill, dtype="float64")
    ok = den != 0
    np.divide(num, den, out=out, where=ok)
    out[np.isnan(num) | np.isnan(den)] = np.nan
    return out


def log_return(close: pd.Series, horizon: int = 1) -> pd.Series:
    """log(c_t / c_{t-h})."""
    c = close.to_numpy("float64")
    out = np.full_like(c, np.nan)
    out[horizon:] = np.log(c[horizon:] / c[:-horizon])
    return pd.Series(out, index=close.index)


def rolling_zscore(x: pd.Series, window: int) -> pd.Series:
    """(x_t - mean) / std over the last `window` values (sample std); 0 on a flat window."""
    r = x.rolling(window, min_periods=window)
    mean, std = r.mean().to_numpy(), r.std().to_numpy()
    return pd.Series(_safe_div(x.to_numpy("float64") - mean, std, 0.0), index=x.index)


@numba.njit(cache=True)
def _wilder(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    # seed with the mean of the first n finite values
    start = 0
    while start < x.shape[0] and np.isnan(x[start]):
        start += 1
    if start + n > x.shape[0]:
        return out
    avg = 0.0
    for i in range(start, start + n):
        avg += x[i]
    avg /= n
    out[start + n - 1] = avg
    for i in range(start + n, x.shape[0]):
        avg = avg + (x[i] - avg) / n
        out[i] = avg
    return out


def wilder_average(x: pd.Series | np.ndarray, n: int) -> np.ndarray:
    return _wilder(np.asarray(x, dtype="float64"), n)


def rsi(close: pd.Series, n: int = 14) -> pd.Series:
    """Wilder's RSI in [0, 100]; 100 when there were no losses, 50 on a flat window."""
    d = np.diff(close.to_numpy("float64"), prepend=np.nan)
    gain = wilder_average(np.where(np.isnan(d), np.nan, np.maximum(d, 0.0)), n)
    loss = wilder_average(np.where(np.isnan(d), np.nan, np.maximum(-d, 0.0)), n)
    total = gain + loss
    out = _safe_div(100.0 * gain, total, 50.0)  # = 100 - 100 / (1 + gain/loss)
    return pd.Series(out, index=close.index)


def true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> np.ndarray:
    h, l, c = (s.to_numpy("float64") for s in (high, low, close))
    prev = np.concatenate([[np.nan], c[:-1]])
    tr = np.fmax(h - l, np.fmax(np.abs(h - prev), np.abs(l - prev)))  # fmax: the first bar is h - l
    return tr


def atr_pct(high: pd.Series, low: pd.Series, close: pd.Series, n: int = 14) -> pd.Series:
    """Wilder's average true range divided by the close."""
    atr = wilder_average(true_range(high, low, close), n)
    return pd.Series(atr / close.to_numpy("float64"), index=close.index)


def ema(x: pd.Series, span: int) -> pd.Series:
    return x.ewm(span=span, adjust=False).mean()


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD line, signal and histogram, as fractions of the close. NaN until `slow` bars exist."""
    line = ema(close, fast) - ema(close, slow)
    sig = ema(line, signal)
    c = close.to_numpy("float64")
    out = pd.DataFrame(
        {"macd": line.to_numpy() / c, "macd_signal": sig.to_numpy() / c, "macd_hist": (line - sig).to_numpy() / c},
        index=close.index,
    )
    out.iloc[: slow + signal - 2] = np.nan  # EMAs seeded on one bar are not yet meaningful
    return out


def bollinger(close: pd.Series, n: int = 20, k: float = 2.0) -> pd.DataFrame:
    """%b = (c - lower) / (upper - lower) and bandwidth = (upper - lower) / middle (population std)."""
    r = close.rolling(n, min_periods=n)
    mid, sd = r.mean().to_numpy(), r.std(ddof=0).to_numpy()
    upper, lower = mid + k * sd, mid - k * sd
    c = close.to_numpy("float64")
    return pd.DataFrame(
        {"bb_pctb": _safe_div(c - lower, upper - lower, 0.5), "bb_width": _safe_div(upper - lower, mid, 0.0)},
        index=close.index,
    )


def stochastic(high: pd.Series, low: pd.Series, close: pd.Series, n: int = 14, d: int = 3) -> pd.DataFrame:
    """%K = 100 (c - lowest low) / (highest high - lowest low) over n bars; %D = SMA_d(%K)."""
    hh = high.rolling(n, min_periods=n).max().to_numpy()
    ll = low.rolling(n, min_periods=n).min().to_numpy()
    k = pd.Series(_safe_div(100.0 * (close.to_numpy("float64") - ll), hh - ll, 50.0), index=close.index)
    return pd.DataFrame({"stoch_k": k, "stoch_d": k.rolling(d, min_periods=d).mean()})


@numba.njit(cache=True)
def _bars_since_extreme(x: np.ndarray, n: int, find_max: bool) -> np.ndarray:
    """Bars since the highest (lowest) value among the last n+1 bars; the latest one on ties.

    A monotonic deque makes it O(len(x)) whatever n.
    """
    size = x.shape[0]
    out = np.full(size, np.nan)
    dq = np.empty(size, dtype=np.int64)
    head, tail = 0, 0
    for i in range(size):
        while tail > head and ((x[dq[tail - 1]] <= x[i]) if find_max else (x[dq[tail - 1]] >= x[i])):
            tail -= 1
        dq[tail] = i
        tail += 1
        while dq[head] <= i - n - 1:
            head += 1
        if i >= n:
            out[i] = i - dq[head]
    return out


def bars_since_extreme(x: pd.Series | np.ndarray, n: int, find_max: bool) -> np.ndarray:
    return _bars_since_extreme(np.asarray(x, dtype="float64"), n, find_max)


def aroon(high: pd.Series, low: pd.Series, n: int = 25) -> pd.DataFrame:
    """Aroon up/down = 100 (n - bars since the n-period high/low) / n; oscillator = up - down."""
    up = 100.0 * (n - bars_since_extreme(high, n, True)) / n
    down = 100.0 * (n - bars_since_extreme(low, n, False)) / n
    return pd.DataFrame({"aroon_up": up, "aroon_down": down, "aroon_osc": up - down}, index=high.index)


def balance_of_power(open_: pd.Series, high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """(c - o) / (h - l); 0 on a bar with no range."""
    o, h, l, c = (s.to_numpy("float64") for s in (open_, high, low, close))
    return pd.Series(_safe_div(c - o, h - l, 0.0), index=close.index)


def internal_bar_strength(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """(c - l) / (h - l); 0.5 on a bar with no range."""
    h, l, c = (s.to_numpy("float64") for s in (high, low, close))
    return pd.Series(_safe_div(c - l, h - l, 0.5), index=close.index)


def money_flow_index(high: pd.Series, low: pd.Series, close: pd.Series, volume: pd.Series, n: int = 14) -> pd.Series:
    """MFI in [0, 100]: typical price x volume, split by the direction of the typical price."""
    tp = ((high + low + close) / 3.0).to_numpy("float64")
    flow = tp * volume.to_numpy("float64")
    d = np.diff(tp, prepend=np.nan)
    pos = pd.Series(np.where(d > 0, flow, 0.0)).where(~np.isnan(d))
    neg = pd.Series(np.where(d < 0, flow, 0.0)).where(~np.isnan(d))
    ps = pos.rolling(n, min_periods=n).sum().to_numpy()
    ns = neg.rolling(n, min_periods=n).sum().to_numpy()
    return pd.Series(_safe_div(100.0 * ps, ps + ns, 50.0), index=close.index)


def distance_to_sma(close: pd.Series, n: int) -> pd.Series:
    """c / SMA_n - 1."""
    sma = close.rolling(n, min_periods=n).mean()
    return close / sma - 1.0


def realized_vol(close: pd.Series, n: int = 20) -> pd.Series:
    """Sample std of 1-bar log returns over n bars (per bar, not annualised)."""
    return log_return(close).rolling(n, min_periods=n).std()


def parkinson_vol(high: pd.Series, low: pd.Series, n: int = 20) -> pd.Series:
    """sqrt(mean(ln(h/l)^2) / (4 ln 2)) over n bars."""
    hl2 = np.log(high.to_numpy("float64") / low.to_numpy("float64")) ** 2
    return np.sqrt(pd.Series(hl2, index=high.index).rolling(n, min_periods=n).mean() / (4.0 * LN2))


def garman_klass_vol(open_: pd.Series, high: pd.Series, low: pd.Series, close: pd.Series, n: int = 20) -> pd.Series:
    """sqrt(mean(0.5 ln(h/l)^2 - (2 ln 2 - 1) ln(c/o)^2)) over n bars (floored at 0)."""
    hl = np.log(high.to_numpy("float64") / low.to_numpy("float64"))
    co = np.log(close.to_numpy("float64") / open_.to_numpy("float64"))
    per_bar = 0.5 * hl**2 - (2.0 * LN2 - 1.0) * co**2
    mean = pd.Series(per_bar, index=close.index).rolling(n, min_periods=n).mean()
    return np.sqrt(mean.clip(lower=0.0))


def momentum(close: pd.Series, n: int = 10) -> pd.Series:
    """Rate of change c_t / c_{t-n} - 1."""
    return close / close.shift(n) - 1.0


def rolling_skew(x: pd.Series, n: int) -> pd.Series:
    """Adjusted Fisher-Pearson sample skewness over n values (pandas/Excel SKEW)."""
    return x.rolling(n, min_periods=n).skew()


def rolling_kurt(x: pd.Series, n: int) -> pd.Series:
    """Sample excess kurtosis over n values (pandas/Excel KURT)."""
    return x.rolling(n, min_periods=n).kurt()
