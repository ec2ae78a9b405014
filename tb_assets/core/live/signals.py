"""Signals: the calibrated probability, side and bet size of each new bar from one model, and the
proof that they equal what a full recompute gives (training-serving parity).

A bar is scored once per model: a model scores the bars after its training data ended that it
has not scored yet, so scoring the same history again adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.features.matrix import build_feature_matrix
from tb_assets.core.live.tail import EVERY_FEATURE, live_features, model_columns

COLUMNS = ("ts", "proba", "side", "size", "model_id", "model_sha256", "role", "scored_at")
PARITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ScoringModel:
    """A fitted model with what identifies it: its id (the production model's version), the SHA-256
    of its model file, the features it takes and the end of the data it was trained on."""

    model_id: str
    sha256: str
    features: list[str]
    data_end: pd.Timestamp
    estimator: object  # predict_proba gives calibrated probabilities of the up label
    role: str = "champion"  # or "challenger": scored in shadow

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.empty:
            return np.array([], "float64")
        return np.asarray(self.estimator.predict_proba(frame[self.features])[:, 1], "float64")


def scored_until(stored: pd.DataFrame | None, model: ScoringModel) -> pd.Timestamp:
    """The last bar the model needs no signal for: its data end, or its last stored signal."""
    done = model.data_end
    if stored is not None and len(stored):
        mine = stored.loc[stored["model_id"] == model.model_id, "ts"]
        if len(mine):
            done = max(done, pd.Timestamp(mine.max()))
    return done


def score_new_bars(
    bars: pd.DataFrame,
    contexts: Mapping[str, pd.DataFrame],
    timeframe: str,
    model: ScoringModel,
    stored: pd.DataFrame | None,
    sizing: Callable[[np.ndarray], np.ndarray],
    now: pd.Timestamp,
) -> pd.DataFrame:
    """The signals of every bar the model has not scored yet (COLUMNS; none when it is up to date)."""
    features = live_features(bars, contexts, timeframe, model.features, scored_until(stored, model))
    proba = model.proba(features)
    signed = np.asarray(sizing(proba), "float64") if len(proba) else np.array([], "float64")
    return pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(features["ts"]),
            "proba": proba,
            "side": np.sign(signed).astype("int8"),
            "size": np.abs(signed),
            "model_id": model.model_id,
            "model_sha256": model.sha256,
            "role": model.role,
            "scored_at": pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC"),
        },
        columns=list(COLUMNS),
    )


@dataclass
class Parity:
    """Stored signals against a full recompute of the features and the probabilities."""

    compared: int
    max_abs_diff: float
    mismatched: list[pd.Timestamp] = field(default_factory=list)  # bars whose stored probability differs
    missing: list[pd.Timestamp] = field(default_factory=list)  # stored bars a full recompute has no row for
    features: dict[str, tuple[float, pd.Timestamp]] = field(default_factory=dict)  # feature -> (largest |live - full|, first bar)

    @property
    def passed(self) -> bool:
        return not self.mismatched and not self.missing and not self.features

    def describe(self) -> str:
        if self.passed:
            return f"the last {self.compared} signal(s) equal a full recompute (largest difference {self.max_abs_diff:.1e})"
        parts = []
        if self.mismatched:
            first = self.mismatched[0]
            parts.append(f"{len(self.mismatched)} of {self.compared} stored probabilities differ from a full recompute (first at {first})")
        if self.missing:
            parts.append(f"{len(self.missing)} signal(s) are for bars a full recompute has no feature row for (first {self.missing[0]})")
        if self.features:
            named = ", ".join(f"{n} ({d:.1e} at {t})" for n, (d, t) in list(self.features.items())[:8])
            parts.append(f"features differ between live and backtest: {named}")
        return "; ".join(parts)


def signal_parity(
    signals: pd.DataFrame,
    bars: pd.DataFrame,
    contexts: Mapping[str, pd.DataFrame],
    timeframe: str,
    model: ScoringModel,
    tolerance: float = PARITY_TOLERANCE,
) -> Parity:
    """Recompute the features of every bar from all history (as `features` does), score them with the
    model and compare with the stored `signals` of that model; the live (tail) features of the same
    bars are compared with the full ones too, so a feature that differs is named."""
    signals = signals.sort_values("ts")
    full = model_columns(
        build_feature_matrix(bars, contexts, timeframe=timeframe, options=EVERY_FEATURE).frame, model.features, "a full recompute"
    )
    wanted = epoch_ns(signals["ts"])
    full_ts = epoch_ns(full["ts"])
    at = np.searchsorted(full_ts, wanted)
    found = (at < len(full_ts)) & (full_ts[np.minimum(at, len(full_ts) - 1)] == wanted) if len(full_ts) else np.zeros(len(wanted), bool)
    parity = Parity(compared=int(found.sum()), max_abs_diff=0.0)
    parity.missing = list(pd.DatetimeIndex(signals["ts"])[~found])
    rows = full.iloc[at[found]].reset_index(drop=True)
    diff = np.abs(model.proba(rows) - signals["proba"].to_numpy("float64")[found])
    parity.max_abs_diff = float(np.nanmax(diff)) if len(diff) else 0.0
    parity.mismatched = list(pd.DatetimeIndex(rows["ts"])[~(diff <= tolerance)])
    if len(rows):
        live = live_features(bars, contexts, timeframe, model.features, pd.Timestamp(rows["ts"].iloc[0]) - pd.Timedelta(1, "ns"))
        live = live.set_index("ts").reindex(pd.DatetimeIndex(rows["ts"]))
        for name in model.features:
            a, b = live[name].to_numpy("float64"), rows[name].to_numpy("float64")
            gap = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
            gap = np.where(np.isnan(gap), np.inf, gap)  # NaN on one side only
            bad = gap > tolerance * np.maximum(1.0, np.abs(np.nan_to_num(b)))  # relative for large values
            if bad.any():
                first = int(np.argmax(bad))
                parity.features[name] = (float(gap.max()), pd.Timestamp(rows["ts"].iloc[first]))
    return parity
