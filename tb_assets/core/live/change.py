"""Sequential change detection on per-event log loss (Page-Hinkley), so decay is seen early.

Each resolved event's log loss x_t is compared with what the model scored on its untouched
holdout (mean mu0): m_t = sum (x_i - mu0 - delta), and the statistic is m_t minus its running
minimum; it alarms when that exceeds lambda. lambda is not a guess: it is the (1 - alpha) quantile
of the statistic's maximum over as many events as have resolved, on streams resampled from the
holdout's own per-event losses in blocks as long as the labels overlap (a no-decay world with the
losses' real spread and dependence), so on unchanged data it alarms with probability about alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tb_assets.core.errors import TbError

EPS = 1e-12


def log_losses(y, proba) -> np.ndarray:
    """Per-event log loss of probabilities of the positive label."""
    p = np.clip(np.asarray(proba, "float64"), EPS, 1.0 - EPS)
    y = np.asarray(y, "float64")
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def page_hinkley(x: np.ndarray, mu0: float, delta: float) -> np.ndarray:
    """The Page-Hinkley statistic after each value (an upward shift of the mean makes it grow)."""
    m = np.cumsum(np.asarray(x, "float64") - mu0 - delta)
    return m - np.minimum(np.minimum.accumulate(m), 0.0)


@dataclass(frozen=True)
class ChangeSpec:
    alpha: float = 0.01  # alarms on unchanged data with about this probability over the whole stream
    delta_sd: float = 0.05  # the drift tolerated per event, in standard deviations of the holdout's losses
    replications: int = 500
    seed: int = 0


@dataclass
class Change:
    statistic: np.ndarray  # after each resolved event
    threshold: float
    first_alarm: int | None  # the index of the event at which it first alarmed
    mu0: float
    delta: float

    @property
    def fired(self) -> bool:
        return self.first_alarm is not None


def block_bootstrap_maxima(baseline: np.ndarray, length: int, block: int, mu0: float, delta: float, spec: ChangeSpec) -> np.ndarray:
    """The statistic's maximum over `length` events on `spec.replications` streams made of blocks of
    `block` consecutive baseline losses, drawn with replacement."""
    rng = np.random.default_rng(spec.seed)
    n = len(baseline)
    block = int(min(max(block, 1), n))
    blocks = -(-length // block)
    starts = rng.integers(0, n - block + 1, size=(spec.replications, blocks))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(spec.replications, -1)[:, :length]
    streams = baseline[index] - mu0 - delta
    m = np.cumsum(streams, axis=1)
    stat = m - np.minimum(np.minimum.accumulate(m, axis=1), 0.0)
    return stat.max(axis=1)


def detect_change(losses: np.ndarray, baseline: np.ndarray, overlap: float = 1.0, spec: ChangeSpec = ChangeSpec()) -> Change:
    """Page-Hinkley on `losses` (resolved events in time order) against `baseline` (the holdout's
    per-event losses, in time order), with its threshold calibrated on the baseline (module doc)."""
    baseline = np.asarray(baseline, "float64")
    if len(baseline) < 20:
        raise TbError(f"change detection needs the holdout's per-event losses (at least 20 events), got {len(baseline)}")
    mu0 = float(baseline.mean())
    delta = spec.delta_sd * float(baseline.std())
    stat = page_hinkley(losses, mu0, delta)
    if len(stat) == 0:
        return Change(stat, float("inf"), None, mu0, delta)
    maxima = block_bootstrap_maxima(baseline, len(stat), int(np.ceil(overlap)), mu0, delta, spec)
    threshold = float(np.quantile(maxima, 1.0 - spec.alpha))
    over = np.flatnonzero(stat > threshold)
    return Change(stat, threshold, int(over[0]) if len(over) else None, mu0, delta)
