"""Triple-barrier labels (López de Prado, AFML 2018, ch. 3), event filters and forward returns.

An event starts at the close of bar t0. Its horizontal barriers sit at +pt*trgt and -sl*trgt on
the simple return close[t]/close[t0] - 1 (times the side, when one is given); its vertical
barrier is the first bar at or after t0 + delta (or t0 + n bars). The first barrier touched
wins; a touch at exactly the barrier counts; when a horizontal barrier is touched on the
vertical bar itself the horizontal one is reported. Events whose outcome is not known by the
end of the data (no touch, and the vertical barrier beyond the last bar) are dropped: they are
not training rows.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from tb_assets.core.data.timeframes import epoch_ns
from tb_assets.core.errors import TbError

BARRIERS = ["pt", "sl", "vertical"]


def _per_bar(values: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """values on the bars of `index` (NaN where they have none); a Series on the same index is
    read as it is."""
    if values.index is index or values.index.equals(index):
        return values.to_numpy("float64")
    return values.reindex(index).to_numpy("float64")


def daily_volatility(close: pd.Series, span: int = 100) -> pd.Series:
    """AFML snippet 3.1: the EWM std (span bars) of each bar's simple return against the last bar
    strictly before t - 1 day. Bars with no such earlier bar are left out."""
    idx = pd.DatetimeIndex(close.index)
    prev = idx.searchsorted(idx - pd.Timedelta(days=1), side="left") - 1  # last bar < t - 1 day
    has = prev >= 0
    values = close.to_numpy("float64")
    rets = values[has] / values[prev[has]] - 1.0
    return pd.Series(rets, index=idx[has]).ewm(span=span).std()


def ewm_volatility(close: pd.Series, span: int = 100) -> pd.Series:
    """Per-bar alternative: EWM std of 1-bar simple returns (for intraday bars and weekly bars)."""
    return close.pct_change().ewm(span=span).std()


@numba.njit(cache=True)
def _cusum(logp: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = logp.shape[0]
    events = np.zeros(n, dtype=np.bool_)
    s_pos, s_neg = 0.0, 0.0
    for i in range(1, n):
        d = logp[i] - logp[i - 1]
        s_pos = max(0.0, s_pos + d)
        s_neg = min(0.0, s_neg + d)
        if s_neg < -h[i]:
            s_neg = 0.0
            events[i] = True
        elif s_pos > h[i]:
            s_pos = 0.0
            events[i] = True
    return events


def cusum_filter(close: pd.Series, threshold: float | pd.Series) -> pd.DatetimeIndex:
    """Symmetric CUSUM filter (AFML snippet 2.4) on log-price differences: an event when the
    positive or negative cumulative sum passes the threshold, which then resets that sum.
    `threshold` is a number or a Series aligned to `close` (e.g. a volatility)."""
    h = (
        threshold.reindex(close.index).to_numpy("float64")
        if isinstance(threshold, pd.Series)
        else np.full(len(close), float(threshold))
    )
    h = np.where(np.isnan(h), np.inf, h)  # no threshold yet: no event
    events = _cusum(np.log(close.to_numpy("float64")), h)
    return pd.DatetimeIndex(close.index[events])


# Barriers are compared in price space (no division per bar) except within this relative band
# of a barrier's price, where the textbook return close[i] / close[t0] - 1 decides: float error
# in either form is ~1e-16, so outside the band both forms agree and inside it the return does.
PRICE_BAND = 1e-12


SHORT_SCAN = 16  # bars after t0 compared without a branch before the plain loop takes over
_DE_BRUIJN = 0x077CB531  # lowest set bit -> its index by one multiply and a table (no branch)
_BIT_INDEX = np.zeros(32, dtype=np.int64)
for _i in range(32):
    _BIT_INDEX[(((1 << _i) * _DE_BRUIJN) >> 27) & 31] = _i


@numba.njit(cache=True)
def _label_events(close, starts, target, side, stop, known, pt, sl, min_ret, bit_index):
    """Label every event: its touch position, barrier (0 pt, 1 sl, 2 vertical; -1 when the event
    does not count: its target is not above min_ret, its side is not set, or its outcome is not
    known yet) and return. Outputs are per event, the smallest types that hold them (writing
    fresh memory costs more here than the scan itself).
    `target` and `side` are per bar (side of length 0: long); `stop` / `known` are each event's
    vertical barrier (`vertical_positions`).
    Events with no known outcome (no touch, vertical barrier beyond the data) are left out.

    The return r = (close[i] / c0 - 1) * side touches the profit-take at r >= pt * trgt and the
    stop at r <= -sl * trgt. For side +-1 each barrier is a price level: SHORT_SCAN bars at a time
    are compared with both levels, widened by PRICE_BAND, into a bit mask (no branch per bar), and
    the return is computed only at the first bar near or past a level. Other sides, and the last
    bars before the vertical barrier, take the return bar by bar. One function, no calls: a call per
    event with array arguments costs more than its loop."""
    m, n = starts.shape[0], close.shape[0]
    touch = np.zeros(m, dtype=np.int64)
    which = np.full(m, -1, dtype=np.int8)
    ret = np.full(m, np.nan)
    for e in range(m):
        j = starts[e]
        t = target[j]
        s = side[j] if side.shape[0] else 1.0
        if not (np.isfinite(t) and t > min_ret and np.isfinite(s) and s != 0.0):
            continue
        last, is_known = stop[e], known[e]
        u = np.inf if pt == 0.0 else pt * t  # a disabled barrier can never be touched
        l = np.inf if sl == 0.0 else sl * t
        c0 = close[j]
        pos, barrier = -1, -1
        i = j + 1
        if s == 1.0 or s == -1.0:
            a, b = c0 * (1.0 + s * u), c0 * (1.0 - s * l)  # the profit-take and the stop in price
            rise = a if s > 0 else b  # the level above c0
            fall = b if s > 0 else a  # and the one below
            rise_low, fall_high = rise * (1.0 - PRICE_BAND), fall * (1.0 + PRICE_BAND)
            while i + SHORT_SCAN <= n and i + SHORT_SCAN - 1 <= last:
                window = close[i:i + SHORT_SCAN]
                mask = 1 << SHORT_SCAN  # a sentinel bit past the window
                for k in range(SHORT_SCAN):
                    mask |= (1 if ((window[k] >= rise_low) | (window[k] <= fall_high)) else 0) << k
                first = bit_index[(((mask & -mask) * _DE_BRUIJN) >> 27) & 31]
                if first == SHORT_SCAN:
                    i += SHORT_SCAN
                    continue
                p = i + first
                r = (close[p] / c0 - 1.0) * s  # the textbook return decides inside the band
                up, down = r >= u, r <= -l
                if up | down:
                    pos, barrier = p, (0 if up else 1)
                    ret[e] = r * s  # s is +-1: the return itself, exactly
                    break
                i = p + 1  # within a band but short of the barrier: go on after it
        if barrier == -1:
            while i <= last:  # bar by bar: any side, and the bars the windows did not cover
                r = (close[i] / c0 - 1.0) * s
                if r >= u:
                    pos, barrier = i, 0
                    break
                if r <= -l:
                    pos, barrier = i, 1
                    break
                i += 1
        if barrier == -1:
            if not is_known:
                continue
            pos, barrier = last, 2
        touch[e], which[e] = pos, barrier
        if np.isnan(ret[e]):
            ret[e] = close[pos] / c0 - 1.0
    return touch, which, ret


@numba.njit(cache=True)
def _bar_positions(bars: np.ndarray, events: np.ndarray, ordered: bool) -> tuple[np.ndarray, int, int]:
    """Each event's position among the bars, the number of events that are not a bar, and the
    first such event (-1: none). Sorted events take one merge walk; others a binary search each."""
    n = bars.shape[0]
    out = np.empty(events.shape[0], dtype=np.int64)
    missing, first = 0, -1
    j = 0
    for i in range(events.shape[0]):
        if ordered:
            while j < n and bars[j] < events[i]:
                j += 1
            pos = j
        else:
            pos = np.searchsorted(bars, events[i])
        pos = min(pos, n - 1)
        out[i] = pos
        if bars[pos] != events[i]:
            missing += 1
            if first < 0:
                first = i
    return out, missing, first


def vertical_positions(index: pd.DatetimeIndex, starts: np.ndarray, vertical) -> tuple[np.ndarray, np.ndarray]:
    """Position of each event's vertical barrier and whether it lies inside the data."""
    n = len(index)
    if vertical is None:
        return np.full(len(starts), n - 1, dtype=np.int64), np.zeros(len(starts), dtype=bool)
    if isinstance(vertical, (int, np.integer)) and not isinstance(vertical, bool):
        if vertical < 1:
            raise TbError(f"vertical barrier must be at least 1 bar, got {vertical}")
        pos = starts + int(vertical)
    else:
        delta = pd.Timedelta(vertical)
        if delta <= pd.Timedelta(0):
            raise TbError(f"vertical barrier must be a positive time span, got {vertical}")
        pos = index.searchsorted(index[starts] + delta, side="left")  # first bar at or after t0 + delta
    known = pos <= n - 1
    return np.minimum(pos, n - 1).astype(np.int64), known


def triple_barrier(
    close: pd.Series,
    t_events: pd.DatetimeIndex,
    target: pd.Series,
    pt_sl: tuple[float, float] = (1.0, 1.0),
    vertical: pd.Timedelta | int | None = None,
    min_ret: float = 0.0,
    side: pd.Series | None = None,
) -> pd.DataFrame:
    """Label events with the first barrier touched.

    Returns a frame indexed by event start (t0) with columns t1 (touch time), trgt, ret (simple
    return close[t1]/close[t0] - 1), label (1 profit-take, -1 stop-loss, 0 vertical), barrier
    ('pt', 'sl', 'vertical') and bin (1 when the profit-take was touched first; with `side`, the
    meta-label: 1 when side * ret > 0). A multiple of 0 in pt_sl disables that barrier.
    """
    close = close.astype("float64", copy=False)
    index = pd.DatetimeIndex(close.index)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise TbError("close must be indexed by strictly increasing timestamps")
    pt, sl = (float(x) for x in pt_sl)
    if pt < 0 or sl < 0:
        raise TbError(f"pt_sl multiples must be >= 0, got {pt_sl}")
    events = pd.DatetimeIndex(t_events)
    # positions of the events among the bars, on int64 nanoseconds (pandas' indexers are slow here)
    bar_ns, event_ns = epoch_ns(index), epoch_ns(events)
    starts, missing, first = _bar_positions(bar_ns, event_ns, events.is_monotonic_increasing)
    if missing:
        raise TbError(f"{missing} event(s) are not bars of `close`, first {events[first]}")
    stop, known = vertical_positions(index, starts, vertical)
    per_bar_target = _per_bar(target, index)
    per_bar_side = np.zeros(0) if side is None else _per_bar(side, index)
    touch, which, ret = _label_events(close.to_numpy(), starts.astype(np.int64, copy=False), per_bar_target,
                                      per_bar_side, stop, known, pt, sl, float(min_ret), _BIT_INDEX)
    done = which >= 0
    if not done.all():  # a million events mostly all count: no copies then
        starts, events, touch, which, ret = starts[done], events[done], touch[done], which[done], ret[done]
    trgt = per_bar_target[starts]
    sides = None if side is None else per_bar_side[starts]
    label = (which == 0).astype(np.int8) - (which == 1)  # pt 1, sl -1, vertical 0
    if side is None:
        bin_ = (which == 0).astype(np.int8)
    else:
        bin_ = (sides * ret > 0).astype(np.int8)
    out = pd.DataFrame(
        {
            "t1": index[touch],
            "trgt": trgt,
            "ret": ret,
            "label": label,
            "barrier": pd.Categorical.from_codes(which, BARRIERS),
            "bin": bin_,
        },
        index=events,
        copy=False,
    )
    if side is not None:
        out.insert(out.columns.get_loc("bin"), "side", sides)
    out.index.name = "t0"
    return out


def forward_returns(close: pd.Series, lookforward: int) -> pd.DataFrame:
    """Regression/classification targets over `lookforward` bars (NaN where the future is unknown):
    log return, percent change, raw price change and direction (1 when future >= current)."""
    if lookforward < 1:
        raise TbError(f"lookforward must be at least 1 bar, got {lookforward}")
    c = close.to_numpy("float64")
    fut = np.full_like(c, np.nan)
    fut[:-lookforward] = c[lookforward:]
    direction = np.where(np.isnan(fut), np.nan, (fut >= c).astype("float64"))
    return pd.DataFrame(
        {
            "fwd_log_return": np.log(fut / c),
            "fwd_pct_change": fut / c - 1.0,
            "fwd_raw_change": fut - c,
            "fwd_direction": direction,
        },
        index=close.index,
    )


def label_problems(t0: pd.DatetimeIndex, t1: pd.DatetimeIndex, bar_index: pd.DatetimeIndex) -> list[str]:
    """What breaks the label contract (empty when nothing): every t1 after its t0, on a bar of
    the data, and none beyond the last bar (an outcome nobody could know yet)."""
    t0, t1, bars = pd.DatetimeIndex(t0), pd.DatetimeIndex(t1), pd.DatetimeIndex(bar_index)
    problems = []
    early = t1 <= t0
    if early.any():
        i = int(np.flatnonzero(early)[0])
        problems.append(f"{int(early.sum())} event(s) with t1 <= t0, first t0={t0[i]} t1={t1[i]}")
    late = t1 > bars[-1]
    if late.any():
        problems.append(f"{int(late.sum())} event(s) end after the last bar {bars[-1]}, first t1={t1[np.flatnonzero(late)[0]]}")
    off = ~t1.isin(bars)
    if off.any():
        problems.append(f"{int(off.sum())} t1 value(s) are not bars, first {t1[np.flatnonzero(off)[0]]}")
    return problems
