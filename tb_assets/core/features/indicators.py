"""Technical indicators as vectorised functions of past bars only.

Every value at bar t is computed from bars <= t (rolling windows end at t, exponential
averages run forward). Price-unit indicators are divided by the close so that a model sees the
same scale in 1999 and 2018. Conventions follow the textbook definitions:

- Wilder's smoothing (RSI, ATR): the first average is the simple mean of the first n values,
  then avg_t = avg_{t-1} + (x_t - avg_{t-1}) / n.
- EMA (MACD): alpha = 2 / (span + 1), seeded with the first value (pandas adjust=False).
- Rolling standard deviations are sample (ddof=1) except Bollinger bands (population, ddof=0),
  each an exact two-pass over its window (`rolling`), never pandas' running sums of squares.
- Ties are decided exactly: MFI's typical prices that are equal in decimal count as equal,
  whatever the last bit of their float sums says.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from tb_assets.core.features import rolling

LN2 = np.log(2.0)


@numba.njit(cache=True)
def _divide(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    out = np.empty(num.shape[0])
    for i in range(num.shape[0]):
        a, b = num[i], den[i]
        out[i] = np.nan if (np.isnan(a) or np.isnan(b)) else (fill if b == 0.0 else a / b)
    return out


def _safe_div(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """num / den with `fill` where den == 0 (flat bars, flat windows); NaN where either is NaN."""
    return _divide(np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64"), float(fill))


def log_returns(log_close: np.ndarray, horizon: int = 1) -> np.ndarray:
    """log c_t - log c_{t-h} from log prices computed once (NaN for the first h bars)."""
    out = np.full_like(log_close, np.nan)
    out[horizon:] = log_close[horizon:] - log_close[:-horizon]
    return out


def log_return(close: pd.Series, horizon: int = 1) -> pd.Series:
    """log(c_t / c_{t-h})."""
    return pd.Series(log_returns(np.log(close.to_numpy("float64")), horizon), index=close.index)


def rolling_zscore(x: pd.Series, window: int, mean_std: tuple[np.ndarray, np.ndarray] | None = None) -> pd.Series:
    """(x_t - mean) / std over the last `window` values (sample std); 0 on a flat window.
    `mean_std`: those rolling moments when the caller already has them."""
    mean, std = mean_std if mean_std is not None else rolling.rolling_mean_std(x.to_numpy("float64"), window, ddof=1)
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
    return pd.Series(rolling.ema(x.to_numpy("float64"), span), index=x.index)


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD line, signal and histogram, as fractions of the close. NaN until `slow` bars exist."""
    c = close.to_numpy("float64")
    line = rolling.ema(c, fast) - rolling.ema(c, slow)
    sig = rolling.ema(line, signal)
    columns = {"macd": line / c, "macd_signal": sig / c, "macd_hist": (line - sig) / c}
    for values in columns.values():
        values[: slow + signal - 2] = np.nan  # EMAs seeded on one bar are not yet meaningful
    return pd.DataFrame(columns, index=close.index, copy=False)


def bollinger(close: pd.Series, n: int = 20, k: float = 2.0) -> pd.DataFrame:
    """%b = (c - lower) / (upper - lower) and bandwidth = (upper - lower) / middle (population std)."""
    mid, sd = rolling.rolling_mean_std(close.to_numpy("float64"), n, ddof=0)
    upper, lower = mid + k * sd, mid - k * sd
    c = close.to_numpy("float64")
    return pd.DataFrame(
        {"bb_pctb": _safe_div(c - lower, upper - lower, 0.5), "bb_width": _safe_div(upper - lower, mid, 0.0)},
        index=close.index,
        copy=False,
    )


def stochastic(high: pd.Series, low: pd.Series, close: pd.Series, n: int = 14, d: int = 3) -> pd.DataFrame:
    """%K = 100 (c - lowest low) / (highest high - lowest low) over n bars; %D = SMA_d(%K)."""
    hh = rolling.rolling_max(high.to_numpy("float64"), n)
    ll = rolling.rolling_min(low.to_numpy("float64"), n)
    k = _safe_div(100.0 * (close.to_numpy("float64") - ll), hh - ll, 50.0)
    return pd.DataFrame({"stoch_k": k, "stoch_d": rolling.rolling_mean(k, d)}, index=close.index, copy=False)


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
    return pd.DataFrame({"aroon_up": up, "aroon_down": down, "aroon_osc": up - down}, index=high.index, copy=False)


def balance_of_power(open_: pd.Series, high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """(c - o) / (h - l); 0 on a bar with no range."""
    o, h, l, c = (s.to_numpy("float64") for s in (open_, high, low, close))
    return pd.Series(_safe_div(c - o, h - l, 0.0), index=close.index)


def internal_bar_strength(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """(c - l) / (h - l); 0.5 on a bar with no range."""
    h, l, c = (s.to_numpy("float64") for s in (high, low, close))
    return pd.Series(_safe_div(c - l, h - l, 0.5), index=close.index)


# Prices move by ticks, at least ~1e-6 of the price; the float sum h + l + c of prices that are
# equal in decimal differs by at most a few 1e-16 of it. Anything closer than this is a tie.
TIE_RTOL = 1e-12


def typical_price_direction(high: pd.Series, low: pd.Series, close: pd.Series) -> np.ndarray:
    """+1 / -1 / 0 as the typical price (h + l + c) / 3 rose, fell or stayed equal against the
    previous bar (NaN on the first). Equal is decided on the sums with TIE_RTOL, so 10.1 + 10.0 +
    10.2 and 10.2 + 10.0 + 10.1 are a tie even where their floats differ in the last bit."""
    total = high.to_numpy("float64") + low.to_numpy("float64") + close.to_numpy("float64")
    d = np.diff(total, prepend=np.nan)
    scale = np.fmax(np.abs(total), np.abs(np.concatenate([[np.nan], total[:-1]])))
    out = np.sign(d)
    out[np.abs(d) <= TIE_RTOL * scale] = 0.0
    return out


def money_flow_index(high: pd.Series, low: pd.Series, close: pd.Series, volume: pd.Series, n: int = 14) -> pd.Series:
    """MFI in [0, 100]: typical price x volume, split by the direction of the typical price; a bar
    whose typical price equals the previous one carries no flow (Quong & Soudack 1989, TA-Lib);
    50 when the window holds no flow at all."""
    tp = ((high + low + close) / 3.0).to_numpy("float64")
    flow = tp * volume.to_numpy("float64")
    direction = typical_price_direction(high, low, close)
    pos = np.where(direction > 0, flow, 0.0)
    neg = np.where(direction < 0, flow, 0.0)
    pos[np.isnan(direction)] = neg[np.isnan(direction)] = np.nan
    ps, ns = rolling.rolling_mean(pos, n), rolling.rolling_mean(neg, n)  # means: the ratio is the same
    return pd.Series(_safe_div(100.0 * ps, ps + ns, 50.0), index=close.index)


def distance_to_sma(close: pd.Series, n: int) -> pd.Series:
    """c / SMA_n - 1."""
    sma = rolling.rolling_mean(close.to_numpy("float64"), n)
    return pd.Series(close.to_numpy("float64") / sma - 1.0, index=close.index)


def realized_vol(close: pd.Series, n: int = 20) -> pd.Series:
    """Sample std of 1-bar log returns over n bars (per bar, not annualised)."""
    return pd.Series(rolling.rolling_mean_std(log_return(close).to_numpy(), n, ddof=1)[1], index=close.index)


def parkinson_vol(high: pd.Series, low: pd.Series, n: int = 20) -> pd.Series:
    """sqrt(mean(ln(h/l)^2) / (4 ln 2)) over n bars."""
    hl2 = np.log(high.to_numpy("float64") / low.to_numpy("float64")) ** 2
    return pd.Series(np.sqrt(rolling.rolling_mean(hl2, n) / (4.0 * LN2)), index=high.index)


def garman_klass_vol(open_: pd.Series, high: pd.Series, low: pd.Series, close: pd.Series, n: int = 20) -> pd.Series:
    """sqrt(mean(0.5 ln(h/l)^2 - (2 ln 2 - 1) ln(c/o)^2)) over n bars (floored at 0)."""
    hl = np.log(high.to_numpy("float64") / low.to_numpy("float64"))
    co = np.log(close.to_numpy("float64") / open_.to_numpy("float64"))
    per_bar = 0.5 * hl**2 - (2.0 * LN2 - 1.0) * co**2
    mean = rolling.rolling_mean(per_bar, n)
    return pd.Series(np.sqrt(np.maximum(mean, 0.0)), index=close.index)


def momentum(close: pd.Series, n: int = 10) -> pd.Series:
    """Rate of change c_t / c_{t-n} - 1."""
    return close / close.shift(n) - 1.0


def rolling_skew(x: pd.Series, n: int) -> pd.Series:
    """Adjusted Fisher-Pearson sample skewness over n values (pandas/Excel SKEW)."""
    return x.rolling(n, min_periods=n).skew()


def rolling_kurt(x: pd.Series, n: int) -> pd.Series:
    """Sample excess kurtosis over n values (pandas/Excel KURT)."""
    return x.rolling(n, min_periods=n).kurt()
