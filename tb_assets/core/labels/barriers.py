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

from tb_assets.core.data.time_index import epoch_ns, from_epoch_ns
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
    h = threshold.reindex(close.index).to_numpy("float64") if isinstance(threshold, pd.Series) else np.full(len(close), float(threshold))
    h = np.where(np.isnan(h), np.inf, h)  # no threshold yet: no event
    events = _cusum(np.log(close.to_numpy("float64")), h)
    return pd.DatetimeIndex(close.index[events])


# Barriers are compared in price space (no division per bar) except within this relative band
# of a barrier's price, where the textbook return close[i] / close[t0] - 1 decides: float error
# in either form is ~1e-16, so outside the band both forms agree and inside it the return does.
PRICE_BAND = 1e-12


SCAN_BLOCK = 64  # consecutive events whose first bars are compared together
SCAN_BARS = 16  # bars after each start compared there, without a branch


@numba.njit(cache=True)
def _event_setup(t, s, pt, sl, min_ret):
    """Whether an event counts, and its barriers: u and d on the return, and the prices (over c0)
    at or past which a bar is near a barrier: for side +-1 the levels above and below c0, widened by
    PRICE_BAND; for other sides every bar (-inf, inf), so the return decides bar by bar."""
    counts = np.isfinite(t) and t > min_ret and np.isfinite(s) and s != 0.0
    u = np.inf if pt == 0.0 else pt * t  # a disabled barrier can never be touched
    d = np.inf if sl == 0.0 else sl * t
    if not (s == 1.0 or s == -1.0):
        return counts, u, d, -np.inf, np.inf
    a, b = 1.0 + s * u, 1.0 - s * d  # the profit-take and the stop, in price over c0
    rise, fall = (a, b) if s > 0 else (b, a)
    return counts, u, d, rise * (1.0 - PRICE_BAND), fall * (1.0 + PRICE_BAND)


@numba.njit(cache=True)
def _first_near_levels(close, j0, rise_low, fall_high, first, bars):
    """For events starting at bars j0, j0+1, ...: the first offset 1..bars whose close is at or
    past a level (bars + 1: none). Offsets descend so the last write is the first offset, and each
    row of closes is contiguous: the compiler turns this into vector compares and blends."""
    for q in range(first.shape[0]):
        first[q] = bars + 1
    for k in range(bars, 0, -1):
        row = close[j0 + k : j0 + k + first.shape[0]]
        for q in range(first.shape[0]):
            x = row[q]
            first[q] = k if (x >= rise_low[q]) | (x <= fall_high[q]) else first[q]


@numba.njit(cache=True)
def _label_events(
    close, bar_ns, bar_of_event, first_bar, target, side, vertical_bars, vertical_ns, pt, sl, min_ret, t1, trgt, sides, which, ret
):
    """Label every event in one pass: find its vertical barrier and its first touch, and write its
    touch time (ns), target, side, barrier (0 pt, 1 sl, 2 vertical; -1 when the event does not
    count: its target is not above min_ret, its side is not set, or its outcome is not known yet)
    and return into the arrays given (numpy's allocator asks the kernel for huge pages; numba's
    would fault 25 MB of fresh memory in 4 kB at a time: 7 ms of a million events' 30). Event e starts at
    bar `bar_of_event[e]`, or when that is empty at bar `first_bar + e` (events on consecutive
    bars: `_consecutive_from`).

    `target` and `side` are per bar (side of length 0: long, and `sides` is empty too). The
    vertical barrier is `vertical_bars` bars after the start, else the first bar at or after
    t0 + `vertical_ns` (found walking forward, or by binary search for an event earlier than the
    one before), else (both 0) none: the event needs a touch.

    The return r = (close[i] / c0 - 1) * side touches the profit-take at r >= pt * trgt and the
    stop at r <= -sl * trgt. For side +-1 each barrier is a price level: bars are compared with
    both levels, widened by PRICE_BAND, and the return is computed only at a bar near or past one.
    For other sides every bar is near (`_event_setup`), so the return decides at each.

    Most events end within a few bars, at a bar no branch predictor can guess: a plain loop pays
    one missed prediction per event. So SCAN_BLOCK events on consecutive bars (every bar an event,
    the `targets` default) first compare their SCAN_BARS next bars without a branch
    (`_first_near_levels`); the loop then starts at the first bar near a level. Scattered events
    (CUSUM), and events the window did not settle, take the plain loop."""
    m, n = t1.shape[0], close.shape[0]
    window = SCAN_BARS if vertical_bars == 0 else min(SCAN_BARS, vertical_bars)
    # each event of a block: its bar, whether it counts, its barriers on the return and near its price levels
    starts, counts = np.empty(SCAN_BLOCK, dtype=np.int64), np.empty(SCAN_BLOCK, dtype=np.bool_)
    up_at, down_at = np.empty(SCAN_BLOCK), np.empty(SCAN_BLOCK)
    rise_low, fall_high = np.empty(SCAN_BLOCK), np.empty(SCAN_BLOCK)
    first = np.empty(SCAN_BLOCK, dtype=np.int64)
    ends_at, goal_before = 0, np.iinfo(np.int64).min
    for b0 in range(0, m, SCAN_BLOCK):
        nb = min(SCAN_BLOCK, m - b0)
        windowed = nb == SCAN_BLOCK
        for q in range(nb):
            e = b0 + q
            j = bar_of_event[e] if bar_of_event.shape[0] else first_bar + e
            starts[q] = j
            windowed &= j == starts[0] + q  # consecutive bars
            counts[q], up_at[q], down_at[q], near_above, near_below = _event_setup(
                target[j], side[j] if side.shape[0] else 1.0, pt, sl, min_ret
            )
            rise_low[q], fall_high[q] = close[j] * near_above, close[j] * near_below
        if windowed and starts[0] + nb - 1 + window <= n - 1:  # the window stays inside the data
            _first_near_levels(close, starts[0], rise_low, fall_high, first, window)
        else:
            windowed = False
        for q in range(nb):
            e, j = b0 + q, starts[q]
            which[e] = -1
            if not counts[q]:
                continue
            s = side[j] if side.shape[0] else 1.0
            if vertical_bars > 0:
                last, known = min(j + vertical_bars, n - 1), j + vertical_bars <= n - 1
            elif vertical_ns > 0:
                goal = bar_ns[j] + vertical_ns
                if goal < goal_before:  # out of time order
                    ends_at = np.searchsorted(bar_ns, goal)
                while ends_at < n and bar_ns[ends_at] < goal:
                    ends_at += 1
                goal_before = goal
                last, known = min(ends_at, n - 1), ends_at <= n - 1
            else:
                last, known = n - 1, False
            u, d, c0 = up_at[q], down_at[q], close[j]
            barrier = 2
            i = j + 1
            if windowed:
                i = j + first[q]  # no bar before it is near a level (past `last`: none up to it)
            while i <= last:
                x = close[i]
                if (x >= rise_low[q]) | (x <= fall_high[q]):
                    r = (x / c0 - 1.0) * s  # the textbook return decides near a level
                    up, down = r >= u, r <= -d
                    if up | down:
                        barrier = 0 if up else 1
                        break
                i += 1
            if barrier == 2:
                if not known:
                    continue
                i = last
            t1[e], trgt[e], which[e] = bar_ns[i], target[j], barrier
            ret[e] = close[i] / c0 - 1.0
            if side.shape[0]:
                sides[e] = s


@numba.njit(cache=True)
def _consecutive_from(bars: np.ndarray, events: np.ndarray) -> int:
    """The position of the first event among the bars when the events are bars in a row (every
    bar an event, the `targets` default), else -1."""
    m, n = events.shape[0], bars.shape[0]
    if m == 0:
        return -1
    p0 = np.searchsorted(bars, events[0])
    if p0 + m > n:
        return -1
    for e in range(m):
        if bars[p0 + e] != events[e]:
            return -1
    return p0


@numba.njit(cache=True)
def _bar_positions(bars: np.ndarray, events: np.ndarray, out: np.ndarray) -> tuple[int, int]:
    """Each event's position among the bars into `out`; returns the number of events that are not
    a bar and the first such event (-1: none). Events in order take one merge walk; from the first
    event out of order on, a binary search each."""
    n = bars.shape[0]
    if n == 0:
        return events.shape[0], 0 if events.shape[0] else -1
    missing, first = 0, -1
    j = 0
    ordered = True
    for i in range(events.shape[0]):
        ordered = ordered and (i == 0 or events[i] >= events[i - 1])
        if ordered:
            while j < n - 1 and bars[j] < events[i]:
                j += 1
            pos = j
        else:
            pos = min(np.searchsorted(bars, events[i]), n - 1)
        out[i] = pos
        if bars[pos] != events[i]:
            missing += 1
            if first < 0:
                first = i
    return missing, first


def _vertical(vertical) -> tuple[int, int]:
    """The vertical barrier as (bars, 0), (0, nanoseconds) or (0, 0): none."""
    if vertical is None:
        return 0, 0
    if isinstance(vertical, (int, np.integer)) and not isinstance(vertical, bool):
        if vertical < 1:
            raise TbError(f"vertical barrier must be at least 1 bar, got {vertical}")
        return int(vertical), 0
    delta = pd.Timedelta(vertical)
    if delta <= pd.Timedelta(0):
        raise TbError(f"vertical barrier must be a positive time span, got {vertical}")
    return 0, delta.value


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
    vertical_bars, vertical_ns = _vertical(vertical)
    per_bar_side = np.zeros(0) if side is None else _per_bar(side, index)
    # events are found among the bars on int64 nanoseconds (pandas' indexers are slow here)
    bar_ns, event_ns = epoch_ns(index), epoch_ns(events)
    m = len(events)
    first_bar, bar_of_event = _consecutive_from(bar_ns, event_ns), np.empty(0, dtype=np.int64)
    if first_bar < 0:
        bar_of_event = np.empty(m, dtype=np.int64)
        missing, first = _bar_positions(bar_ns, event_ns, bar_of_event)
        if missing:
            raise TbError(f"{missing} event(s) are not bars of `close`, first {events[first]}")
    t1_ns, trgt, sides, which, ret = (
        np.empty(m, dtype=np.int64),
        np.empty(m),
        np.empty(m if side is not None else 0),
        np.empty(m, dtype=np.int8),
        np.empty(m),
    )
    _label_events(
        close.to_numpy(),
        bar_ns,
        bar_of_event,
        first_bar,
        _per_bar(target, index),
        per_bar_side,
        vertical_bars,
        vertical_ns,
        pt,
        sl,
        float(min_ret),
        t1_ns,
        trgt,
        sides,
        which,
        ret,
    )
    done = which >= 0
    if not done.all():  # a million events mostly all count: no copies then
        events, t1_ns, trgt, which, ret = events[done], t1_ns[done], trgt[done], which[done], ret[done]
        sides = sides[done] if side is not None else sides
    label = (which == 0).astype(np.int8) - (which == 1)  # pt 1, sl -1, vertical 0
    if side is None:
        bin_ = (which == 0).astype(np.int8)
    else:
        bin_ = (sides * ret > 0).astype(np.int8)
    out = pd.DataFrame(
        {
            "t1": from_epoch_ns(t1_ns, index),
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
