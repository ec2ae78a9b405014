"""Checks on the stored `bars` partition (read back through the warehouse IO manager)."""

import dagster as dg
import pandas as pd

from tb_assets.core.data.validation import ohlcv_problems


def build_bars_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="bars",
        partitions_def=partitions_def,
        blocking=True,
        description=(
            "The stored bars keep the contract every later stage relies on: UTC timestamps, strictly "
            "increasing and not in the future; finite positive prices; low <= open, close <= high; "
            "volume >= 0. Blocking: features are never computed on broken bars."
        ),
    )
    def bars_valid_ohlcv(bars: pd.DataFrame) -> dg.AssetCheckResult:
        problems = ohlcv_problems(bars)  # reads the bar columns only: no copy of 10 million rows
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows": len(bars), "problems": "; ".join(problems) or "none"},
            description="; ".join(problems) or f"{len(bars):,} bars keep the contract",
        )

    return [bars_valid_ohlcv]
