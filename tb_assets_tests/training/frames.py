"""Small partitions for the training service's tests: bars, a feature matrix and its groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tb_assets.core.labels.forward import forward_returns
from tb_assets.core.labels.weights import average_uniqueness, normalize_mean_one

GROUPS = {"f0": "standard", "f1": "standard", "f2": "robust", "f3": "bounded", "f4": "standard", "regime_x": "regime"}
FEATURES = list(GROUPS)


def partition(n: int = 1500, signal: float = 0.0, seed: int = 0, lookforward: int = 1):
    """(bars, features, targets): a random walk whose next `lookforward`-bar log return is
    `signal` x f0 (in units of the step's noise) plus noise; signal 0 is a pure random walk."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2015-01-01", periods=n, freq="D", tz="UTC")
    X = rng.normal(size=(n, len(FEATURES)))
    X[:, 2] = np.exp(X[:, 2])  # heavy-tailed, positive: the 'robust' group
    X[:, 3] = rng.uniform(0, 100, n)  # an oscillator: 'bounded'
    X[:, 5] = rng.integers(0, 3, n)  # a regime
    X[rng.random(n) < 0.01, 1] = np.nan  # a few gaps for the imputer
    noise = rng.normal(0, 0.01, n)
    step = noise.copy()
    step[lookforward:] += signal * 0.01 * X[:-lookforward, 0] / lookforward
    close = 100 * np.exp(np.cumsum(step))
    bars = pd.DataFrame({"ts": ts, "open": close, "high": close, "low": close, "close": close, "volume": 1.0})
    features = pd.DataFrame(X, columns=FEATURES)
    features.insert(0, "ts", ts)
    # the targets table as the targets asset writes it: a 5-bar label per event (its bin, end and
    # uniqueness weight) and the forward targets `lookforward` bars ahead (core.labels.forward)
    t1 = ts[np.minimum(np.arange(n) + 5, n - 1)]
    events = pd.DataFrame({"ts": ts[:-5], "t1": t1[:-5], "bin": (np.log(close[5:] / close[:-5]) > 0).astype("int64")})
    events["weight"] = normalize_mean_one(average_uniqueness(pd.Series(events["t1"].to_numpy(), index=events["ts"]), ts).to_numpy())
    targets = events.join(forward_returns(pd.Series(close, index=ts), lookforward), on="ts")
    return bars, features, targets
