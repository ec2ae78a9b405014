"""`tb run`'s progress lines, read from a real run's stored events."""

import dagster as dg

from tb_assets.runs.launch import PROGRESS_EVENTS, ProgressLines


@dg.asset
def summarized() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"summary": "trained nothing new: all 3 combination(s) are already in the registry"})


@dg.asset
def plain() -> None:
    return None


def test_a_finished_asset_line_carries_its_summary():
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([summarized, plain], instance=instance)
    records = instance.get_records_for_run(result.run_id, of_type=PROGRESS_EVENTS).records
    progress = ProgressLines()
    lines = [line for r in records if (line := progress.line(r.event_log_entry.dagster_event))]
    assert any(
        line.startswith("summarized materialized in ")
        and line.endswith(": trained nothing new: all 3 combination(s) are already in the registry")
        for line in lines
    ), lines
    assert any(line.startswith("plain materialized in ") and line.endswith("s") for line in lines), lines
