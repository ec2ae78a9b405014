"""A champion's health on the market after its training: realized metrics on the labels that
resolved since, a change detector on per-event log loss, feature drift against the features' own
history, and the verdicts the checks give (decay, drift, calibration)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.live.change import Change, ChangeSpec, detect_change, log_losses
from tb_assets.core.live.drift import DomainShift, Drift, DriftSpec, domain_shift, feature_drift
from tb_assets.core.live.realized import CALIBRATION_Z, MIN_EVENTS, Realized, decay_verdict, realized_performance

MIN_HOLDOUT = 20  # scored holdout events the change detector calibrates on


@dataclass(frozen=True)
class HealthSpec:
    drift: DriftSpec
    change: ChangeSpec = field(default_factory=ChangeSpec)
    calibration_z: float = float(CALIBRATION_Z)


@dataclass
class Health:
    events: pd.DataFrame  # resolved events since training: ts, t1, y, proba, log_loss, page_hinkley
    realized: Realized
    change: Change
    drift: Drift | None  # None: fewer live rows than one window
    domain: DomainShift | None  # the multivariate view (None with drift)
    decayed: bool
    decay_said: str
    overlap: float
    live_rows: int

    @property
    def calibration_drifted(self) -> bool:
        return bool(self.realized.enough and abs(self.realized.calibration_z) > CALIBRATION_Z)

    def calibration_said(self) -> str:
        r = self.realized
        if not r.enough:
            return f"{r.n_events} resolved event(s) since training: {MIN_EVENTS} are needed to judge calibration"
        verdict = "no longer mean what they say" if self.calibration_drifted else "still mean what they say"
        return (
            f"probabilities {verdict}: mean probability {r.mean_proba:.3f} vs realized positive rate {r.positive_rate:.3f} "
            f"on {r.n_events} resolved events (z {r.calibration_z:+.2f}, limit +/-{CALIBRATION_Z:.2f})"
        )


def resolved_events(signals: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The signals whose label has resolved: ts, t1, y (the label's bin), proba, in time order."""
    s_ts, l_ts = epoch_ns(signals["ts"]), epoch_ns(labels["ts"])
    _, si, li = np.intersect1d(s_ts, l_ts, assume_unique=True, return_indices=True)
    return pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(signals["ts"]).take(si),
            "t1": pd.DatetimeIndex(labels["t1"]).take(li),
            "y": labels["bin"].to_numpy("int64")[li],
            "proba": signals["proba"].to_numpy("float64")[si],
        }
    )


def assess_health(
    signals: pd.DataFrame,
    labels: pd.DataFrame,
    holdout: pd.DataFrame,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    overlap: float,
    spec: HealthSpec,
) -> Health:
    """`signals` (ts, proba) of one model after its training; `labels` (ts, t1, bin) of the events that
    resolved since; `holdout` (ts, y, proba) its untouched holdout's scores; `reference` the training
    rows' features and `current` the live rows' (ts + features, in time order)."""
    events = resolved_events(signals, labels)
    losses = log_losses(events["y"], events["proba"])
    hold_y, hold_p = holdout["y"].to_numpy("int64"), holdout["proba"].to_numpy("float64")
    if len(holdout) >= MIN_HOLDOUT:
        change = detect_change(losses, log_losses(hold_y, hold_p), overlap, spec.change)
    else:  # nothing untouched to compare with (selected_features' holdout_pct 0): measured, never judged
        change = Change(np.full(len(losses), np.nan), float("inf"), None, float("nan"), float("nan"))
    events["log_loss"], events["page_hinkley"] = losses, change.statistic
    realized = realized_performance(events["y"], events["proba"], hold_y, hold_p, overlap)
    decayed, said = decay_verdict(realized, change)
    columns = [c for c in current.columns if c != "ts"]
    live = current.tail(spec.drift.window)
    drift = domain = None
    if len(live) >= spec.drift.window:
        drift = feature_drift(reference[columns], live[columns], spec.drift)
        if drift.enough_history:
            domain = domain_shift(reference[columns], live[columns], spec.drift)
    return Health(events, realized, change, drift, domain, decayed, said, overlap, len(current))
