"""Pictures: PNGs on disk, thumbnails small enough for the event log, decile table by hand."""

import base64
import warnings

import numpy as np
import pandas as pd

from tb_assets.reporting.plots import (
    THUMBNAIL_MAX_BYTES,
    decile_outcomes,
    draw_deciles,
    draw_regime_heatmap,
    draw_reliability,
    draw_roc_pr,
    figure_png,
    shap_beeswarm_png,
    thumbnail_markdown,
)


def scores(n=500, seed=0):
    rng = np.random.default_rng(seed)
    proba = rng.uniform(size=n)
    return (rng.uniform(size=n) < proba).astype(int), proba


def test_plots_are_png_and_the_thumbnail_is_an_inline_image_under_the_limit():
    y, proba = scores()
    for draw in (draw_roc_pr, draw_reliability, draw_deciles):
        data = figure_png(lambda fig, draw=draw: draw(fig, y, proba))
        assert data.startswith(b"\x89PNG") and len(data) > 5000
    md = thumbnail_markdown(lambda fig: draw_roc_pr(fig, y, proba), "curves")
    assert md.startswith("![curves](data:image/png;base64,") and md.endswith(")")
    raw = base64.b64decode(md.split("base64,", 1)[1][:-1])
    assert raw.startswith(b"\x89PNG") and len(raw) <= THUMBNAIL_MAX_BYTES


def test_decile_outcomes_by_hand():
    y = np.array([0] * 10 + [1] * 10)
    proba = np.linspace(0, 1, 20)
    table = decile_outcomes(y, proba)
    assert table["decile"].tolist() == list(range(1, 11)) and (table["size"] == 2).all()
    assert table["mean"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_regime_heatmap_draws_with_and_without_regimes():
    table = pd.DataFrame(
        {
            "regime": ["regime_gmm"] * 4,
            "value": [0.0, 0.0, 1.0, 1.0],
            "rows": [5, 5, 7, 7],
            "feature": ["a", "b", "a", "b"],
            "mean_abs_shap": [0.1, 0.2, 0.3, 0.4],
            "share": 0.5,
        }
    )
    assert figure_png(lambda fig: draw_regime_heatmap(fig, table)).startswith(b"\x89PNG")
    assert figure_png(lambda fig: draw_regime_heatmap(fig, table.iloc[:0])).startswith(b"\x89PNG")


def test_the_beeswarm_is_the_same_picture_whatever_seeded_numpys_global_rng():
    """Its jitter comes from its own seeded generator: two reports of the same values are the same
    PNG, and shap's FutureWarning about the seeded global RNG does not fire."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    values = X.to_numpy() * [0.5, -0.2, 0.1, 0.0]
    pictures = []
    for seed in (1, 2):
        np.random.seed(seed)  # what some library may have done in the same process
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            pictures.append(shap_beeswarm_png(values, X))
    assert pictures[0].startswith(b"\x89PNG") and pictures[0] == pictures[1]


def test_reliability_bins_and_their_band():
    from tb_assets.reporting.plots import reliability_bins

    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.9, 20_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    table = reliability_bins(y, p)
    assert len(table) == 10 and table["events"].sum() == p.size
    assert ((table["observed"] >= table["band_low"]) & (table["observed"] <= table["band_high"])).sum() >= 9  # calibrated: inside
    skewed = reliability_bins(y, np.clip(p + 0.1, 0, 1))  # every probability 0.1 too high: outside the band
    assert (skewed["observed"] < skewed["band_low"]).sum() >= 8
    tied = reliability_bins(y, np.round(p, 1))  # tied probabilities stay in one bin
    assert tied.groupby("predicted").size().max() == 1


def test_the_reliability_band_widens_for_overlapping_labels():
    from tb_assets.reporting.plots import reliability_bins

    p = np.linspace(0.2, 0.8, 1000)
    y = (np.arange(1000) % 2).astype(int)
    alone, shared = reliability_bins(y, p), reliability_bins(y, p, overlap=4.0)
    np.testing.assert_allclose(shared["band_high"] - shared["predicted"], 2 * (alone["band_high"] - alone["predicted"]), rtol=1e-9)
