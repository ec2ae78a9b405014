"""Drift of features whose null comes from their own history.

Rolling features are autocorrelated, so a current window differs from the training sample far more
than i.i.d. tests expect even when nothing changed (no-drift AR(1), 5,000 vs 5,000 points: KS at
p < 0.05 fires 75% of the time at phi = 0.9 and always at 0.99). Here each feature's statistic on
the current window is ranked among the same statistic on many historical windows of the same
length inside the reference, each compared with the reference without itself and a buffer of
rows around it: an autocorrelated feature moves as much in its own past as it does now, and so
does not page anyone.

- statistic: the Kolmogorov-Smirnov distance between the window and the reference, on a grid of
  the reference's quantiles (exact for discrete features such as regimes);
- per feature: p = (1 + #historical windows at least as far) / (1 + #windows);
- the family: each window's largest standardised statistic over the features (max-T, every
  window standardised by the others), so the chance that any of many features fires on unchanged
  data stays at `alpha`, and features that move together are not counted as independent evidence.
Beside it, for comparison: the i.i.d. two-sample KS p-value and Evidently's default rule for
numeric columns (Wasserstein distance over the reference's standard deviation above 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tb_assets.core.errors import TbError

EVIDENTLY_THRESHOLD = 0.1  # Evidently's default drift rule for numeric columns (normed Wasserstein distance)
MIN_WINDOWS = 19  # fewer historical windows cannot say p < 0.05


@dataclass(frozen=True)
class DriftSpec:
    window: int  # rows of the current window (and of each historical one)
    alpha: float = 0.05  # the family's false alarm rate on unchanged data
    max_windows: int = 200  # historical windows (side by side over the reference; evenly spaced when more fit)
    buffer: int | None = None  # rows left out on each side of a historical window (None: one window)
    grid: int = 256  # reference quantiles the KS distance is read on

    def __post_init__(self):
        if self.window < 10:
            raise TbError(f"drift: the window must hold at least 10 rows, got {self.window}")
        if not 0.0 < self.alpha < 1.0:
            raise TbError(f"drift: alpha must be in (0, 1), got {self.alpha}")


@dataclass
class Drift:
    table: pd.DataFrame  # per feature: statistic, p_value, z, ks_iid_p, wasserstein_norm
    family_p: float
    n_windows: int
    alpha: float

    @property
    def enough_history(self) -> bool:
        return self.n_windows >= MIN_WINDOWS

    @property
    def drifted(self) -> bool:
        return self.enough_history and self.family_p <= self.alpha

    @property
    def iid_ks_drifted(self) -> bool:
        """What an i.i.d. KS test per feature at p < alpha would say (for comparison)."""
        return bool((self.table["ks_iid_p"] < self.alpha).any())

    @property
    def evidently_drifted(self) -> bool:
        """What Evidently's default rule per feature would say (for comparison)."""
        return bool((self.table["wasserstein_norm"] > EVIDENTLY_THRESHOLD).any())

    def describe(self) -> str:
        if not self.enough_history:
            return f"{self.n_windows} historical window(s) fit in the reference: {MIN_WINDOWS} are needed to judge drift"
        top = self.table.sort_values("z", ascending=False).head(3)
        named = ", ".join(f"{r.feature} (p {r.p_value:.3f})" for r in top.itertuples())
        verdict = "drifted" if self.drifted else "within their own history"
        return (
            f"features {verdict}: family p {self.family_p:.3f} over {self.n_windows} historical windows "
            f"(alpha {self.alpha}); most moved: {named}"
        )


def _grid(values: np.ndarray, size: int) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.array([0.0])
    return np.unique(np.quantile(finite, np.linspace(0.0, 1.0, size)))


def _cumulative(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Counts of finite values at or below each grid point."""
    finite = values[np.isfinite(values)]
    return np.bincount(np.searchsorted(grid, finite, side="left"), minlength=len(grid) + 1)[: len(grid)].cumsum()


def _ks(cum_a: np.ndarray, n_a: int, cum_b: np.ndarray, n_b: int) -> float:
    if n_a == 0 or n_b == 0:
        return 0.0
    return float(np.abs(cum_a / n_a - cum_b / n_b).max())


def historical_windows(n: int, spec: DriftSpec) -> np.ndarray:
    """Start positions of the historical windows inside a reference of `n` rows: side by side, never
    overlapping (overlapping windows come in clusters of near-equal statistics, and a rank among
    clusters says p = 0.05 about twice as often as it should), at most `max_windows` of them."""
    starts = np.arange(0, n - spec.window + 1, spec.window, dtype="int64")
    if len(starts) > spec.max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, spec.max_windows).round().astype("int64")]
    return starts


def max_t(history: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, float]:
    """The current window's standardised statistic per feature and the family p-value: each window
    (the historical ones and the current one alike) is standardised by the mean and standard deviation
    of the other windows, feature by feature, and scored by its largest value; p is the share of
    windows that score at least as high as the current one. Treating every window the same way keeps
    p exact when the windows are exchangeable (nothing changed); standardising by statistics that
    include the window itself would shrink the historical windows' scores and fire too often."""
    units = np.vstack([history, current[None, :]])  # the current window last
    m = len(units) - 1
    if m < 1:
        return np.zeros(len(current)), 1.0
    total, squares = units.sum(axis=0), (units**2).sum(axis=0)
    mean = (total - units) / m
    var = np.maximum((squares - units**2) / m - mean**2, 0.0)
    sd = np.where(var > 0, np.sqrt(var), np.inf)  # a feature that never moved elsewhere: z 0, not infinite
    z = (units - mean) / sd
    scores = z.max(axis=1)
    return z[-1], float((scores >= scores[-1]).sum() / (m + 1))


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec) -> Drift:
    """Drift of each column of `current` (the latest rows, in time order) against `reference` (the
    training rows, in time order), judged against the feature's own history (module doc)."""
    columns = [c for c in current.columns if c != "ts"]
    missing = [c for c in columns if c not in reference.columns]
    if missing:
        raise TbError(f"drift: the reference lacks {', '.join(missing)}")
    n = len(reference)
    buffer = spec.window if spec.buffer is None else spec.buffer
    starts = historical_windows(n, spec)
    hist = np.zeros((len(starts), len(columns)))
    rows = []
    for j, name in enumerate(columns):
        ref = reference[name].to_numpy("float64")
        cur = current[name].to_numpy("float64")
        grid = _grid(ref, spec.grid)
        cum_ref, n_ref = _cumulative(ref, grid), int(np.isfinite(ref).sum())
        finite = np.isfinite(ref).astype("int64")
        finite_before = np.concatenate([[0], finite.cumsum()])
        for i, a in enumerate(starts):
            b = a + spec.window
            lo, hi = max(a - buffer, 0), min(b + buffer, n)
            cum_w, n_w = _cumulative(ref[a:b], grid), int(finite_before[b] - finite_before[a])
            cum_x, n_x = _cumulative(ref[lo:hi], grid), int(finite_before[hi] - finite_before[lo])
            hist[i, j] = _ks(cum_w, n_w, cum_ref - cum_x, n_ref - n_x)
        statistic = _ks(_cumulative(cur, grid), int(np.isfinite(cur).sum()), cum_ref, n_ref)
        ref_f, cur_f = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        ks_p = float(stats.ks_2samp(ref_f, cur_f, method="asymp").pvalue) if len(ref_f) and len(cur_f) else 1.0
        spread = float(np.std(ref_f)) if len(ref_f) else 0.0
        wass = float(stats.wasserstein_distance(ref_f, cur_f) / spread) if spread > 0 and len(cur_f) else 0.0
        p = (1 + int((hist[:, j] >= statistic).sum())) / (1 + len(starts))
        rows.append((name, statistic, p, ks_p, wass))
    table = pd.DataFrame(rows, columns=["feature", "statistic", "p_value", "ks_iid_p", "wasserstein_norm"])
    table["z"], family_p = max_t(hist, table["statistic"].to_numpy())
    return Drift(table, family_p, len(starts), spec.alpha)


@dataclass
class DomainShift:
    """The multivariate view: how well a classifier tells the latest window's rows from the training
    rows (cross-validated AUC), ranked among the same AUC for historical windows of the reference,
    since autocorrelated rows let a classifier tell any two periods apart somewhat."""

    auc: float
    p_value: float
    history: np.ndarray

    def describe(self) -> str:
        return (
            f"a classifier tells the latest window from the training rows with AUC {self.auc:.3f}; "
            f"{len(self.history)} historical windows reach a median {float(np.median(self.history)):.3f} (p {self.p_value:.3f})"
            if len(self.history)
            else f"a classifier tells the latest window from the training rows with AUC {self.auc:.3f} (no history to rank it in)"
        )


def _separability(inside: np.ndarray, outside: np.ndarray, rng: np.random.Generator, max_rows: int) -> float:
    """Two-fold cross-validated AUC of a small gradient-boosted classifier telling `inside` rows from `outside` rows."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    if len(outside) > max_rows:
        outside = outside[rng.choice(len(outside), max_rows, replace=False)]
    X = np.vstack([inside, outside])
    y = np.r_[np.ones(len(inside)), np.zeros(len(outside))]
    fold = rng.permutation(len(y)) % 2
    scores = np.empty(len(y))
    for k in (0, 1):
        model = lgb.LGBMClassifier(n_estimators=40, num_leaves=7, learning_rate=0.1, min_child_samples=20, n_jobs=1, verbose=-1)
        model.fit(X[fold != k], y[fold != k])
        scores[fold == k] = model.predict_proba(X[fold == k])[:, 1]
    return float(roc_auc_score(y, scores))


def domain_shift(
    reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec, *, windows: int = 20, max_rows: int = 2000, seed: int = 0
) -> DomainShift:
    """`current` (the latest window) against `reference` (training rows in time order) by a domain
    classifier, its null from `windows` historical windows (each against the reference without
    itself and a buffer around it, as feature_drift does)."""
    columns = [c for c in current.columns if c != "ts"]
    ref = reference[columns].to_numpy("float64")
    cur = current[columns].to_numpy("float64")
    rng = np.random.default_rng(seed)
    auc = _separability(cur, ref, rng, max_rows)
    starts = historical_windows(len(ref), spec)
    if len(starts) > windows:
        starts = starts[np.linspace(0, len(starts) - 1, windows).round().astype("int64")]
    buffer = spec.window if spec.buffer is None else spec.buffer
    history = []
    for a in starts:
        b = a + spec.window
        keep = np.r_[0 : max(a - buffer, 0), min(b + buffer, len(ref)) : len(ref)]
        history.append(_separability(ref[a:b], ref[keep], rng, max_rows))
    history = np.array(history)
    p = (1 + int((history >= auc).sum())) / (1 + len(history))
    return DomainShift(auc, p, history)
