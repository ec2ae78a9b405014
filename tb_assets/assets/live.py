"""What the live assets share: the model that scores new bars and the bars it reads."""

import pandas as pd

from tb_assets.assets.common import bars_only
from tb_assets.core.errors import TbError
from tb_assets.resources import ArtifactStore, BarSourceResource, ModelRegistryResource
from tb_assets.storage.records import FeatureCatalog
from tb_assets.training.aliases import CHALLENGER, CHAMPION

SIGNALS = "signals"
SIGNAL_KEY = ("ts", "model_id")  # a bar is scored once per model


def serving_cards(artifacts: ArtifactStore, model_registry: ModelRegistryResource, symbol: str, timeframe: str, *, join: bool = True):
    """(champion card, challenger card or None), after the published production model joined (training.champions);
    `join=False` reads them without changing anything (the checks)."""
    from tb_assets.training.champions import serving

    with model_registry.open() as registry:
        return serving(registry.aliases(), artifacts.root_path, symbol, timeframe, join=join)


def live_models(artifacts: ArtifactStore, model_registry: ModelRegistryResource, symbol: str, timeframe: str) -> list:
    """The models that score new bars (core.live.signals.ScoringModel): the champion, then the challenger in shadow."""
    root = artifacts.root_path
    champion, challenger = serving_cards(artifacts, model_registry, symbol, timeframe)
    models = [champion.scoring_model(root, symbol, timeframe, CHAMPION)]
    if challenger is not None:
        models.append(challenger.scoring_model(root, symbol, timeframe, CHALLENGER))
    return models


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
