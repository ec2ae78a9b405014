"""Checks on the stored `targets` partition."""

import dagster as dg
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import bars_only
from tb_assets.core.labels.barriers import label_problems
from tb_assets.core.labels.weights import weight_problems


class PositiveRateBand(dg.Config):
    low: float = Field(default=0.2, description="Warn when the share of bin = 1 is below this")
    high: float = Field(default=0.8, description="Warn when the share of bin = 1 is above this")


def build_targets_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="targets",
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"bars": dg.AssetIn("bars")},
        description="Every label ends after it starts (t1 > t0), on a bar, and no t1 lies beyond the last bar: "
        "no label uses an outcome nobody could know yet.",
    )
    def targets_t1_valid(targets: pd.DataFrame, bars: pd.DataFrame) -> dg.AssetCheckResult:
        problems = label_problems(targets["ts"], targets["t1"], bars_only(bars)["ts"])
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={"events": len(targets), "problems": "; ".join(problems) or "none"},
            description="; ".join(problems) or f"{len(targets):,} labels end on a known bar after they start",
        )

    @dg.asset_check(
        asset="targets",
        partitions_def=partitions_def,
        blocking=True,
        description="Sample weights are finite, positive and average 1.",
    )
    def targets_weights_valid(targets: pd.DataFrame) -> dg.AssetCheckResult:
        problems = weight_problems(targets["weight"])
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={
                "min_weight": float(targets["weight"].min()),
                "max_weight": float(targets["weight"].max()),
                "problems": "; ".join(problems) or "none",
            },
            description="; ".join(problems) or "weights finite, positive, mean 1",
        )

    @dg.asset_check(
        asset="targets",
        partitions_def=partitions_def,
        description="The share of positive labels (bin = 1) lies inside a band (WARN outside): a very skewed "
        "target usually means barriers too wide or too narrow for the volatility.",
    )
    def targets_positive_rate(config: PositiveRateBand, targets: pd.DataFrame) -> dg.AssetCheckResult:
        rate = float(targets["bin"].mean())
        return dg.AssetCheckResult(
            passed=config.low <= rate <= config.high,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"positive_rate": rate, "band": f"[{config.low}, {config.high}]"},
            description=f"positive rate {rate:.3f}, band [{config.low}, {config.high}]",
        )

    return [targets_t1_valid, targets_weights_valid, targets_positive_rate]
