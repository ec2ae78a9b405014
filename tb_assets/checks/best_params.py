"""Check on `best_params`: did any trial survive the pruning rules."""

import dagster as dg

from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import TunedParams


def build_best_params_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="best_params",
        partitions_def=partitions_def,
        description="At least one Optuna trial completed; otherwise says which pruning rule stopped them and how to relax "
        "it. WARN: no trial clearing the bar is a finding about the data (no edge found), not an outage.",
    )
    def best_params_found(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        doc = TunedParams.load(artifact_root(artifacts), symbol, timeframe)
        return dg.AssetCheckResult(
            passed=doc.params is not None,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"message": doc.message or "none", "trials": dg.MetadataValue.json(doc.trials)},
            description=f"no edge found: {doc.message}" if doc.params is None else f"tuned: {doc.trials}",
        )

    return [best_params_found]
