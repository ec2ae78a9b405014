"""Should the challenger replace the champion? A paired test on the same untouched events.

Both models score the same events that neither trained on; the challenger is promoted only when
its AUC beats the champion's by DeLong's paired test (the two AUCs' covariance from the same
events' placement values, DeLong, DeLong & Clarke-Pearson 1988), one-sided at `alpha`, on at least
`min_events` resolved events. Overlapping labels are not independent outcomes, so the variance of
the difference is multiplied by the mean number of labels sharing a bar (as every AUC bound in
this project is widened). A challenger that is noise then wins by chance at most `alpha` of the
time, and a better one wins once enough events have resolved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from tb_assets.core.errors import TbError


@dataclass(frozen=True)
class PromotionRule:
    alpha: float = 0.05
    min_events: int = 100  # resolved events both models scored, at least this many
    min_per_class: int = 10

    def __post_init__(self):
        if not 0.0 < self.alpha < 0.5:
            raise TbError(f"promotion: alpha must be in (0, 0.5), got {self.alpha}")


@dataclass(frozen=True)
class PairedTest:
    n_events: int
    positives: int
    champion_auc: float
    challenger_auc: float
    difference: float
    standard_error: float
    z: float
    p_value: float  # one-sided: the challenger's AUC is no better
    overlap: float
    promote: bool
    reason: str

    def as_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in asdict(self).items()}


def _placements(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """DeLong's structural components (Sun & Xu 2014 midranks): each positive's share of negatives it
    outranks, each negative's share of positives above it, and the AUC."""
    pos, neg = scores[y == 1], scores[y == 0]
    m, n = len(pos), len(neg)
    combined = rankdata(np.concatenate([pos, neg]))
    v10 = (combined[:m] - rankdata(pos)) / n
    v01 = 1.0 - (combined[m:] - rankdata(neg)) / m
    return v10, v01, float(v10.mean())


def paired_auc_test(y, champion, challenger, overlap: float = 1.0, rule: PromotionRule = PromotionRule()) -> PairedTest:
    """DeLong's paired test of challenger AUC > champion AUC on the same events (module doc)."""
    y = np.asarray(y, "int64")
    a, b = np.asarray(champion, "float64"), np.asarray(challenger, "float64")
    if not (len(y) == len(a) == len(b)):
        raise TbError("promotion: the labels and both models' scores must be of the same events")
    m = int(y.sum())
    n = len(y) - m
    if len(y) < rule.min_events or min(m, n) < rule.min_per_class:
        return PairedTest(
            len(y),
            m,
            float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            1.0,
            overlap,
            False,
            f"{len(y)} resolved event(s) both models scored ({m} positive): at least {rule.min_events} "
            f"with {rule.min_per_class} of each class are needed",
        )
    va10, va01, auc_a = _placements(a, y)
    vb10, vb01, auc_b = _placements(b, y)
    s10 = np.cov(np.vstack([va10, vb10]))
    s01 = np.cov(np.vstack([va01, vb01]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    se = float(np.sqrt(max(var, 0.0) * max(overlap, 1.0)))
    diff = auc_b - auc_a
    z = diff / se if se > 0 else (np.inf if diff > 0 else 0.0)
    p = float(norm.sf(z))
    promote = p < rule.alpha
    verdict = "beats" if promote else "does not beat"
    reason = (
        f"challenger AUC {auc_b:.3f} {verdict} the champion's {auc_a:.3f} on the same {len(y)} untouched events "
        f"(difference {diff:+.3f}, se {se:.3f} with overlap {overlap:.1f}, one-sided p {p:.4f}, alpha {rule.alpha})"
    )
    return PairedTest(len(y), m, auc_a, auc_b, diff, se, float(z), p, overlap, bool(promote), reason)


def paired_window(
    champion_signals: pd.DataFrame,
    challenger_signals: pd.DataFrame,
    challenger_holdout: pd.DataFrame,
    labels: pd.DataFrame,
    champion_end: pd.Timestamp,
    challenger_end: pd.Timestamp,
) -> pd.DataFrame:
    """The events neither model trained on, with both models' probabilities and the resolved label:
    the challenger's holdout after the champion's training end (the challenger's holdout model's
    scores beside the champion's live signals), then the bars after the challenger's training end
    (both models' live signals, the challenger's in shadow). Columns ts, y, champion, challenger, part."""
    champion = champion_signals.set_index("ts")["proba"]
    hold = challenger_holdout.loc[pd.DatetimeIndex(challenger_holdout["ts"]) > champion_end]
    hold = hold.loc[pd.DatetimeIndex(hold["ts"]).isin(champion.index)]
    parts = [
        pd.DataFrame(
            {
                "ts": pd.DatetimeIndex(hold["ts"]),
                "y": hold["y"].to_numpy("int64"),
                "challenger": hold["proba"].to_numpy("float64"),
                "part": "holdout",
            }
        )
    ]
    shadow = challenger_signals.loc[pd.DatetimeIndex(challenger_signals["ts"]) > challenger_end, ["ts", "proba"]]
    resolved = labels.set_index("ts")["bin"]
    shadow = shadow.loc[pd.DatetimeIndex(shadow["ts"]).isin(resolved.index) & pd.DatetimeIndex(shadow["ts"]).isin(champion.index)]
    parts.append(
        pd.DataFrame(
            {
                "ts": pd.DatetimeIndex(shadow["ts"]),
                "y": resolved.reindex(pd.DatetimeIndex(shadow["ts"])).to_numpy("int64"),
                "challenger": shadow["proba"].to_numpy("float64"),
                "part": "shadow",
            }
        )
    )
    window = pd.concat(parts, ignore_index=True)
    window["champion"] = champion.reindex(pd.DatetimeIndex(window["ts"])).to_numpy("float64")
    return window.sort_values("ts").reset_index(drop=True)[["ts", "y", "champion", "challenger", "part"]]
