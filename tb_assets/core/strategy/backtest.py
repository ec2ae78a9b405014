"""Backtest paths of the production recipe: combinatorial purged CV (AFML ch. 12) with the
project's one fit-and-score path.

Each of the C(N, k) splits fits the recipe (LightGBM with the tuned params, sample weights and
the class balance decided from the split's own training labels) on its purged training events
and predicts its test groups. The raw predictions are calibrated the way the production model's
are (`calibration.choose_calibration`: the method with the best cross-fitted Brier), cross-fitted
by **group**: the calibrator that maps a group's predictions was fitted on the other groups'
predictions and labels only, so no event's label reaches its own probability. The calibrated
predictions then assemble into C(N, k) * k / N paths, each a complete out-of-sample history of
every event (`CombinatorialPurgedKFold.path_splits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.calibration import Calibration, choose_calibration
from tb_assets.core.modeling.evaluation import Folds, score_folds
from tb_assets.core.modeling.production import ProductionSpec, production_recipe
from tb_assets.core.modeling.training_data import TrainingData
from tb_assets.core.strategy.cpcv import CombinatorialPurgedKFold


@dataclass
class BacktestPaths:
    proba: np.ndarray  # (paths, events): calibrated out-of-sample probabilities, each row a complete path
    raw: np.ndarray  # (splits, events): each split's raw predictions of its test events, NaN elsewhere
    splits: list[tuple[np.ndarray, np.ndarray]]  # positional (train, test) of each split
    test_groups: list[tuple[int, ...]]
    path_splits: np.ndarray  # (paths, groups): the split whose predictions of the group the path uses
    group: np.ndarray  # (events,): the group of each event
    calibration: Calibration  # the method chosen, refitted on every prediction (what the paths' method is)

    @property
    def n_paths(self) -> int:
        return len(self.proba)

    def mean_proba(self) -> np.ndarray:
        """Each event's mean probability over the paths: every model behind it was fitted without
        the event (and purged around it), so the mean is out of sample too."""
        return self.proba.mean(axis=0)


def backtest_paths(
    data: TrainingData, params: dict, spec: ProductionSpec, *, n_groups: int = 6, n_test_groups: int = 2, thin: int = 1
) -> BacktestPaths:
    """The production recipe's CPCV paths on every labelled event of `data` (purged by each event's
    t1 with the production model's embargo). `thin` > 1 fits each split on every thin-th training
    event, weighted thin times (evaluation.Folds), as tuning does at scale: overlapping labels carry
    little new information per row, and 15 fits of a million events are minutes."""
    cv = CombinatorialPurgedKFold(n_groups, n_test_groups, t1=data.t1, embargo_pct=spec.embargo_pct)
    splits = list(cv.split(data.X))
    weight = data.weight if spec.sample_weights else None
    n = len(data.y)
    raw = np.full((len(splits), n), np.nan)
    for s, (train, test) in enumerate(splits):
        if len(np.unique(data.y[train])) < 2 or len(np.unique(data.y[test])) < 2:
            raise TbError(
                f"CPCV split {s} (test groups {cv.test_groups()[s]}) holds one class only in its training or test events: "
                "fewer groups (n_groups) or more events"
            )
        folds = Folds.build(data.X, data.y, weight, [(train, test)], threads=spec.n_jobs, thin=thin)
        recipe = production_recipe(folds.per_thinned_row(params), data.y[train], None if weight is None else weight[train], spec)
        (scored,) = score_folds(recipe, folds, scorer=lambda y, p: None)
        raw[s, scored.test] = scored.prediction
    group = np.empty(n, dtype=np.int64)
    for g, rows in enumerate(cv.groups()):
        group[rows] = g
    path_splits = cv.path_splits()
    path_raw = np.stack([raw[path_splits[p, group], np.arange(n)] for p in range(cv.n_paths)])
    if np.isnan(path_raw).any():
        raise TbError("a CPCV path misses predictions: a split did not predict one of its test groups")
    calibration, calibrated = choose_calibration(path_raw.ravel(), np.tile(data.y, cv.n_paths), np.tile(group, cv.n_paths))
    return BacktestPaths(
        proba=calibrated.reshape(cv.n_paths, n),
        raw=raw,
        splits=splits,
        test_groups=cv.test_groups(),
        path_splits=path_splits,
        group=group,
        calibration=calibration,
    )
