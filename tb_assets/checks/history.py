"""What a check compares with: the same partition's earlier materializations in the instance."""

import dagster as dg


def latest_values(context: dg.AssetCheckExecutionContext, asset: dg.AssetKey, name: str, limit: int = 2) -> list:
    """The metadata value `name` of this partition's latest `limit` materializations of `asset`,
    newest first (materializations without it are skipped)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[context.partition_key]), limit=limit
    ).records
    values = [r.asset_materialization.metadata.get(name) for r in records]
    return [v.value for v in values if v is not None]
