"""`strategy_report`: does the partition's model make money after costs, and is that a fluke?"""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.assets.strategy_trades import StrategyConfig
from tb_assets.checks.history import latest_values
from tb_assets.checks.strategy_report import build_strategy_report_checks
from tb_assets.reporting.plots import figure_png, thumbnail_markdown
from tb_assets.resources import ArtifactStore, ModelRegistryResource
from tb_assets.storage.records import ModelCard, ModelHealth, Selection, ShapSummary, StrategyBacktest, StrategyReport, TunedParams

TRADES = dg.AssetKey("strategy_trades")
PICTURES = ("strategy_equity.png", "strategy_sharpes.png", "strategy_drawdown.png", "strategy_deciles.png")
MODEL_PICTURES = ("holdout_roc_pr.png", "holdout_reliability.png", "holdout_deciles.png")


class StrategyReportConfig(dg.Config):
    n_blocks: int = Field(default=16, ge=2, description="S: blocks of periods PBO's CSCV splits the trials' returns into (even)")


def trials_by_source(root, symbol: str, timeframe: str, registry: ModelRegistryResource) -> tuple[dict[str, int], TunedParams | None]:
    """What was tried for the partition (DESIGN §4): every Optuna trial (complete, pruned or failed),
    every feature set selection scored, every registry model of the partition's triple-barrier label."""
    counted: dict[str, int] = {}
    tuned = TunedParams.load(root, symbol, timeframe) if TunedParams.exists(root, symbol, timeframe) else None
    counted["optuna_trials"] = int(sum(tuned.trials.values())) if tuned is not None else 0
    selection = Selection.load(root, symbol, timeframe) if Selection.exists(root, symbol, timeframe) else None
    counted["selection_candidates"] = int(selection.scored or 0) if selection is not None else 0
    with registry.open() as models:
        counted["registry_models"] = sum(1 for row in models.find(symbol=symbol, timeframe=timeframe) if row.target == "bin")
    return counted, tuned


def live_health(root, symbol: str, timeframe: str) -> tuple[dict | None, dict[str, bytes]]:
    """model_health's latest record and pictures for the tearsheet's live section (none before its first run)."""
    from dataclasses import asdict

    if not ModelHealth.exists(root, symbol, timeframe):
        return None, {}
    health = ModelHealth.load(root, symbol, timeframe)
    return asdict(health), _files(health, health.plots.values())


def _files(record, names) -> dict[str, bytes]:
    return {name: record.file(name).read_bytes() for name in names if record.file(name).exists()}


def build_strategy_report_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, deps=["shap_report"], kinds={"pandas", "html"}, group_name="strategy", code_version="1")
    def strategy_report(
        context: dg.AssetExecutionContext,
        config: StrategyReportConfig,
        strategy_trades: pd.DataFrame,
        bars: pd.DataFrame,
        artifacts: ArtifactStore,
        model_registry: ModelRegistryResource,
    ) -> dg.MaterializeResult:
        """The strategy's return per bar after costs (strategy_returns.parquet), its Sharpe ratio per period with
        skew and non-excess kurtosis, PSR, the Deflated Sharpe Ratio with the partition's full trial count and the
        trials' Sharpe variance, PBO by CSCV over every kept trial's returns, each CPCV path's Sharpe ratio and
        drawdown, returns by probability decile, the pictures and a self-contained tearsheet.html."""
        from tb_assets.core.modeling.grades import grade_table
        from tb_assets.core.strategy.evaluation import evaluate_strategy, json_safe
        from tb_assets.core.strategy.trades import Costs
        from tb_assets.reporting.strategy_plots import decile_returns, draw_deciles, draw_drawdown, draw_equity, draw_sharpe_distribution
        from tb_assets.reporting.tearsheet import tearsheet_html

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        backtest = StrategyBacktest.load(root, symbol, timeframe)
        # the costs and sizing the trades were made with (their materialization says), so the paths and trials match
        said = {name: latest_values(context, TRADES, name, limit=1) for name in StrategyConfig.model_fields}
        defaults = StrategyConfig()
        sizing_config = StrategyConfig(**{k: (v[0] if v else getattr(defaults, k)) for k, v in said.items()})
        costs: Costs = sizing_config.costs()
        counted, tuned = trials_by_source(root, symbol, timeframe, model_registry)
        rows, kept = tuned.trial_predictions(root, symbol, timeframe) if tuned is not None else (pd.DataFrame(), {})
        trades = strategy_trades.drop(columns=["symbol", "timeframe"], errors="ignore")
        evaluation = evaluate_strategy(
            trades,
            bars,
            backtest.table(StrategyBacktest.PATHS),
            backtest.n_paths,
            costs,
            sizing_config.sizing(),
            counted,
            rows,
            kept,
            n_blocks=config.n_blocks,
        )
        report, notes = evaluation.report, evaluation.notes
        deciles = decile_returns(trades)
        strategy = pd.Series(evaluation.returns["net_return"].to_numpy(), index=pd.DatetimeIndex(evaluation.returns["ts"]))
        path_frame = evaluation.path_returns.set_index("ts")
        draw = {
            "strategy_equity.png": lambda fig: draw_equity(fig, strategy, path_frame),
            "strategy_sharpes.png": lambda fig: draw_sharpe_distribution(
                fig, evaluation.trial_sharpe.to_numpy(), report["path_sharpes"], report["sharpe"], evaluation.threshold
            ),
            "strategy_drawdown.png": lambda fig: draw_drawdown(fig, strategy),
            "strategy_deciles.png": lambda fig: draw_deciles(fig, deciles),
        }
        pictures = {name: figure_png(paint, size=(10, 4.5)) for name, paint in draw.items()}
        card = ModelCard.load(root, symbol, timeframe)
        shap = ShapSummary.load(root, symbol, timeframe) if ShapSummary.exists(root, symbol, timeframe) else None
        paths_table = pd.DataFrame([{"path": name, **stats} for name, stats in report["paths"].items()])
        html = tearsheet_html(
            f"{symbol}|{timeframe}",
            {
                **{
                    k: getattr(card, k) for k in ("training_date", "n_samples", "n_features", "positive_rate", "n_estimators", "date_range")
                },
                "calibration_method": card.calibration.get("method"),
            },
            grade_table(card.oof_metrics, card.holdout_metrics),
            _files(card, MODEL_PICTURES),
            {} if shap is None else {name: shap.file(name).read_bytes() for name in shap.plots if shap.file(name).exists()},
            json_safe(report),
            pictures,
            paths_table,
            deciles,
            notes,
            *live_health(root, symbol, timeframe),
        )
        record = StrategyReport(**json_safe(report), deciles=json_safe(deciles.to_dict(orient="records")), notes=notes)
        path = record.save(
            root,
            symbol,
            timeframe,
            {
                StrategyReport.RETURNS: evaluation.returns[["ts", "net_return", "gross_return", "open_trades", "position"]],
                StrategyReport.PATH_RETURNS: evaluation.path_returns,
            },
            {**pictures, StrategyReport.TEARSHEET: html.encode()},
        )
        folder = record.location
        summary = report["summary"]
        finite = lambda v: v if v is not None and np.isfinite(v) else None  # noqa: E731
        metadata = {
            "equity": dg.MetadataValue.md(thumbnail_markdown(draw["strategy_equity.png"], "equity of the strategy and its CPCV paths")),
            "sharpe": report["sharpe"],
            "annualized_sharpe": report["annualized_sharpe"],
            "psr": report["psr"],
            "n_trials": report["n_trials"],
            "trials": ", ".join(f"{k}: {v}" for k, v in report["trials"].items()),
            "max_drawdown": report["max_drawdown"],
            "total_return": summary["total_return"],
            "trades": summary.get("trades", 0),
            "hit_rate": finite(summary.get("hit_rate")),
            "cost_drag": finite(summary.get("cost_drag")),
            "path_sharpe_min": float(np.min(report["path_sharpes"])),
            "path_sharpe_max": float(np.max(report["path_sharpes"])),
            "paths": dg.MetadataValue.md(markdown_table(paths_table)),
            "deciles": dg.MetadataValue.md(markdown_table(deciles) if len(deciles) else "fewer than 10 trades"),
            "notes": "; ".join(notes) or "none",
            "tearsheet": dg.MetadataValue.path(str(folder / StrategyReport.TEARSHEET)),
            **({"tearsheet_link": dg.MetadataValue.url(link)} if (link := artifacts.link(folder / StrategyReport.TEARSHEET)) else {}),
            **{f"plot_{name.removesuffix('.png')}": dg.MetadataValue.path(str(folder / name)) for name in pictures},
            "report": dg.MetadataValue.path(str(path)),
            "version": record.version,
        }
        for name in ("dsr", "pbo", "trials_sharpe_variance", "minimum_track_record_length"):
            if finite(report[name]) is not None:
                metadata[name] = float(report[name])
        return dg.MaterializeResult(metadata=metadata)

    return strategy_report


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `strategy_report` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_strategy_report_asset(partitions_def)], asset_checks=build_strategy_report_checks(partitions_def))
