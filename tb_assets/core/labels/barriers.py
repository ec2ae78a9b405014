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


def _aligned(values: pd.Series, index: pd.DatetimeIndex, positions: np.ndarray) -> np.ndarray:
    """values at the given bar positions; a Series on the same index is read without reindexing."""
    if values.index is index or values.index.equals(index):
        return values.to_numpy("float64")[positions]
    return values.reindex(index[positions]).to_numpy("float64")


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


@numba.njit(cache=True)
def _scan(close, start, stop, vertical_known, upper, lower, side):
    """For each event: the touch position and which barrier (0 pt, 1 sl, 2 vertical, -1 unknown)."""
    m = start.shape[0]
    touch = np.full(m, -1, dtype=np.int64)
    which = np.full(m, -1, dtype=np.int64)
    for e in range(m):
        c0 = close[start[e]]
        for i in range(start[e] + 1, stop[e] + 1):
            r = (close[i] / c0 - 1.0) * side[e]
            if r >= upper[e]:
                touch[e] = i
                which[e] = 0
                break
            if r <= -lower[e]:
                touch[e] = i
                which[e] = 1
                break
        if which[e] == -1 and vertical_known[e]:
            touch[e] = stop[e]
            which[e] = 2
    return touch, which


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
    close = close.astype("float64")
    index = pd.DatetimeIndex(close.index)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise TbError("close must be indexed by strictly increasing timestamps")
    pt, sl = (float(x) for x in pt_sl)
    if pt < 0 or sl < 0:
        raise TbError(f"pt_sl multiples must be >= 0, got {pt_sl}")
    events = pd.DatetimeIndex(t_events)
    # positions of the events among the bars, on int64 nanoseconds (pandas' indexers are slow here)
    bar_ns, event_ns = epoch_ns(index), epoch_ns(events)
    starts = np.minimum(np.searchsorted(bar_ns, event_ns), len(bar_ns) - 1)
    missing = bar_ns[starts] != event_ns
    if missing.any():
        raise TbError(f"{int(missing.sum())} event(s) are not bars of `close`, first {events[np.flatnonzero(missing)[0]]}")
    trgt = _aligned(target, index, starts)
    sides = np.ones(len(events)) if side is None else _aligned(side, index, starts)
    keep = np.isfinite(trgt) & (trgt > min_ret) & np.isfinite(sides) & (sides != 0)
    events, trgt, sides, starts = events[keep], trgt[keep], sides[keep], starts[keep].astype(np.int64)
    stop, known = vertical_positions(index, starts, vertical)
    # a disabled barrier can never be touched
    upper = np.full(len(events), np.inf) if pt == 0 else pt * trgt
    lower = np.full(len(events), np.inf) if sl == 0 else sl * trgt
    values = close.to_numpy()
    touch, which = _scan(values, starts, stop, known, upper, lower, sides)
    done = which >= 0
    touch, which, starts = touch[done], which[done], starts[done]
    ret = values[touch] / values[starts] - 1.0
    label = np.array([1, -1, 0], dtype=np.int8)[which]
    if side is None:
        bin_ = (which == 0).astype(np.int8)
    else:
        bin_ = (sides[done] * ret > 0).astype(np.int8)
    out = pd.DataFrame(
        {
            "t1": index[touch],
            "trgt": trgt[done],
            "ret": ret,
            "label": label,
            "barrier": pd.Categorical.from_codes(which, BARRIERS),
            "bin": bin_,
        },
        index=events[done],
        copy=False,
    )
    if side is not None:
        out.insert(out.columns.get_loc("bin"), "side", sides[done])
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
