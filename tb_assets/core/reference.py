"""Straightforward per-event pandas implementations of the hot paths.

They are the oracle the property tests compare the fast kernels with, and the baseline
`tb bench` times in the same run. Written for obviousness, not speed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def plain_triple_barrier(close, t_events, target, pt_sl=(1.0, 1.0), vertical=None, min_ret=0.0, side=None) -> pd.DataFrame:
    rows = []
    for t0 in t_events:
        trgt = target.get(t0, np.nan)
        s = 1.0 if side is None else side.get(t0, np.nan)
        if not np.isfinite(trgt) or trgt <= min_ret or not np.isfinite(s) or s == 0:
            continue
        if vertical is None:
            end_time, known = close.index[-1], False
        elif isinstance(vertical, (int, np.integer)):
            pos = close.index.get_loc(t0) + int(vertical)
            known = pos < len(close)
            end_time = close.index[min(pos, len(close) - 1)]
        else:
            later = close.index[close.index >= t0 + pd.Timedelta(vertical)]
            known = len(later) > 0
            end_time = later[0] if known else close.index[-1]
        path = close.loc[t0:end_time].iloc[1:]
        rets = (path / close.loc[t0] - 1.0) * s
        up = rets[rets >= pt_sl[0] * trgt].index.min() if pt_sl[0] > 0 else pd.NaT
        down = rets[rets <= -pt_sl[1] * trgt].index.min() if pt_sl[1] > 0 else pd.NaT
        touches = [t for t in (up, down) if not pd.isna(t)]
        if touches:
            t1 = min(touches)
            barrier = "pt" if t1 == up else "sl"
        elif known:
            t1, barrier = end_time, "vertical"
        else:
            continue
        ret = close.loc[t1] / close.loc[t0] - 1.0
        label = {"pt": 1, "sl": -1, "vertical": 0}[barrier]
        b = int(s * ret > 0) if side is not None else int(barrier == "pt")
        rows.append({"t0": t0, "t1": t1, "trgt": trgt, "ret": ret, "label": label, "barrier": barrier, "bin": b})
    return pd.DataFrame(rows, columns=["t0", "t1", "trgt", "ret", "label", "barrier", "bin"]).set_index("t0")


def plain_average_uniqueness(t1: pd.Series, bar_index: pd.DatetimeIndex) -> pd.Series:
    """The bars x events indicator matrix of AFML snippet 4.1, then 4.2."""
    alive = pd.DataFrame(0, index=bar_index, columns=range(len(t1)))
    for i, (t0, end) in enumerate(t1.items()):
        alive.loc[t0:end, i] = 1
    c = alive.sum(axis=1)
    uniq = alive.div(c.where(c > 0), axis=0)
    return pd.Series([uniq.loc[alive[i] == 1, i].mean() for i in range(len(t1))], index=t1.index)
