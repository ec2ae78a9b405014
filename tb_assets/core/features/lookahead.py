"""Look-ahead detection: features recomputed on prefixes of the data must not change.

If a value at bar t changes when bars after t are removed, it used the future. The test is
black-box: it catches a centred window, a negative shift or a fit on the whole sample alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tb_assets.core.features.matrix import FeatureOptions, build_feature_matrix

DEFAULT_CUTS = (0.5, 0.75, 0.9, 0.99)


def cut_points(ts: pd.Series | pd.DatetimeIndex, fractions: Sequence[float] = DEFAULT_CUTS) -> list[pd.Timestamp]:
    """Timestamps at the given fractions of the bars (distinct, sorted)."""
    idx = pd.DatetimeIndex(ts)
    picks = sorted({min(int(f * len(idx)), len(idx) - 1) for f in fractions})
    return [idx[i] for i in picks]


def lookahead_violations(
    full: pd.DataFrame, compute_until: Callable[[pd.Timestamp], pd.DataFrame], cuts: Sequence[pd.Timestamp]
) -> list[str]:
    """Compare `full` (column `ts` + features) with `compute_until(cut)` on rows with ts <= cut.

    Values must be identical (NaN equals NaN): the same arithmetic on the same past data gives
    the same bits. Returns one message per cut that differs, naming the feature and timestamp.
    """
    problems: list[str] = []
    for cut in cuts:
        prefix = compute_until(cut).set_index("ts")
        ref = full[full["ts"] <= cut].set_index("ts")
        if not ref.index.equals(prefix.index):
            missing = ref.index.difference(prefix.index)
            extra = prefix.index.difference(ref.index)
            problems.append(
                f"cut at {cut}: rows differ ({len(missing)} missing, {len(extra)} extra in the prefix run)"
            )
            continue
        cols = [c for c in ref.columns if c in prefix.columns]
        if missing_cols := sorted(set(ref.columns) ^ set(prefix.columns)):
            problems.append(f"cut at {cut}: columns differ: {', '.join(missing_cols)}")
        a = ref[cols].to_numpy("float64")
        b = prefix[cols].to_numpy("float64")
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            bad_cols = np.flatnonzero(~same.all(axis=0))
            worst = cols[bad_cols[0]]
            row = int(np.flatnonzero(~same[:, bad_cols[0]])[0])
            problems.append(
                f"cut at {cut}: {len(bad_cols)} feature(s) change when later bars are removed, "
                f"first {worst!r} at {ref.index[row]} ({a[row, bad_cols[0]]!r} with the future, "
                f"{b[row, bad_cols[0]]!r} without): {', '.join(cols[i] for i in bad_cols[:10])}"
            )
    return problems


def feature_lookahead(primary: pd.DataFrame, contexts: dict[str, pd.DataFrame], timeframe: str) -> list[str]:
    """Look-ahead problems of the full feature set on these bars, context symbols cut at the same
    times (empty when none)."""
    options = FeatureOptions(feature_set="full")
    full = build_feature_matrix(primary, contexts, timeframe=timeframe, options=options).frame

    def until(cut: pd.Timestamp) -> pd.DataFrame:
        cut_contexts = {s: b[b["ts"] <= cut] for s, b in contexts.items()}
        return build_feature_matrix(primary[primary["ts"] <= cut], cut_contexts, timeframe=timeframe, options=options).frame

    return lookahead_violations(full, until, cut_points(full["ts"]) if len(full) else [])
