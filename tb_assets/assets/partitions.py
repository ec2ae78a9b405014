"""The partition space: symbol x timeframe, keys like 'SPX|1d'."""

from __future__ import annotations

import dagster as dg

from tb_assets.settings import Settings


def build_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            "symbol": dg.StaticPartitionsDefinition(list(settings.symbols)),
            "timeframe": dg.StaticPartitionsDefinition(list(settings.timeframes)),
        }
    )


def partition_parts(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[str, str]:
    """(symbol, timeframe) of the partition being materialized or checked."""
    key = context.partition_key
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
    else:
        symbol, timeframe = str(key).split("|")
        dims = {"symbol": symbol, "timeframe": timeframe}
    return dims["symbol"], dims["timeframe"]
