"""Checks on `signals`: the stored signals are what a full recompute gives (training-serving parity)."""

import dagster as dg
import pandas as pd

from tb_assets.assets.live import SIGNALS, champion, live_inputs
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.history import latest_values
from tb_assets.resources import ArtifactStore, BarSourceResource, Warehouse

SIGNALS_KEY = dg.AssetKey(SIGNALS)
DEFAULT_PARITY_LAST = 50


def build_signals_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=SIGNALS_KEY,
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"bars": dg.AssetIn("bars")},
        description="Training-serving parity: the champion's latest signals (signals' parity_last) recomputed from a full "
        "recompute of the features (all history, as the backtest saw them) equal the stored ones to 1e-9, and so do "
        "the live (tail) features of those bars; a feature that differs is named. Blocking: model_health never "
        "judges signals the backtest would not have given.",
    )
    def training_serving_parity(
        context: dg.AssetCheckExecutionContext,
        bars: pd.DataFrame,
        bar_source: BarSourceResource,
        artifacts: ArtifactStore,
        warehouse: Warehouse,
    ) -> dg.AssetCheckResult:
        from tb_assets.core.live.signals import signal_parity

        symbol, timeframe = partition_parts(context)
        model = champion(artifacts, symbol, timeframe)
        stored = warehouse.stored(SIGNALS, symbol, timeframe)
        mine = None if stored is None else stored.loc[stored["model_id"] == model.model_id].sort_values("ts")
        if mine is None or mine.empty:
            return dg.AssetCheckResult(
                passed=True, metadata={"compared": 0, "model_id": model.model_id}, description=f"model {model.model_id} has no signal yet"
            )
        said = latest_values(context, SIGNALS_KEY, "parity_last", limit=1)
        last = int(said[0]) if said else DEFAULT_PARITY_LAST
        bars, contexts = live_inputs(bars, bar_source, artifacts, symbol, timeframe)
        parity = signal_parity(mine.tail(last), bars, contexts, timeframe, model)
        return dg.AssetCheckResult(
            passed=parity.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "compared": parity.compared,
                "max_abs_diff": parity.max_abs_diff,
                "mismatched": len(parity.mismatched),
                "missing": len(parity.missing),
                "features_differing": ", ".join(parity.features) or "none",
                "model_id": model.model_id,
            },
            description=parity.describe(),
        )

    return [training_serving_parity]
