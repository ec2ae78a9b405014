"""Checks on `strategy_report`: a Sharpe ratio that survives its trials, a selection that is not
overfit, costs that leave something. WARN findings: the alert sensor reports them."""

import dagster as dg
from pydantic import Field

from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import StrategyReport

REPORT = dg.AssetKey("strategy_report")


class DsrConfig(dg.Config):
    min_dsr: float = Field(default=0.95, description="WARN when the Deflated Sharpe Ratio is below this")


class PboConfig(dg.Config):
    max_pbo: float = Field(default=0.5, description="WARN when the probability of backtest overfitting is above this")


class CostDragConfig(dg.Config):
    max_cost_drag: float = Field(default=0.5, description="WARN when costs take more than this share of the gross return")


def build_strategy_report_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    def report_of(context, artifacts):
        symbol, timeframe = partition_parts(context)
        return StrategyReport.load(artifact_root(artifacts), symbol, timeframe)

    @dg.asset_check(
        asset=REPORT,
        partitions_def=partitions_def,
        description="The Deflated Sharpe Ratio is at least min_dsr (0.95): below it the strategy is not distinguishable "
        "from the best of as many skill-less trials as were tried for the partition.",
    )
    def dsr_significant(context: dg.AssetCheckExecutionContext, config: DsrConfig, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        report = report_of(context, artifacts)
        if report.dsr is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"n_trials": report.n_trials},
                description="no DSR could be computed: " + "; ".join(n for n in report.notes if n.startswith("no DSR")),
            )
        passed = report.dsr >= config.min_dsr
        verdict = "distinguishable from luck" if passed else "not distinguishable from the best of the trials by chance"
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "dsr": report.dsr,
                "psr": report.psr,
                "sharpe": report.sharpe,
                "n_trials": report.n_trials,
                "min_dsr": config.min_dsr,
            },
            description=f"DSR {report.dsr:.3f} with {report.n_trials} trials (Sharpe {report.sharpe:.4f} per period): {verdict}",
        )

    @dg.asset_check(
        asset=REPORT,
        partitions_def=partitions_def,
        description="The probability of backtest overfitting (CSCV over every kept tuning trial's returns) is at most max_pbo (0.5).",
    )
    def pbo(context: dg.AssetCheckExecutionContext, config: PboConfig, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        report = report_of(context, artifacts)
        if report.pbo is None:
            return dg.AssetCheckResult(
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"pbo": "not computed"},
                description="PBO not computed: " + "; ".join(n for n in report.notes if n.startswith("no PBO")),
            )
        passed = report.pbo <= config.max_pbo
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"pbo": report.pbo, "max_pbo": config.max_pbo, "trials_ranked": report.trials.get("complete_with_returns", 0)},
            description=f"PBO {report.pbo:.2f}: the in-sample best trial ranks at or below the median out of sample in "
            f"{report.pbo:.0%} of the CSCV splits" + ("" if passed else " (selection is overfitting)"),
        )

    @dg.asset_check(
        asset=REPORT,
        partitions_def=partitions_def,
        description="Costs take at most max_cost_drag (half) of the gross return; a strategy that loses before costs fails.",
    )
    def cost_drag(context: dg.AssetCheckExecutionContext, config: CostDragConfig, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        report = report_of(context, artifacts)
        summary = report.summary
        drag = summary.get("cost_drag")
        gross, cost = summary.get("gross_return_sum", 0.0), summary.get("cost_sum", 0.0)
        passed = drag is not None and drag <= config.max_cost_drag
        said = "no gross return to take from" if drag is None else f"costs take {drag:.0%} of the gross return"
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "cost_drag": drag if drag is not None else "inf",
                "gross_return_sum": gross,
                "cost_sum": cost,
                "cost_bps": report.cost_bps,
                "max_cost_drag": config.max_cost_drag,
            },
            description=f"{said} (gross {gross:.4f}, costs {cost:.4f} summed over trades at {report.cost_bps:g} bp per side)",
        )

    return [dsr_significant, pbo, cost_drag]
