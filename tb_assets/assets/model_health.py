"""`model_health`: is the champion still working on the market that followed its training?"""

from functools import partial

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.live import SIGNALS, live_inputs, serving_cards
from tb_assets.assets.partitions import partition_parts
from tb_assets.assets.strategy_trades import StrategyConfig
from tb_assets.checks.history import latest_values
from tb_assets.checks.model_health import build_model_health_checks
from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.core.errors import TbError
from tb_assets.reporting.health_plots import draw_change, draw_drift, draw_realized
from tb_assets.reporting.plots import figure_png, thumbnail_markdown
from tb_assets.resources import ArtifactStore, BarSourceResource, ModelRegistryResource, Warehouse
from tb_assets.storage.records import ModelHealth

PICTURES = {"health_realized.png": "realized", "health_change.png": "change", "health_drift.png": "drift"}


class ModelHealthConfig(StrategyConfig):
    drift_window: int = Field(
        default=0,
        ge=0,
        description="Rows of the latest live window judged for drift (0: 60 bars, or five 390-minute sessions of intraday bars); "
        "the reference's side-by-side windows of this length are its null",
    )
    drift_alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="feature_drift's false alarm rate on unchanged features")
    change_alpha: float = Field(
        default=0.01, gt=0.0, lt=1.0, description="The change detector's false alarm rate over the whole stream of resolved events"
    )
    promotion_alpha: float = Field(
        default=0.05,
        gt=0.0,
        lt=0.5,
        description="The challenger replaces the champion when DeLong's paired test says its AUC is higher at this level "
        "(one-sided) on the same untouched events: a challenger that is noise wins by chance at most this often",
    )
    promotion_min_events: int = Field(
        default=100, ge=20, description="Resolved events both models scored (untouched by either) before the gate decides anything"
    )


def drift_window(config: ModelHealthConfig, timeframe: str) -> int:
    if config.drift_window:
        return config.drift_window
    if timeframe in INTRADAY:
        from tb_assets.core.data.time_index import step

        return max(60, int(5 * pd.Timedelta(minutes=390) / step(timeframe)))
    return 60


def no_signal_yet(root, symbol: str, timeframe: str, model) -> dg.MaterializeResult:
    """The record of a champion with no signal yet (every check passes: nothing to judge)."""
    said = f"model {model.model_id} has no signal yet (trained until {model.data_end}): nothing to judge"
    record = ModelHealth(
        model_id=model.model_id,
        model_sha256=model.sha256,
        trained_until=str(model.data_end),
        live_rows=0,
        resolved_events=0,
        overlap=1.0,
        realized=[{"metric": "auc", "holdout": None, "holdout_lower": None, "realized": None, "realized_upper": None, "worse": False}],
        change={"threshold": None, "first_alarm": None, "max_statistic": 0.0, "mu0": None, "delta": None, "alpha": None},
        decayed=False,
        decay_said=said,
        calibration_z=None,
        calibration_drifted=False,
        calibration_said=said,
        drift=None,
        strategy={},
        notes=[said],
    )
    path = record.save(root, symbol, timeframe, {}, {})
    return dg.MaterializeResult(
        metadata={
            "resolved_events": 0,
            "live_rows": 0,
            "model_id": model.model_id,
            "model_health": dg.MetadataValue.path(str(path)),
            "decay": said,
        }
    )


def challenger_gate(
    config, model_registry, root, symbol, timeframe, champion, challenger, signals, challenger_holdout, labels, overlap
) -> dict:
    """DeLong's paired test of the challenger against the champion on the events neither trained on;
    the promotion, recorded with its evidence, when the challenger wins."""
    from tb_assets.core.live.promotion import PromotionRule, paired_auc_test, paired_window
    from tb_assets.training.champions import promote

    window = paired_window(
        signals.loc[signals["model_id"] == champion.version],
        signals.loc[signals["model_id"] == challenger.version],
        challenger_holdout,
        labels,
        champion.trained_until,
        challenger.trained_until,
    )
    rule = PromotionRule(alpha=config.promotion_alpha, min_events=config.promotion_min_events)
    test = paired_auc_test(window["y"], window["champion"], window["challenger"], overlap, rule)
    evidence = {
        **test.as_dict(),
        "champion": champion.version,
        "challenger": challenger.version,
        "holdout_events": int((window["part"] == "holdout").sum()),
        "shadow_events": int((window["part"] == "shadow").sum()),
        "window": [str(window["ts"].min()), str(window["ts"].max())] if len(window) else [],
        "rule": {"alpha": rule.alpha, "min_events": rule.min_events, "test": "DeLong paired AUC, one-sided, variance x overlap"},
    }
    if test.promote:
        with model_registry.open() as registry:
            promote(registry.aliases(), root, symbol, timeframe, decided_by="gate", evidence=evidence, version=challenger.version)
    return {**evidence, "promoted": bool(test.promote)}


def build_model_health_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, deps=[SIGNALS], kinds={"pandas"}, group_name="live", code_version="1")
    def model_health(
        context: dg.AssetExecutionContext,
        config: ModelHealthConfig,
        bars: pd.DataFrame,
        features: pd.DataFrame,
        bar_source: BarSourceResource,
        artifacts: ArtifactStore,
        warehouse: Warehouse,
        model_registry: ModelRegistryResource,
    ) -> dg.MaterializeResult:
        """The champion on the labels that resolved after its training: realized AUC, Brier and log loss beside its
        holdout's intervals, a Page-Hinkley change detector on per-event log loss (threshold calibrated on the
        holdout's own losses), calibration in the large, its trades after costs, and drift of each feature in the
        latest window judged against the feature's own history (not an i.i.d. test: rolling features are
        autocorrelated). Pictures of each; the checks realized_decay, feature_drift and calibration_drift judge them.
        With a challenger: DeLong's paired test on the events neither model trained on (the challenger's holdout
        after the champion's training, then the shadow signals), and the promotion when it wins."""
        from tb_assets.core.labels.targets import TargetSpec, build_targets
        from tb_assets.core.labels.weights import label_overlap
        from tb_assets.core.live.change import ChangeSpec
        from tb_assets.core.live.drift import DriftSpec
        from tb_assets.core.live.health import HealthSpec, assess_health
        from tb_assets.core.live.tail import live_features
        from tb_assets.core.strategy.trades import build_trades
        from tb_assets.core.strategy.trials import sized_events

        symbol, timeframe = partition_parts(context)
        root = artifacts.root_path
        card, challenger_card = serving_cards(artifacts, model_registry, symbol, timeframe)
        model = card.scoring_model(root, symbol, timeframe)
        bars, contexts = live_inputs(bars, bar_source, artifacts, symbol, timeframe)
        stored = warehouse.stored(SIGNALS, symbol, timeframe)
        every = pd.DataFrame({"ts": pd.DatetimeIndex([], tz="UTC"), "proba": [], "model_id": []}) if stored is None else stored
        signals = every.loc[every["model_id"] == model.model_id].sort_values("ts")
        if signals.empty:  # trained until the last bar: nothing to judge yet, and no picture of nothing
            return no_signal_yet(root, symbol, timeframe, model)
        notes = []
        if card.holdout_metrics:
            holdout = card.holdout_predictions()
        else:
            holdout = pd.DataFrame({"ts": pd.DatetimeIndex([], tz="UTC"), "y": np.array([], "int64"), "proba": np.array([], "float64")})
            notes.append(
                f"model {model.model_id} has no untouched holdout (selected_features ran with holdout_pct 0): its realized "
                "results are measured but decay is not judged"
            )

        said = latest_values(context, dg.AssetKey("targets"), "config", limit=1)
        spec_doc = dict(said[0]) if said else {}
        known = set(TargetSpec.__dataclass_fields__)
        label_spec = TargetSpec(**{k: (tuple(v) if k == "pt_sl" else v) for k, v in spec_doc.items() if k in known})
        challenger_holdout = challenger_card.holdout_predictions() if challenger_card is not None else holdout.iloc[:0]
        events_ts = pd.DatetimeIndex(holdout["ts"]).union(pd.DatetimeIndex(every["ts"])).union(pd.DatetimeIndex(challenger_holdout["ts"]))
        try:
            labels, _ = build_targets(bars, pd.Series(events_ts), label_spec, timeframe)
        except TbError as exc:
            if "no labelled events" not in str(exc):  # a bad label spec is an error, not "nothing resolved yet"
                raise
            labels = pd.DataFrame({"ts": pd.DatetimeIndex([], tz="UTC"), "t1": pd.DatetimeIndex([], tz="UTC"), "bin": [], "uniqueness": []})
            notes.append(f"no resolved label: {exc}")
        overlap = label_overlap(labels["uniqueness"]) if len(labels) else 1.0
        live_labels = labels.loc[pd.DatetimeIndex(labels["ts"]) > model.data_end]

        reference = features.loc[pd.DatetimeIndex(features["ts"]) <= model.data_end, ["ts", *model.features]].sort_values("ts")
        current = live_features(bars, contexts, timeframe, model.features, model.data_end)
        spec = HealthSpec(
            drift=DriftSpec(window=drift_window(config, timeframe), alpha=config.drift_alpha), change=ChangeSpec(alpha=config.change_alpha)
        )
        health = assess_health(signals, live_labels, holdout, reference, current, overlap, spec)

        events = health.events
        trades = build_trades(sized_events(events["ts"], events["t1"], events["proba"].to_numpy(), config.sizing()), bars, config.costs())
        hold = holdout.merge(labels[["ts", "t1"]], on="ts", how="inner")
        hold_trades = build_trades(sized_events(hold["ts"], hold["t1"], hold["proba"].to_numpy(), config.sizing()), bars, config.costs())
        mean = lambda t: float(t.table["net_return"].mean()) if len(t.table) else None  # noqa: E731
        strategy = {
            "trades": len(trades.table),
            "mean_net_return": mean(trades),
            "net_return_sum": float(trades.table["net_return"].sum()),
            "holdout_trades": len(hold_trades.table),
            "holdout_mean_net_return": mean(hold_trades),
        }
        drift = health.drift
        promotion = None
        if challenger_card is not None:
            promotion = challenger_gate(
                config, model_registry, root, symbol, timeframe, card, challenger_card, every, challenger_holdout, live_labels, overlap
            )
            context.log.info(f"{symbol}|{timeframe}: challenger {challenger_card.version}: {promotion['reason']}")
        record = ModelHealth(
            model_id=model.model_id,
            model_sha256=model.sha256,
            trained_until=str(model.data_end),
            live_rows=health.live_rows,
            resolved_events=health.realized.n_events,
            overlap=overlap,
            realized=health.realized.table.to_dict("records"),
            change={
                "threshold": health.change.threshold,
                "first_alarm": health.change.first_alarm,
                "max_statistic": float(health.change.statistic.max(initial=0.0)),
                "mu0": health.change.mu0,
                "delta": health.change.delta,
                "alpha": config.change_alpha,
            },
            decayed=bool(health.decayed),
            decay_said=health.decay_said,
            calibration_z=health.realized.calibration_z if health.realized.n_events else None,
            calibration_drifted=health.calibration_drifted,
            calibration_said=health.calibration_said(),
            drift=None
            if drift is None
            else {
                "family_p": drift.family_p,
                "n_windows": drift.n_windows,
                "window": spec.drift.window,
                "alpha": drift.alpha,
                "drifted": bool(drift.drifted),
                "enough_history": bool(drift.enough_history),
                "iid_ks_drifted": drift.iid_ks_drifted,
                "evidently_drifted": drift.evidently_drifted,
                "said": drift.describe(),
                **(
                    {"domain_auc": health.domain.auc, "domain_p": health.domain.p_value, "domain_said": health.domain.describe()}
                    if health.domain is not None
                    else {}
                ),
            },
            strategy=strategy,
            promotion=promotion,
            notes=notes + ([] if drift is not None else [f"{health.live_rows} live row(s): drift needs a window of {spec.drift.window}"]),
        )
        realized = health.realized.table
        draws = {"health_realized.png": partial(draw_realized, events=events, realized=realized)}
        draws["health_change.png"] = partial(draw_change, events=events, threshold=health.change.threshold)
        if drift is not None:
            draws["health_drift.png"] = partial(draw_drift, table=drift.table)
        files = {name: figure_png(lambda fig, draw=draw: draw(fig), size=(11, 4.5)) for name, draw in draws.items()}
        record.plots = {PICTURES[name]: name for name in files}
        tables = {ModelHealth.EVENTS: events}
        if drift is not None:
            tables[ModelHealth.DRIFT] = drift.table
        path = record.save(root, symbol, timeframe, tables, files)
        auc = health.realized.row("auc")
        return dg.MaterializeResult(
            metadata={
                "resolved_events": health.realized.n_events,
                "live_rows": health.live_rows,
                "realized_auc": float(auc.realized) if np.isfinite(auc.realized) else float("nan"),
                "realized_auc_upper": float(auc.realized_upper) if np.isfinite(auc.realized_upper) else float("nan"),
                "holdout_auc": float(auc.holdout),
                "holdout_auc_lower": float(auc.holdout_lower),
                "change_statistic": record.change["max_statistic"],
                "change_threshold": health.change.threshold,
                "decayed": health.decayed,
                "calibration_z": record.calibration_z if record.calibration_z is not None else float("nan"),
                "drift_family_p": drift.family_p if drift is not None else float("nan"),
                "mean_net_return": strategy["mean_net_return"] if strategy["mean_net_return"] is not None else float("nan"),
                "model_id": model.model_id,
                "challenger_id": challenger_card.version if challenger_card is not None else "none",
                **({"promotion": dg.MetadataValue.json(promotion)} if promotion is not None else {}),
                "realized": dg.MetadataValue.md(markdown_table(realized.round(4))),
                "picture": dg.MetadataValue.md(
                    thumbnail_markdown(lambda fig: draw_realized(fig, events, realized), "realized against holdout")
                ),
                **{f"plot_{PICTURES[name]}": dg.MetadataValue.path(str(record.file(name))) for name in files},
                "model_health": dg.MetadataValue.path(str(path)),
                "decay": health.decay_said,
            }
        )

    return model_health


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `model_health` stage: its asset and its checks (decay, drift, calibration)."""
    return dg.Definitions(assets=[build_model_health_asset(partitions_def)], asset_checks=build_model_health_checks(partitions_def))
