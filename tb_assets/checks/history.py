"""What a check compares with: the same partition's earlier materializations in the instance."""

import dagster as dg


def latest_values(
    context: dg.AssetCheckExecutionContext, asset: dg.AssetKey, name: str, limit: int = 2, *, same: str | None = None
) -> list:
    """The metadata value `name` of this partition's latest `limit` materializations of `asset`,
    newest first (materializations without it are skipped). With `same`, only materializations
    whose metadata `same` equals the newest's count: numbers read another way are not compared."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[context.partition_key]), limit=limit if same is None else 20
    ).records
    if same is not None and records:
        marker = lambda r: getattr(r.asset_materialization.metadata.get(same), "value", None)  # noqa: E731
        records = [r for r in records if marker(r) == marker(records[0])][:limit]
    values = [r.asset_materialization.metadata.get(name) for r in records]
    return [v.value for v in values if v is not None]
