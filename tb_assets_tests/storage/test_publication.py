"""Which blocking checks a new version waits for: those of the asset this run executes (a run that
leaves them out publishes at once, as Dagster runs downstream assets then)."""

import dagster as dg

from tb_assets.checks.publication import awaited

BLOCKING = ("guard", "not_a_check_of_this_asset")


@dg.asset
def guarded(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"awaits": ",".join(awaited(context, dg.AssetKey("guarded"), BLOCKING))})


@dg.asset_check(asset=guarded, blocking=True)
def guard() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def awaits(check_selection) -> str:
    job = dg.Definitions(assets=[guarded], asset_checks=[guard]).resolve_implicit_global_asset_job_def()
    result = job.get_subset(asset_selection={guarded.key}, asset_check_selection=check_selection).execute_in_process()
    return result.asset_materializations_for_node("guarded")[0].metadata["awaits"].value


def test_a_version_waits_only_for_the_blocking_checks_its_run_executes():
    assert awaits({dg.AssetCheckKey(guarded.key, "guard")}) == "guard"
    assert awaits(set()) == ""  # the check left out of the run: published at once
