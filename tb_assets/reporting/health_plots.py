"""Pictures of a champion's health: realized against expected metrics over time, the change
detector's statistic against its threshold, and drift per feature."""

from __future__ import annotations

import numpy as np
import pandas as pd


def expanding_auc(y: np.ndarray, proba: np.ndarray, every: int) -> tuple[np.ndarray, np.ndarray]:
    """AUC of the first k resolved events, every `every` events (k where both classes are present)."""
    from sklearn.metrics import roc_auc_score

    ks, aucs = [], []
    for k in range(max(every, 10), len(y) + 1, every):
        if len(np.unique(y[:k])) == 2:
            ks.append(k)
            aucs.append(roc_auc_score(y[:k], proba[:k]))
    return np.array(ks), np.array(aucs)


def draw_realized(fig, events: pd.DataFrame, realized: pd.DataFrame) -> None:
    """Realized AUC and mean log loss as events resolve, against the holdout's value and bound."""
    auc_row = realized.set_index("metric").loc["auc"]
    loss_row = realized.set_index("metric").loc["log_loss"]
    y, p = events["y"].to_numpy(), events["proba"].to_numpy()
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ks, aucs = expanding_auc(y, p, max(len(y) // 60, 1))
    if len(ks):
        left.plot(events["ts"].iloc[ks - 1], aucs, color="black", label="realized (events so far)")
    left.axhline(auc_row["holdout"], color="#31a354", label=f"holdout {auc_row['holdout']:.3f}")
    left.axhline(auc_row["holdout_lower"], color="#31a354", ls="--", label="holdout lower bound")
    left.axhline(0.5, color="grey", lw=0.6)
    left.set_title("AUC on labels resolved after training")
    left.legend(fontsize=7)
    if len(y):
        mean_loss = np.cumsum(events["log_loss"].to_numpy()) / np.arange(1, len(y) + 1)
        right.plot(events["ts"], mean_loss, color="black", label="realized mean log loss")
    right.axhline(loss_row["holdout"], color="#31a354", label=f"holdout {loss_row['holdout']:.3f}")
    right.axhline(loss_row["holdout_upper"], color="#31a354", ls="--", label="holdout upper bound")
    right.set_title("log loss (lower is better)")
    right.legend(fontsize=7)
    fig.autofmt_xdate()


def draw_change(fig, events: pd.DataFrame, threshold: float) -> None:
    """The Page-Hinkley statistic after each resolved event and the threshold it alarms above."""
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.arange(1, len(events) + 1), events["page_hinkley"], color="black", label="Page-Hinkley on log loss")
    if np.isfinite(threshold):
        ax.axhline(threshold, color="#de2d26", ls="--", label=f"alarm threshold {threshold:.2f}")
    ax.set_xlabel("resolved events since training")
    ax.set_title("change detector: sustained rise of the per-event log loss")
    ax.legend(fontsize=7)


def draw_drift(fig, table: pd.DataFrame, top: int = 20) -> None:
    """Each feature's p-value against its own history (smallest first), -log10 scale."""
    ax = fig.add_subplot(1, 1, 1)
    shown = table.sort_values("p_value").head(top).iloc[::-1]
    ax.barh(shown["feature"], -np.log10(shown["p_value"].clip(lower=1e-6)), color="#6baed6", label="vs its own history")
    ax.barh(
        shown["feature"],
        -np.log10(shown["ks_iid_p"].clip(lower=1e-6)),
        color="none",
        edgecolor="#de2d26",
        label="i.i.d. KS (for comparison)",
    )
    ax.axvline(-np.log10(0.05), color="grey", ls="--", lw=0.8)
    ax.set_xlabel("-log10 p (right of the dashed line: p < 0.05)")
    ax.set_title("feature drift of the latest window")
    ax.legend(fontsize=7)
