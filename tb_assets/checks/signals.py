"""Checks on `signals`: the stored signals are what a full recompute gives (training-serving parity)."""

import dagster as dg
import pandas as pd

from tb_assets.assets.live import SIGNALS, live_inputs, serving_cards
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.history import latest_values
from tb_assets.resources import ArtifactStore, BarSourceResource, ModelRegistryResource, Warehouse

SIGNALS_KEY = dg.AssetKey(SIGNALS)
DEFAULT_PARITY_LAST = 50


def build_signals_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=SIGNALS_KEY,
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"bars_in": dg.AssetIn("bars")},
        description="Training-serving parity: the latest signals of the champion and the challenger (signals' parity_last) "
        "recomputed from a full "
        "recompute of the features (all history, as the backtest saw them) equal the stored ones to 1e-9, and so do "
        "the live (tail) features of those bars; a feature that differs is named. Blocking: model_health never "
        "judges signals the backtest would not have given.",
    )
    def training_serving_parity(
        context: dg.AssetCheckExecutionContext,
        bars_in: pd.DataFrame,
        bar_source: BarSourceResource,
        artifacts: ArtifactStore,
        warehouse: Warehouse,
        model_registry: ModelRegistryResource,
    ) -> dg.AssetCheckResult:
        from tb_assets.core.live.signals import signal_parity

        symbol, timeframe = partition_parts(context)
        root = artifacts.root_path
        cards = [c for c in serving_cards(artifacts, model_registry, symbol, timeframe, join=False) if c is not None]
        models = [c.scoring_model(root, symbol, timeframe) for c in cards]
        stored = warehouse.stored(SIGNALS, symbol, timeframe)
        said = latest_values(context, SIGNALS_KEY, "parity_last", limit=1)
        last = int(said[0]) if said else DEFAULT_PARITY_LAST
        judged, compared, worst, mismatched, missing, features = [], 0, 0.0, 0, 0, []
        bars, contexts = None, None
        for model in models:
            mine = None if stored is None else stored.loc[stored["model_id"] == model.model_id].sort_values("ts")
            if mine is None or mine.empty:
                continue
            if bars is None:
                bars, contexts = live_inputs(bars_in, bar_source, artifacts, symbol, timeframe)
            parity = signal_parity(mine.tail(last), bars, contexts, timeframe, model)
            judged.append((model.model_id, parity))
            compared += parity.compared
            worst = max(worst, parity.max_abs_diff)
            mismatched += len(parity.mismatched)
            missing += len(parity.missing)
            features += [f for f in parity.features if f not in features]
        if not judged:
            return dg.AssetCheckResult(
                passed=True, metadata={"compared": 0, "model_id": models[0].model_id}, description="no model has a signal yet"
            )
        return dg.AssetCheckResult(
            passed=all(p.passed for _, p in judged),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "compared": compared,
                "max_abs_diff": worst,
                "mismatched": mismatched,
                "missing": missing,
                "features_differing": ", ".join(features) or "none",
                "model_id": models[0].model_id,
            },
            description="; ".join(f"model {model_id}: {p.describe()}" for model_id, p in judged),
        )

    return [training_serving_parity]
