"""`targets`: triple-barrier labels with uniqueness weights, plus forward-return targets."""

from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import DUCKDB_POOL, PARTITION_EXPR, WAREHOUSE_IO, markdown_table
from tb_assets.assets.features import bars_only
from tb_assets.core.errors import TbError
from tb_assets.core.labels.barriers import cusum_filter, daily_volatility, ewm_volatility, forward_returns, triple_barrier
from tb_assets.core.labels.weights import average_uniqueness, concurrency, label_spans, normalize_mean_one
from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.partitions import partition_parts


class TargetsConfig(dg.Config):
    events: Literal["all", "cusum"] = Field(
        default="all", description="Where events start: every bar with features, or bars picked by the CUSUM filter"
    )
    cusum_threshold: float | None = Field(
        default=None, description="CUSUM threshold on log prices (default: each bar's target volatility)"
    )
    volatility: Literal["auto", "daily", "ewm"] = Field(
        default="auto",
        description="Target volatility: 'daily' = EWM std of returns against the bar a day earlier (AFML 3.1), "
        "'ewm' = EWM std of 1-bar returns, 'auto' = daily for 1d/1w bars, ewm for intraday bars (a day's move "
        "is too wide a barrier for a few intraday bars)",
    )
    vol_span: int = Field(default=100, description="EWM span of the target volatility, in bars")
    pt_sl: list[float] = Field(
        default=[1.0, 1.0], description="Profit-take and stop-loss as multiples of the target volatility (0 disables)"
    )
    vertical_bars: int = Field(default=20, description="Vertical barrier: this many bars after the event")
    min_ret: float = Field(default=0.0, description="Drop events whose target volatility is at or below this")
    side: Literal["none", "long", "short", "momentum"] = Field(
        default="none",
        description="'none': label the first barrier; 'long'/'short'/'momentum' (sign of the past 20-bar "
        "return): meta-labels, bin = 1 when the side paid",
    )
    lookforward: int = Field(default=5, description="Horizon of the forward-return targets, in bars")


def event_side(close: pd.Series, side: str) -> pd.Series | None:
    if side == "none":
        return None
    if side == "long":
        return pd.Series(1.0, index=close.index)
    if side == "short":
        return pd.Series(-1.0, index=close.index)
    return np.sign(np.log(close / close.shift(20)))  # momentum: known at the bar's close


def build_targets(bars: pd.DataFrame, feature_ts: pd.Series, config: TargetsConfig, timeframe: str) -> tuple[pd.DataFrame, dict]:
    """The labelled events of one partition and numbers describing them."""
    if len(config.pt_sl) != 2:
        raise TbError(f"pt_sl needs two multiples (profit-take, stop-loss), got {config.pt_sl}")
    close = pd.Series(bars["close"].to_numpy("float64"), index=pd.DatetimeIndex(bars["ts"]))
    kind = config.volatility
    if kind == "auto":
        kind = "ewm" if timeframe in INTRADAY else "daily"
    vol = daily_volatility(close, config.vol_span) if kind == "daily" else ewm_volatility(close, config.vol_span)
    vol = vol.reindex(close.index)
    candidates = pd.DatetimeIndex(feature_ts).intersection(close.index)  # every event has a feature row
    if config.events == "cusum":
        threshold = config.cusum_threshold if config.cusum_threshold is not None else vol
        candidates = candidates.intersection(cusum_filter(close, threshold))
    labels = triple_barrier(
        close, candidates, vol, tuple(config.pt_sl), config.vertical_bars, config.min_ret, event_side(close, config.side)
    )
    if labels.empty:
        raise TbError(
            f"no labelled events: {len(candidates)} candidate(s), none with a known outcome and a target above "
            f"min_ret={config.min_ret} (try a shorter vertical barrier or more history)"
        )
    bar_index = close.index
    labels["uniqueness"] = average_uniqueness(labels["t1"], bar_index).to_numpy()
    labels["weight"] = normalize_mean_one(labels["uniqueness"].to_numpy())
    if "side" not in labels.columns:
        labels["side"] = np.nan
    fwd = forward_returns(close, config.lookforward).reindex(labels.index)
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


def build_targets_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        io_manager_key=WAREHOUSE_IO,
        metadata={"partition_expr": PARTITION_EXPR},
        kinds={"duckdb", "pandas", "numba"},
        group_name="targets",
        pool=DUCKDB_POOL,
        code_version="1",
    )
    def targets(context: dg.AssetExecutionContext, config: TargetsConfig, bars: pd.DataFrame, features: pd.DataFrame) -> dg.MaterializeResult:
        """One row per event (ts = t0): first barrier touch t1, ret, trgt, label (1 pt, -1 sl, 0 vertical),
        bin, barrier, side, average uniqueness and the mean-1 sample weight, forward-return targets."""
        symbol, timeframe = partition_parts(context)
        clean = bars_only(bars)
        out, stats = build_targets(clean, features["ts"], config, timeframe)
        out.insert(0, "timeframe", timeframe)
        out.insert(0, "symbol", symbol)
        preview = out.tail(5)[["ts", "t1", "trgt", "ret", "label", "bin", "weight"]]
        return dg.MaterializeResult(
            value=out,
            metadata={
                **stats,
                "label_mix": dg.MetadataValue.md(
                    markdown_table(pd.DataFrame({"barrier": ["pt", "sl", "vertical"], "events": [stats["n_pt"], stats["n_sl"], stats["n_vertical"]]}))
                ),
                "config": dg.MetadataValue.json(config.model_dump()),
                "preview": dg.MetadataValue.md(markdown_table(preview)),
            },
        )

    return targets
