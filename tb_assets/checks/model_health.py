"""Checks on `model_health`: decay (ERROR, a retraining request follows), drift and calibration (WARN)."""

import dagster as dg

from tb_assets.assets.partitions import partition_parts
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import ModelHealth

HEALTH = dg.AssetKey("model_health")
DECAY_CHECK = "realized_decay"


def _record(context, artifacts: ArtifactStore) -> ModelHealth:
    symbol, timeframe = partition_parts(context)
    return ModelHealth.load(artifacts.root_path, symbol, timeframe)


def _number(value) -> float:
    """A recorded number for the UI's plots (nothing recorded: NaN)."""
    return float("nan") if value is None else float(value)


def build_model_health_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=HEALTH,
        name=DECAY_CHECK,
        partitions_def=partitions_def,
        description="The champion has stopped working: the change detector on per-event log loss fired AND realized AUC's "
        "upper bound on labels resolved after training is below the holdout's lower bound. ERROR: it alerts, and the "
        "tb_retrain_on_decay sensor requests a retraining of the partition.",
    )
    def realized_decay(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        record = _record(context, artifacts)
        auc = next(r for r in record.realized if r["metric"] == "auc")
        return dg.AssetCheckResult(
            passed=not record.decayed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "resolved_events": record.resolved_events,
                "realized_auc": _number(auc["realized"]),
                "realized_auc_upper": _number(auc["realized_upper"]),
                "holdout_auc_lower": _number(auc["holdout_lower"]),
                "change_fired": record.change["first_alarm"] is not None,
                "change_statistic": _number(record.change["max_statistic"]),
                "change_threshold": _number(record.change["threshold"]),
                "model_id": record.model_id,
            },
            description=record.decay_said,
        )

    @dg.asset_check(
        asset=HEALTH,
        partitions_def=partitions_def,
        description="The latest live window's features drifted beyond what each feature does in its own history "
        "(KS distance ranked among side-by-side historical windows, max-T over the features at drift_alpha). WARN. "
        "Beside it, the multivariate view: a domain classifier's AUC (latest window vs training rows) ranked among "
        "historical windows' (reported, not part of the verdict).",
    )
    def feature_drift(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        record = _record(context, artifacts)
        drift = record.drift
        if drift is None:
            return dg.AssetCheckResult(passed=True, metadata={"live_rows": record.live_rows}, description="; ".join(record.notes))
        return dg.AssetCheckResult(
            passed=not drift["drifted"],
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "family_p": drift["family_p"],
                "windows": drift["n_windows"],
                "window": drift["window"],
                "iid_ks_would_fire": drift["iid_ks_drifted"],
                "evidently_would_fire": drift["evidently_drifted"],
                "domain_classifier_auc": _number(drift.get("domain_auc")),
                "domain_classifier_p": _number(drift.get("domain_p")),
            },
            description=drift["said"] + (f"; multivariate: {drift['domain_said']}" if "domain_said" in drift else ""),
        )

    @dg.asset_check(
        asset=HEALTH,
        partitions_def=partitions_def,
        description="The champion's probabilities no longer mean what they say on the resolved events: observed minus "
        "expected positives beyond 2.58 standard errors (overlap-adjusted). WARN.",
    )
    def calibration_drift(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        record = _record(context, artifacts)
        return dg.AssetCheckResult(
            passed=not record.calibration_drifted,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"calibration_z": record.calibration_z if record.calibration_z is not None else float("nan")},
            description=record.calibration_said,
        )

    return [realized_decay, feature_drift, calibration_drift]
