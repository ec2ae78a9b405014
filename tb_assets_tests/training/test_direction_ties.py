"""Direction targets on bars that often do not move: exact ties are labelled up by the >= rule, so a
model that only knows *when* the price stands still beats chance. The zoo marks ties, reports the
AUC without them (`auc_untied`) and can leave them out (`direction_ties: drop`)."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.errors import TbError
from tb_assets.core.labels.forward import forward_returns
from tb_assets.training.experiment import Experiment, ExperimentSpec
from tb_assets.training.problem import build_problem
from tb_assets.training.registry import ModelRegistry

N = 4000


def quiet_market(seed: int = 0):
    """A price that stands still on the next bar 80% of the time after a 'quiet' bar (feature
    `quiet` = 1) and 5% otherwise, and moves up or down with equal odds when it moves."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-02 14:30", periods=N, freq="min", tz="UTC")
    quiet = rng.integers(0, 2, N).astype(float)
    still = rng.random(N) < np.where(quiet == 1, 0.8, 0.05)
    step = np.where(still, 0.0, rng.choice([-0.01, 0.01], N))
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(step[:-1])]))  # bar t+1's close moves by step[t]
    bars = pd.DataFrame({"ts": ts, "open": close, "high": close, "low": close, "close": close, "volume": 1.0})
    features = pd.DataFrame({"ts": ts, "quiet": quiet, "noise": rng.normal(size=N)})
    targets = forward_returns(pd.Series(close, index=ts), 1).rename_axis("ts").reset_index().iloc[:-1]
    targets = targets.assign(t1=targets["fwd_t1"], bin=targets["fwd_direction"].astype("int64"), weight=1.0)
    return bars, features, targets


def test_ties_are_marked_or_dropped():
    bars, features, targets = quiet_market()
    up = build_problem(bars, features, targets, ["quiet", "noise"], task="classification", target="direction")
    assert 0.35 < up.tie_rate < 0.5 and up.y[up.ties].all()  # ties labelled up by the >= rule
    dropped = build_problem(bars, features, targets, ["quiet", "noise"], task="classification", target="direction", ties="drop")
    assert dropped.ties is None and dropped.ties_dropped == int(up.ties.sum()) and len(dropped.y) == len(up.y) - dropped.ties_dropped
    with pytest.raises(TbError, match="direction_ties must be one of up, drop, got 'down'"):
        build_problem(bars, features, targets, ["quiet"], task="classification", target="direction", ties="down")


@pytest.mark.parametrize("ties", ["up", "drop"])
def test_a_model_of_when_the_price_stands_still_beats_chance_only_through_ties(tmp_path, ties):
    bars, features, targets = quiet_market()
    spec = ExperimentSpec(
        "SYN",
        "1m",
        algorithms=("logistic_classification",),
        grids={"logistic_classification": {"C": [1.0]}},
        direction_ties=ties,
        n_jobs=1,
        shap_rows=20,
        permutation_rows=50,
        permutation_repeats=1,
    )
    result = Experiment(
        spec,
        bars=bars,
        features=features,
        targets=targets,
        catalog=["quiet", "noise"],
        groups={"quiet": "standard", "noise": "standard"},
        registry=ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}"),
        model_folder=lambda fp: tmp_path / fp[:16],
    ).run()
    best = result.cohorts[0].best
    if ties == "up":
        assert best.metrics["auc"] > 0.6 and abs(best.metrics["auc_untied"] - 0.5) < 0.05, best.metrics
        assert 0.35 < best.metrics["tie_rate"] < 0.5 and "exact ties, labelled up" in best.notes
        assert "direction_ties" not in best.data_options  # the default keeps the fingerprints of earlier models
        assert abs(best.metrics["holdout"]["auc_untied"] - 0.5) < 0.08
    else:
        assert abs(best.metrics["auc"] - 0.5) < 0.05 and "auc_untied" not in best.metrics, best.metrics
        assert best.data_options["direction_ties"] == "drop" and "tied direction outcomes dropped" in best.notes
