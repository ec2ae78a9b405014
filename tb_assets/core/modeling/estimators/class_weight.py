"""Balanced classes without biased probabilities: the weight to train with, and undoing it."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from tb_assets.core.errors import TbError
from tb_assets.core.labels.weights import scale_pos_weight
from tb_assets.core.modeling.params import BALANCE_BAND


def undo_class_weight(margin: np.ndarray, positive_weight: float) -> np.ndarray:
    """P(class 1) from a log-odds margin learned with positives weighted `positive_weight` times
    the negatives: that weighting multiplies the odds by it, so its log comes off the margin
    (the prior-shift correction; King & Zeng 2001). 1: the plain logistic link."""
    return expit(np.asarray(margin, dtype="float64") - np.log(positive_weight))


def class_weighted(y: np.ndarray, weight: np.ndarray | None, positive_weight: float | None) -> np.ndarray | None:
    """Sample weights with each positive counted `positive_weight` times (None: `weight` as it is).

    LightGBM trains balanced classes this way rather than with its scale_pos_weight: its boosting
    starts from the log-odds of the sample-weighted rate, which scale_pos_weight leaves out, so a
    model of few trees kept the unweighted start and the correction pushed its probabilities the
    wrong way (mean 0.090 for a true 0.154)."""
    if positive_weight is None:
        return weight
    y = np.asarray(y)
    base = np.ones(len(y)) if weight is None else np.asarray(weight, dtype="float64")
    return np.where(y == 1, base * float(positive_weight), base)


def class_balance(y: np.ndarray, weight: np.ndarray | None, mode: str, band: tuple[float, float] = BALANCE_BAND) -> float | None:
    """The scale_pos_weight to train with, or None for no balancing. mode 'true' always balances,
    'false' never, 'auto' when the positive rate lies outside `band`."""
    if mode not in ("auto", "true", "false"):
        raise TbError(f"balanced must be 'auto', 'true' or 'false', got {mode!r}")
    rate = float(np.mean(y))
    balanced = mode == "true" or (mode == "auto" and not band[0] <= rate <= band[1])
    return scale_pos_weight(y, weight) if balanced else None
