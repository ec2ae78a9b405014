"""What the live assets share: the model that scores new bars and the bars it reads."""

import pandas as pd

from tb_assets.assets.common import bars_only
from tb_assets.core.errors import TbError
from tb_assets.resources import ArtifactStore, BarSourceResource
from tb_assets.storage.records import FeatureCatalog, ModelCard

SIGNALS = "signals"
SIGNAL_KEY = ("ts", "model_id")  # a bar is scored once per model


def champion(artifacts: ArtifactStore, symbol: str, timeframe: str):
    """The model whose signals are the partition's (core.live.signals.ScoringModel): the published production model."""
    root = artifacts.root_path
    return ModelCard.load(root, symbol, timeframe).scoring_model(root, symbol, timeframe)


def live_inputs(
    bars: pd.DataFrame, bar_source: BarSourceResource, artifacts: ArtifactStore, symbol: str, timeframe: str
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The partition's bars in time order and the bars of the context symbols its features were built with."""
    catalog = FeatureCatalog.load(artifacts.root_path, symbol, timeframe)
    contexts, skipped = bar_source.context_bars(catalog.context_used, symbol, timeframe)
    if skipped:  # the model takes their features: scoring without them would be another model's input
        raise TbError(
            f"{symbol}|{timeframe}: context symbol(s) {', '.join(f'{s} ({why})' for s, why in skipped.items())} cannot be read "
            "now, and the model's features include theirs"
        )
    return bars_only(bars), contexts
