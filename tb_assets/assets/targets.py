"""`targets`: triple-barrier labels with uniqueness weights, plus forward-return targets."""

from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import WAREHOUSE_IO, bars_only, markdown_table
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.targets import build_targets_checks
from tb_assets.core.labels.targets import TargetSpec, build_targets


class TargetsConfig(dg.Config):
    events: Literal["all", "cusum"] = Field(
        default="all", description="Where events start: every bar with features, or bars picked by the CUSUM filter"
    )
    cusum_threshold: float | None = Field(default=None, description="CUSUM threshold on log prices (default: each bar's target volatility)")
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


def build_targets_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        io_manager_key=WAREHOUSE_IO,
        kinds={"parquet", "pandas", "numba"},
        group_name="targets",
        code_version="1",
    )
    def targets(
        context: dg.AssetExecutionContext, config: TargetsConfig, bars: pd.DataFrame, features: pd.DataFrame
    ) -> dg.MaterializeResult:
        """One row per event (ts = t0): first barrier touch t1, ret, trgt, label (1 pt, -1 sl, 0 vertical),
        bin, barrier, side, average uniqueness and the mean-1 sample weight, forward-return targets."""
        symbol, timeframe = partition_parts(context)
        clean = bars_only(bars)
        spec = TargetSpec(**{**config.model_dump(), "pt_sl": tuple(config.pt_sl)})
        out, stats = build_targets(clean, features["ts"], spec, timeframe)
        out.insert(0, "timeframe", timeframe)
        out.insert(0, "symbol", symbol)
        preview = out.tail(5)[["ts", "t1", "trgt", "ret", "label", "bin", "weight"]]
        return dg.MaterializeResult(
            value=out,
            metadata={
                **stats,
                "label_mix": dg.MetadataValue.md(
                    markdown_table(
                        pd.DataFrame({"barrier": ["pt", "sl", "vertical"], "events": [stats["n_pt"], stats["n_sl"], stats["n_vertical"]]})
                    )
                ),
                "config": dg.MetadataValue.json(config.model_dump()),
                "preview": dg.MetadataValue.md(markdown_table(preview)),
            },
        )

    return targets


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `targets` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_targets_asset(partitions_def)], asset_checks=build_targets_checks(partitions_def))
