"""`signals`: the champion model's probability, side and bet size for every bar after its training data."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.live import SIGNAL_KEY, SIGNALS, live_inputs, live_models
from tb_assets.assets.partitions import partition_parts
from tb_assets.assets.strategy_trades import SizingConfig
from tb_assets.checks.signals import build_signals_checks
from tb_assets.resources import ArtifactStore, BarSourceResource, ModelRegistryResource, Warehouse


class SignalsConfig(SizingConfig):
    parity_last: int = Field(
        default=50, ge=1, description="training_serving_parity recomputes this many of the latest signals from all history"
    )


def build_signals_asset(partitions_def: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy | None) -> dg.AssetsDefinition:
    @dg.asset(
        name=SIGNALS,
        partitions_def=partitions_def,
        deps=["production_model"],
        kinds={"parquet", "lightgbm"},
        group_name="live",
        code_version="1",
        freshness_policy=freshness,
    )
    def signals(
        context: dg.AssetExecutionContext,
        config: SignalsConfig,
        bars: pd.DataFrame,
        bar_source: BarSourceResource,
        artifacts: ArtifactStore,
        warehouse: Warehouse,
        model_registry: ModelRegistryResource,
    ) -> dg.MaterializeResult:
        """Append-only table: for every bar after the champion's training data that it has not scored yet, the
        calibrated probability of the up label, the side and the AFML bet size, with the model's id (its
        production_model version), its model file's SHA-256 and its role; the challenger, if there is one, scores
        the same bars in shadow (role challenger). The features of new bars come from the tail of history their
        warm-up needs (equal to a full recompute's: training_serving_parity proves it). A bar is scored once per
        model: re-running adds nothing; the table is replaced whole, so a killed run adds nothing."""
        from tb_assets.core.live.signals import score_new_bars

        symbol, timeframe = partition_parts(context)
        models = live_models(artifacts, model_registry, symbol, timeframe)
        bars, contexts = live_inputs(bars, bar_source, artifacts, symbol, timeframe)
        stored = warehouse.stored(SIGNALS, symbol, timeframe)
        now = pd.Timestamp(datetime.now(UTC))
        new = pd.concat([score_new_bars(bars, contexts, timeframe, m, stored, config.sizing(), now) for m in models], ignore_index=True)
        added = warehouse.append(SIGNALS, symbol, timeframe, new, SIGNAL_KEY) if len(new) else 0
        model = models[0]
        mine = new.loc[new["model_id"] == model.model_id]
        if stored is not None:
            mine = pd.concat([stored.loc[stored["model_id"] == model.model_id], mine], ignore_index=True)
        context.log.info(f"{symbol}|{timeframe}: {added} new signal(s) from {', '.join(f'{m.role} {m.model_id}' for m in models)}")
        return dg.MaterializeResult(
            metadata={
                "new_signals": int((new["model_id"] == model.model_id).sum()) if added else 0,
                "new_shadow_signals": int((new["model_id"] != model.model_id).sum()) if added else 0,
                "model_signals": len(mine),
                "model_id": model.model_id,
                "model_sha256": model.sha256,
                "challenger_id": models[1].model_id if len(models) > 1 else "none",
                "trained_until": dg.MetadataValue.timestamp(model.data_end.to_pydatetime()),
                "last_bar": dg.MetadataValue.timestamp(pd.Timestamp(bars["ts"].iloc[-1]).to_pydatetime()),
                **({"last_proba": float(mine["proba"].iloc[-1]), "last_side": int(mine["side"].iloc[-1])} if len(mine) else {}),
                "step": config.step,
                "cap": config.cap,
                "parity_last": config.parity_last,
                "preview": dg.MetadataValue.md(markdown_table(mine.tail(5)[["ts", "proba", "side", "size", "model_id"]].round(6))),
            }
        )

    return signals


def definitions(partitions_def: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy | None = None) -> dg.Definitions:
    """The `signals` stage: its asset and the training-serving parity check."""
    return dg.Definitions(assets=[build_signals_asset(partitions_def, freshness)], asset_checks=build_signals_checks(partitions_def))
