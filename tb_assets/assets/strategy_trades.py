"""`strategy_trades`: one trade per event from its out-of-sample probability, after costs."""

from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import WAREHOUSE_IO, markdown_table
from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import StrategyBacktest


class SizingConfig(dg.Config):
    """Probability -> signed bet size: what the backtest's trades and the live signals share."""

    step: float = Field(default=0.0, ge=0.0, le=1.0, description="Round bet sizes to multiples of this (AFML 10.3); 0 keeps them exact")
    cap: float = Field(default=1.0, gt=0.0, le=1.0, description="Largest bet size, as a fraction of capital")

    def sizing(self):
        """probability of the up label -> signed bet size (core.strategy.bet_size with this config)."""
        from tb_assets.core.strategy.bet_sizing import bet_size

        return lambda proba: bet_size(proba, step=self.step, cap=self.cap)


class StrategyConfig(SizingConfig):
    cost_bps: float = Field(default=2.0, ge=0.0, description="Commission and fees per side, in basis points of the notional traded")
    half_spread_bps: float = Field(
        default=0.0, ge=0.0, description="Half the bid-ask spread, paid on entry and again on exit (bp); with corwin_schultz, its floor"
    )
    spread_model: Literal["fixed", "corwin_schultz"] = Field(
        default="fixed",
        description="'corwin_schultz': each bar's spread estimated from its high and low (Corwin & Schultz 2012), causal; "
        "it overstates the spread where a bar's volatility dwarfs it (liquid markets): there a fixed half_spread_bps is better",
    )
    spread_window: int = Field(default=20, ge=1, description="Bars the Corwin-Schultz estimate averages over")

    def costs(self):
        from tb_assets.core.strategy.trades import Costs

        return Costs(self.cost_bps, self.half_spread_bps, self.spread_model, self.spread_window)


def build_strategy_trades_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        deps=["strategy_backtest"],
        io_manager_key=WAREHOUSE_IO,
        kinds={"parquet", "pandas"},
        group_name="strategy",
        code_version="1",
    )
    def strategy_trades(
        context: dg.AssetExecutionContext, config: StrategyConfig, bars: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """Each labelled event traded on its out-of-sample probability (the mean over the CPCV paths: no model
        behind it saw the event): side and size from the AFML bet size, entered at the next bar's open,
        exited at the close of the bar where its label ended, with cost_bps per side and the half-spread.
        Columns: ts (event), t1, side, proba, size, entry/exit time and price, gross_return, cost, net_return."""
        from tb_assets.core.strategy.trades import build_trades
        from tb_assets.core.strategy.trials import sized_events

        symbol, timeframe = partition_parts(context)
        backtest = StrategyBacktest.load(artifact_root(artifacts), symbol, timeframe)
        events = backtest.table(StrategyBacktest.PATHS)
        proba = events[[f"path_{p}" for p in range(backtest.n_paths)]].to_numpy().mean(axis=1)
        bars = bars.sort_values("ts").reset_index(drop=True)
        trades = build_trades(sized_events(events["ts"], events["t1"], proba, config.sizing()), bars, config.costs())
        table = trades.table
        placed = table[table["size"] > 0]
        gross, cost = float(table["gross_return"].sum()), float(table["cost"].sum())
        if trades.untradable:
            context.log.info(f"{symbol}|{timeframe}: {trades.untradable} event(s) have no bar after them yet and are not traded")
        return dg.MaterializeResult(
            value=table,
            metadata={
                "trades": len(placed),
                "events": len(events),
                "untradable_events": trades.untradable,
                "long": int((placed["side"] > 0).sum()),
                "short": int((placed["side"] < 0).sum()),
                "mean_size": float(placed["size"].mean()) if len(placed) else 0.0,
                "hit_rate": float((placed["net_return"] > 0).mean()) if len(placed) else float("nan"),
                "gross_return_sum": gross,
                "cost_sum": cost,
                "net_return_sum": float(table["net_return"].sum()),
                "cost_bps": config.cost_bps,
                "half_spread_bps": config.half_spread_bps,
                "spread_model": config.spread_model,
                "spread_window": config.spread_window,
                "step": config.step,
                "cap": config.cap,
                "preview": dg.MetadataValue.md(markdown_table(table.tail(5).round(6))),
            },
        )

    return strategy_trades


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `strategy_trades` stage (its numbers are judged by strategy_report's checks)."""
    return dg.Definitions(assets=[build_strategy_trades_asset(partitions_def)])
