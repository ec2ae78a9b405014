"""Scheduled refresh: every asset of the chain on a cron, gated by its upstream blocking checks.

A schedule can only launch runs; declarative automation is what turns a cron tick into asset
backfills (DESIGN §5): the automation sensor evaluates the conditions and, with emit_backfills,
requests each wave (the roots for every partition, then each partition's next assets once the
blocking checks upstream passed) as one backfill, shown on the UI's Backfills page.
"""

from __future__ import annotations

import dagster as dg

AUTOMATION_SENSOR = "tb_refresh"


def refresh_condition(cron: str) -> dg.AutomationCondition:
    """Refresh once per cron tick (UTC), and only after every upstream blocking check passed."""
    return (
        dg.AutomationCondition.on_cron(cron, cron_timezone="UTC") & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label(f"refresh on {cron} (UTC) once upstream blocking checks pass")


def with_refresh(defs: dg.Definitions, cron: str) -> dg.Definitions:
    condition = refresh_condition(cron)
    return defs.map_asset_specs(func=lambda spec: spec.replace_attributes(automation_condition=condition))


def build_automation_sensor(cron: str, running: bool) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        emit_backfills=True,
        description=f"Refreshes every partition through the chain at each tick of {cron} (UTC, TB_REFRESH_CRON) as "
        "asset backfills, each asset once its upstream blocking checks passed. TB_AUTOMATION=off declares it stopped.",
    )
