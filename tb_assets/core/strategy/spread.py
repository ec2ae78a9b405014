"""A bar's bid-ask spread estimated from its high and low (Corwin & Schultz 2012; AFML 19.3.4).

Highs are mostly buyer-initiated (at the ask) and lows seller-initiated (at the bid), so the
high/low range of one bar holds the volatility and the spread, and that of two bars together
twice the volatility and the spread once: the difference isolates the spread. Per bar t:

    beta_t  = mean over the last `window` bars of [ln(H/L)_t]^2 + [ln(H/L)_{t-1}]^2
    gamma_t = [ln(max(H_t, H_{t-1}) / min(L_t, L_{t-1}))]^2
    alpha_t = (sqrt(2) - 1) sqrt(beta_t) / (3 - 2 sqrt(2)) - sqrt(gamma_t / (3 - 2 sqrt(2))), at least 0
    S_t     = 2 (e^alpha - 1) / (1 + e^alpha)

Only bars up to t enter S_t, so the cost charged at a bar never looks ahead. The half spread,
S / 2, is what crossing it costs on one side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError

DENOMINATOR = 3.0 - 2.0 * np.sqrt(2.0)


def corwin_schultz_spread(high, low, window: int = 20) -> np.ndarray:
    """The estimated relative spread of every bar (0 on the first bar, which has no pair)."""
    high, low = np.asarray(high, dtype="float64"), np.asarray(low, dtype="float64")
    if window < 1:
        raise TbError(f"corwin_schultz_spread: window must be at least 1, got {window}")
    if len(high) != len(low) or (low <= 0).any() or (high < low).any():
        raise TbError("corwin_schultz_spread: need positive lows and highs at or above them, of equal length")
    if len(high) < 2:
        return np.zeros(len(high))
    range_sq = np.log(high / low) ** 2
    pair = range_sq[1:] + range_sq[:-1]  # bars t-1 and t
    beta = pd.Series(pair).rolling(window, min_periods=1).mean().to_numpy()
    gamma = np.log(np.maximum(high[1:], high[:-1]) / np.minimum(low[1:], low[:-1])) ** 2
    alpha = np.maximum((np.sqrt(2.0) - 1.0) * np.sqrt(beta) / DENOMINATOR - np.sqrt(gamma / DENOMINATOR), 0.0)
    spread = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
    return np.r_[0.0, spread]
