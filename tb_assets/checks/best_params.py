"""Check on `best_params`: did any trial survive the pruning rules."""

import dagster as dg

from tb_assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore


def build_best_params_checks(best_params: dg.AssetsDefinition, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(asset=best_params, partitions_def=partitions_def,
                    description="At least one Optuna trial completed; otherwise says which pruning rule stopped them and how to relax it.")
    def best_params_found(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        doc = artifacts.read_json("best_params", symbol, timeframe, "best_params.json")
        return dg.AssetCheckResult(
            passed=doc.get("params") is not None, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"message": doc.get("message", "none"), "trials": dg.MetadataValue.json(doc.get("trials", {}))},
        )

    return [best_params_found]
