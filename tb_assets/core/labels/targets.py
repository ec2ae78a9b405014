"""The `targets` table of a partition: triple-barrier events, their weights, forward returns.

The statistics are in `barriers` (AFML ch. 3) and `weights` (ch. 4); this module decides which
bars become events, which volatility sets the barriers and which side (if any) each event bets on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.core.errors import TbError
from tb_assets.core.labels.barriers import cusum_filter, daily_volatility, ewm_volatility, triple_barrier
from tb_assets.core.labels.forward import forward_returns
from tb_assets.core.labels.weights import average_uniqueness, concurrency, label_spans, normalize_mean_one

MOMENTUM_BARS = 20  # side 'momentum': the sign of the return over this many bars


@dataclass(frozen=True)
class TargetSpec:
    """How events are chosen and labelled (the `targets` asset's config, as plain values)."""

    events: str = "all"  # 'all' bars with features, or 'cusum'
    cusum_threshold: float | None = None  # None: each bar's target volatility
    volatility: str = "auto"  # 'daily' (AFML 3.1), 'ewm' (1-bar returns), 'auto' (daily for 1d/1w)
    vol_span: int = 100
    pt_sl: tuple[float, ...] = (1.0, 1.0)
    vertical_bars: int = 20
    min_ret: float = 0.0
    side: str = "none"  # 'none', 'long', 'short', 'momentum'
    lookforward: int = 5


def event_side(close: pd.Series, side: str) -> pd.Series | None:
    """The side each event bets on (+1 long, -1 short), or None to label the first barrier."""
    if side == "none":
        return None
    if side == "long":
        return pd.Series(1.0, index=close.index)
    if side == "short":
        return pd.Series(-1.0, index=close.index)
    if side == "momentum":
        return np.sign(np.log(close / close.shift(MOMENTUM_BARS)))  # known at the bar's close
    raise TbError(f"side must be 'none', 'long', 'short' or 'momentum', got {side!r}")


def build_targets(bars: pd.DataFrame, feature_ts: pd.Series, spec: TargetSpec, timeframe: str) -> tuple[pd.DataFrame, dict]:
    """The labelled events of one partition and numbers describing them."""
    if len(spec.pt_sl) != 2:
        raise TbError(f"pt_sl needs two multiples (profit-take, stop-loss), got {spec.pt_sl}")
    close = pd.Series(bars["close"].to_numpy("float64"), index=pd.DatetimeIndex(bars["ts"]))
    kind = spec.volatility
    if kind == "auto":
        kind = "ewm" if timeframe in INTRADAY else "daily"
    vol = daily_volatility(close, spec.vol_span) if kind == "daily" else ewm_volatility(close, spec.vol_span)
    vol = vol.reindex(close.index)
    candidates = pd.DatetimeIndex(feature_ts).intersection(close.index)  # every event has a feature row
    if spec.events == "cusum":
        threshold = spec.cusum_threshold if spec.cusum_threshold is not None else vol
        candidates = candidates.intersection(cusum_filter(close, threshold))
    labels = triple_barrier(close, candidates, vol, tuple(spec.pt_sl), spec.vertical_bars, spec.min_ret, event_side(close, spec.side))
    if labels.empty:
        raise TbError(
            f"no labelled events: {len(candidates)} candidate(s), none with a known outcome and a target above "
            f"min_ret={spec.min_ret} (try a shorter vertical barrier or more history)"
        )
    bar_index = close.index
    labels["uniqueness"] = average_uniqueness(labels["t1"], bar_index).to_numpy()
    labels["weight"] = normalize_mean_one(labels["uniqueness"].to_numpy())
    if "side" not in labels.columns:
        labels["side"] = np.nan
    fwd = forward_returns(close, spec.lookforward).reindex(labels.index)
    out = pd.concat([labels, fwd], axis=1).reset_index().rename(columns={"t0": "ts"})
    out["barrier"] = out["barrier"].astype(str)
    out["label"] = out["label"].astype("int64")
    out["bin"] = out["bin"].astype("int64")

    conc = concurrency(labels["t1"], bar_index)
    start, end = label_spans(labels["t1"], bar_index)
    mix = out["barrier"].value_counts()
    stats = {
        "events": len(out),
        "candidates": len(candidates),
        "positive_rate": float(out["bin"].mean()),
        "n_pt": int(mix.get("pt", 0)),
        "n_sl": int(mix.get("sl", 0)),
        "n_vertical": int(mix.get("vertical", 0)),
        # over bars that at least one label covers: how many labels overlap there
        "mean_concurrency": float(conc[conc > 0].mean()),
        "mean_uniqueness": float(labels["uniqueness"].mean()),
        "mean_holding_bars": float(np.mean(end - start)),
        "volatility": kind,
    }
    return out, stats
