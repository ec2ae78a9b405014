"""How much stored history the features of new bars need, and those features.

The warm-up contract (core.features.matrix) says a feature row depends only on its declared
warm-up of earlier bars (recursive averages forget their seed to 1e-9 within it), and regime_gmm
on the window before the last checkpoint of its fixed time grid. So the features of bars from
position `first` on are computed from a tail of the history, not from all of it, and equal a
full recompute's: the tail is TAIL_FACTOR times what the contract declares, so a recursive
average's seed weighs 1e-18 there (below a float's resolution), not 1e-9.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.errors import TbError
from tb_assets.core.features.matrix import SPECS, FeatureOptions, build_feature_matrix, warmup_of
from tb_assets.core.features.regimes import RV_WINDOW, VIX_WINDOW, checkpoints, gmm_schedule

TAIL_FACTOR = 2
EVERY_FEATURE = FeatureOptions("full")  # a column's values do not depend on which others are computed


def declared_warmup(timeframe: str) -> int:
    """The longest declared warm-up of a windowed or recursive feature (regime_vix's terciles included);
    regime_gmm's is positioned by its checkpoints (see tail_start)."""
    return max(max(warmup_of(name, timeframe) for name in SPECS if name != "regime_gmm"), VIX_WINDOW + 1)


def tail_start(ts, first: int, timeframe: str) -> int:
    """The position of the first bar that the features of bars `first`, `first + 1`, ... need."""
    if first <= 0:
        return 0
    start = first - TAIL_FACTOR * declared_warmup(timeframe)
    schedule = gmm_schedule(timeframe)
    stamps = pd.DatetimeIndex(ts[: first + 1])
    cps = checkpoints(stamps, schedule.every)
    last_checkpoint = int(cps[-1]) if len(cps) else 0  # the fit that labels bar `first` is made there
    start = min(start, last_checkpoint - TAIL_FACTOR * (schedule.window + RV_WINDOW))
    return max(start, 0)


def live_features(
    bars: pd.DataFrame, contexts: Mapping[str, pd.DataFrame], timeframe: str, names: list[str], since: pd.Timestamp
) -> pd.DataFrame:
    """`ts` and the named features of every bar after `since`, computed from the tail of `bars`
    (and of each context symbol's bars) that their warm-up needs. Rows are those a full recompute
    has after `since` (bars without a row in every context symbol have none, as in `features`)."""
    ts = epoch_ns(bars["ts"])
    first = int(np.searchsorted(ts, pd.Timestamp(since).value, side="right"))
    if first >= len(bars):
        return pd.DataFrame({"ts": pd.DatetimeIndex([], tz="UTC"), **{n: np.array([], "float64") for n in names}})
    window = TAIL_FACTOR * declared_warmup(timeframe)
    tail = bars.iloc[tail_start(bars["ts"], first, timeframe) :]
    context_tails = {}
    for symbol, frame in contexts.items():
        at = int(np.searchsorted(epoch_ns(frame["ts"]), ts[first], side="left"))
        context_tails[symbol] = frame.iloc[max(at - window, 0) :]
    matrix = build_feature_matrix(tail.reset_index(drop=True), context_tails, timeframe=timeframe, options=EVERY_FEATURE)
    frame = model_columns(matrix.frame, names, f"the features of the bars after {since}")
    return frame.loc[epoch_ns(frame["ts"]) >= ts[first]].reset_index(drop=True)


def model_columns(frame: pd.DataFrame, names: list[str], where: str) -> pd.DataFrame:
    """`ts` and the model's features, or an error naming the ones the matrix lacks."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise TbError(
            f"{where} lack {', '.join(missing[:10])}: the model was trained on features these bars cannot give "
            "(a context symbol or traded volume missing from the source?)"
        )
    return frame[["ts", *names]]
