"""Blocking checks decide which version of a file artifact readers open (storage.versions).

An asset guarded by blocking checks saves its new version as the candidate; each of those checks
judges the candidate and records its verdict; the last one to pass publishes it. A failed check
leaves the previous version published and names the refused one, kept beside it for inspection.
"""

import dagster as dg

from tb_assets.storage import versions
from tb_assets.storage.urls import describe


def awaited(context: dg.AssetExecutionContext, asset: dg.AssetKey, blocking: tuple[str, ...]) -> tuple[str, ...]:
    """The blocking checks of `asset` this run executes: its new version waits for them. A run that
    leaves them out (a subset someone chose) publishes at once, as Dagster runs downstream assets
    when a blocking check was not executed."""
    in_run = context.job_def.asset_layer.asset_graph.asset_check_keys
    return tuple(sorted(name for name in blocking if dg.AssetCheckKey(asset, name) in in_run))


def judged(
    context: dg.AssetCheckExecutionContext, record, root, symbol: str, timeframe: str, result: dg.AssetCheckResult
) -> dg.AssetCheckResult:
    """`result` of a blocking check on `record` (loaded with review=True), after recording the
    verdict on the record's version and publishing that version if every check it awaits passed."""
    version = record.version
    if version is None:  # the flat layout of earlier releases: nothing to publish
        return result
    partition = record.partition_folder(root, symbol, timeframe)
    name = context.check_specs[0].name
    decision = versions.judge(partition, version, name, result.passed, result.description or "", context.run.run_id)
    metadata = {**result.metadata, "version": version, "published": decision.published, "latest_version": decision.latest or "none"}
    description = result.description or ""
    if not result.passed and version == decision.latest:  # a check run again on the version readers already open
        description = f"{description}; version {version} is the published one (nothing newer waits)"
    elif not result.passed:
        kept = describe(versions.version_folder(partition, version))
        stays = decision.latest or "nothing (no version was ever published)"
        metadata["refused_version"] = dg.MetadataValue.path(kept)
        description = f"{description}; version {version} is not published (kept at {kept}), latest stays {stays}"
    elif decision.waiting_for:
        metadata["waiting_for"] = ", ".join(decision.waiting_for)
    return dg.AssetCheckResult(passed=result.passed, severity=result.severity, metadata=metadata, description=description)
