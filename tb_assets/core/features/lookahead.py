"""Look-ahead detection: features recomputed on prefixes of the data must not change.

If a value at bar t changes when bars after t are removed, it used the future. The test is
black-box: it catches a centred window, a negative shift or a fit on the whole sample alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.features.matrix import FeatureOptions, build_feature_matrix

# Two prefixes: any peek (a centred window, a negative shift, a fit on the whole sample) changes
# rows at or before either cut. Their lengths add up to 0.75 of the data, so the check costs under
# twice the features themselves (`tb bench --only lookahead_1m`).
DEFAULT_CUTS = (0.25, 0.5)


def cut_points(ts: pd.Series | pd.DatetimeIndex, fractions: Sequence[float] = DEFAULT_CUTS) -> list[pd.Timestamp]:
    """Timestamps at the given fractions of the bars (distinct, sorted)."""
    idx = pd.DatetimeIndex(ts)
    picks = sorted({min(int(f * len(idx)), len(idx) - 1) for f in fractions})
    return [idx[i] for i in picks]


def lookahead_violations(
    full: pd.DataFrame, compute_until: Callable[[pd.Timestamp], pd.DataFrame], cuts: Sequence[pd.Timestamp]
) -> list[str]:
    """Compare `full` (column `ts` + features, in time order) with `compute_until(cut)` on rows
    with ts <= cut.

    Values must be identical (NaN equals NaN): the same arithmetic on the same past data gives
    the same bits. Returns one message per cut that differs, naming the feature and timestamp.
    Column by column on numpy views: a million rows are compared without copying the frame.
    """
    problems: list[str] = []
    full_ts = epoch_ns(full["ts"])
    for cut in cuts:
        prefix = compute_until(cut)
        rows = int(np.searchsorted(full_ts, epoch_ns([pd.Timestamp(cut)])[0], side="right"))
        prefix_ts = epoch_ns(prefix["ts"])
        if len(prefix_ts) != rows or not np.array_equal(prefix_ts, full_ts[:rows]):
            ref, got = pd.DatetimeIndex(full["ts"].iloc[:rows]), pd.DatetimeIndex(prefix["ts"])
            problems.append(
                f"cut at {cut}: rows differ ({len(ref.difference(got))} missing, {len(got.difference(ref))} extra in the prefix run)"
            )
            continue
        columns = [c for c in full.columns if c != "ts"]
        if missing_cols := sorted(set(columns) ^ {c for c in prefix.columns if c != "ts"}):
            problems.append(f"cut at {cut}: columns differ: {', '.join(missing_cols)}")
        bad: list[tuple[str, int]] = []  # (feature, first differing row)
        for col in (c for c in columns if c in prefix.columns):
            a = full[col].to_numpy("float64")[:rows]
            b = prefix[col].to_numpy("float64")
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            if not same.all():
                bad.append((col, int(np.argmin(same))))
        if bad:
            worst, row = bad[0]
            a, b = full[worst].to_numpy("float64")[row], prefix[worst].to_numpy("float64")[row]
            problems.append(
                f"cut at {cut}: {len(bad)} feature(s) change when later bars are removed, "
                f"first {worst!r} at {full['ts'].iloc[row]} ({a!r} with the future, "
                f"{b!r} without): {', '.join(c for c, _ in bad[:10])}"
            )
    return problems


def feature_lookahead(primary: pd.DataFrame, contexts: dict[str, pd.DataFrame], timeframe: str) -> list[str]:
    """Look-ahead problems of the full feature set on these bars, context symbols cut at the same
    times (empty when none)."""
    options = FeatureOptions(feature_set="full")
    full = build_feature_matrix(primary, contexts, timeframe=timeframe, options=options).frame

    def upto(bars: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:  # bars are in time order: a slice, no mask
        return bars.iloc[: int(np.searchsorted(epoch_ns(bars["ts"]), epoch_ns([cut])[0], side="right"))]

    def until(cut: pd.Timestamp) -> pd.DataFrame:
        cut_contexts = {s: upto(b, cut) for s, b in contexts.items()}
        return build_feature_matrix(upto(primary, cut), cut_contexts, timeframe=timeframe, options=options).frame

    return lookahead_violations(full, until, cut_points(full["ts"]) if len(full) else [])
