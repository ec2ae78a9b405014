"""Pictures: plots (matplotlib, Agg backend) and inline thumbnails.

Full-size PNGs go to disk (the UI links them); one small thumbnail per asset goes inline into
the metadata as a markdown image, since Dagster 1.13 has no image metadata type and large
blobs slow the event log (DESIGN §5). No dagster import here.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

THUMBNAIL_MAX_BYTES = 100_000


def pyplot():
    """matplotlib's pyplot on the Agg backend, loaded with the first picture: processes that only
    load the definitions (code servers, the daemon, `tb`) never pay for it."""
    import matplotlib

    matplotlib.use("Agg")  # no display, ever: runs in daemons, workers and CI
    import matplotlib.pyplot as plt

    return plt


def png(fig, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed (no pyplot state leaks between plots)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return buf.getvalue()


def thumbnail_markdown(draw, alt: str, max_bytes: int = THUMBNAIL_MAX_BYTES) -> str:
    """`draw(fig)` rendered small, as an inline markdown image under `max_bytes` of PNG."""
    for dpi in (90, 60, 45, 30):
        fig = pyplot().figure(figsize=(5.0, 3.0))
        draw(fig)
        data = png(fig, dpi=dpi)
        if len(data) <= max_bytes:
            return f"![{alt}](data:image/png;base64,{base64.b64encode(data).decode()})"
    raise ValueError(f"thumbnail {alt!r} is {len(data)} bytes even at 30 dpi (limit {max_bytes})")


def draw_roc_pr(fig, y: np.ndarray, proba: np.ndarray, title: str = "holdout") -> None:
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    left, right = fig.subplots(1, 2)
    fpr, tpr, _ = roc_curve(y, proba)
    left.plot(fpr, tpr, color="C0", label=f"AUC {auc(fpr, tpr):.3f}")
    left.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="coin")
    left.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC ({title})")
    left.legend(loc="lower right", fontsize=8)
    precision, recall, _ = precision_recall_curve(y, proba)
    rate = float(np.mean(y))
    right.plot(recall, precision, color="C1", label=f"AP {auc(recall, precision):.3f}")
    right.axhline(rate, color="grey", ls="--", lw=0.8, label=f"positive rate {rate:.2f}")
    right.set(xlabel="recall", ylabel="precision", title=f"precision-recall ({title})", ylim=(0, 1.02))
    right.legend(loc="upper right", fontsize=8)
    fig.tight_layout()


def reliability_bins(y: np.ndarray, proba: np.ndarray, bins: int = 10, overlap: float = 1.0) -> pd.DataFrame:
    """Per quantile bin of the predicted probability: its mean prediction, the observed positive
    rate, the events in it, and the 95% band a calibrated model's observed rate would fall in
    (mean prediction +/- 1.96 binomial standard errors, widened by sqrt(`overlap`): labels that
    share bars are not independent, as for the AUC bounds). Tied probabilities stay in one bin."""
    y, p = np.asarray(y, dtype="float64"), np.asarray(proba, dtype="float64")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(0, len(edges) - 2))
    table = (
        pd.DataFrame({"bin": which, "p": p, "y": y})
        .groupby("bin")
        .agg(predicted=("p", "mean"), observed=("y", "mean"), events=("y", "size"))
    )
    half = 1.96 * np.sqrt(max(1.0, overlap) * table["predicted"] * (1 - table["predicted"]) / table["events"])
    table["band_low"], table["band_high"] = (table["predicted"] - half).clip(0, 1), (table["predicted"] + half).clip(0, 1)
    return table.reset_index(drop=True)


def draw_reliability(fig, y: np.ndarray, proba: np.ndarray, bins: int = 10, overlap: float = 1.0) -> None:
    ax, hist = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    table = reliability_bins(y, proba, bins, overlap)
    inside = int(((table["observed"] >= table["band_low"]) & (table["observed"] <= table["band_high"])).sum())
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="perfectly calibrated")
    ax.fill_between(table["predicted"], table["band_low"], table["band_high"], color="grey", alpha=0.2, label="95% band if calibrated")
    ax.plot(table["predicted"], table["observed"], marker="o", color="C2", label="holdout (calibrated probabilities)")
    ax.set(ylabel="observed positive rate", title=f"reliability (holdout, quantile bins): {inside} of {len(table)} bins inside the band")
    ax.legend(loc="upper left", fontsize=8)
    hist.hist(proba, bins=30, color="C2", alpha=0.7)
    hist.set(xlabel="predicted probability", ylabel="events")
    fig.tight_layout()


def decile_outcomes(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """Mean outcome per predicted-score decile (1 = lowest scores)."""
    ranks = pd.Series(proba).rank(method="first")  # tied scores split by row order: the bars only, not the metric
    decile = pd.qcut(ranks, 10, labels=False) + 1
    return pd.DataFrame({"decile": decile, "y": y}).groupby("decile")["y"].agg(["mean", "size"]).reset_index()


def draw_deciles(fig, y: np.ndarray, proba: np.ndarray) -> None:
    from tb_assets.core.modeling.metrics import decile_spread

    ax = fig.subplots()
    table = decile_outcomes(y, proba)
    ax.bar(table["decile"], table["mean"], color="C0")
    ax.axhline(float(np.mean(y)), color="grey", ls="--", lw=0.8, label="positive rate")
    spread = decile_spread(y, proba)  # the metric's own, fair to ties
    ax.set(
        xlabel="predicted score decile (10 = highest)",
        ylabel="share of positives",
        title=f"decile spread on the holdout: top - bottom = {spread:+.3f}",
        xticks=range(1, 11),
    )
    ax.legend(fontsize=8)
    fig.tight_layout()


def draw_shap_bar(fig, summary: pd.DataFrame, top: int = 20) -> None:
    ax = fig.subplots()
    head = summary.head(top).iloc[::-1]
    ax.barh(head["feature"], head["mean_abs_shap"], color="C0")
    ax.set(xlabel="mean |SHAP| (log-odds)", title="feature importance: mean |SHAP|")
    fig.tight_layout()


def shap_beeswarm_png(values: np.ndarray, X: pd.DataFrame, top: int = 20) -> bytes:
    import shap

    # its own seeded generator: the jitter is the same on every run, whatever else seeded NumPy's global RNG
    shap.summary_plot(
        values, X, max_display=top, show=False, plot_size=(9, 0.35 * min(top, X.shape[1]) + 1.5), rng=np.random.default_rng(0)
    )
    fig = pyplot().gcf()
    fig.axes[0].set_title("SHAP values per event (colour: feature value)")
    return png(fig)


def shap_dependence_png(feature: str, values: np.ndarray, X: pd.DataFrame) -> bytes:
    import shap

    fig, ax = pyplot().subplots(figsize=(6.5, 4.5))
    shap.dependence_plot(feature, values, X, ax=ax, show=False)
    ax.set_title(f"SHAP dependence: {feature}")
    return png(fig)


def draw_regime_heatmap(fig, table: pd.DataFrame, top: int = 15) -> None:
    ax = fig.subplots()
    if table.empty:
        ax.text(0.5, 0.5, "no regime column in the feature matrix", ha="center", va="center")
        ax.set_axis_off()
        return
    labels = table["regime"] + "=" + table["value"].map(lambda v: f"{v:g}") + " (" + table["rows"].astype(str) + " events)"
    grid = table.assign(state=labels).pivot_table(index="state", columns="feature", values="mean_abs_shap", sort=False)
    order = grid.mean(axis=0).sort_values(ascending=False).index[:top]
    grid = grid[order]
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    if grid.size <= 120:  # small enough to print each value in its cell
        middle = np.nanmean(grid.to_numpy())
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color="black" if v > middle else "white")
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(grid.index)), grid.index, fontsize=8)
    ax.set_title("mean |SHAP| by market regime")
    fig.colorbar(image, ax=ax, label="mean |SHAP|")
    fig.tight_layout()


def figure_png(draw, size=(9.0, 5.0)) -> bytes:
    fig = pyplot().figure(figsize=size)
    draw(fig)
    return png(fig)


def draw_leaderboard(fig, board: pd.DataFrame) -> None:
    """Each algorithm's best out-of-sample score beside chance: R² (chance 0) for regressors, AUC
    (chance 0.5) for classifiers. The axis spans at least chance +/- `span`, so a hair above chance
    looks like one."""
    panels = [
        (task, chance, name, span)
        for task, chance, name, span in (("regression", 0.0, "R²", 0.05), ("classification", 0.5, "AUC", 0.1))
        if (board["task"] == task).any()
    ]
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (task, chance, name, span) in zip(axes, panels):
        rows = board[board["task"] == task]
        values = rows["value"].astype("float64").to_numpy()
        ax.barh(rows["algorithm"], values - chance, left=chance, color=["C2" if v > chance else "C3" for v in values])
        for y, v in enumerate(values):
            ax.annotate(
                f"{v:.3f}",
                (v, y),
                xytext=(3 if v >= chance else -3, 0),
                textcoords="offset points",
                va="center",
                ha="left" if v >= chance else "right",
                fontsize=8,
            )
        reach = max(span, float(np.nanmax(np.abs(values - chance))) * 1.5) if len(values) else span
        ax.set_xlim(chance - reach, chance + reach)
        ax.axvline(chance, color="grey", lw=0.8, ls="--")
        ax.set(xlabel=f"out-of-sample {name} (chance {chance:g})", title=f"{task}: best of each grid")
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
