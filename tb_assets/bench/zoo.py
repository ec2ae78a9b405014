"""The training service's quick zoo on one synthetic partition."""

from __future__ import annotations

import time


def zoo_partition(rows: int, n_features: int):
    """A random-walk partition with a weak planted signal: bars, a feature matrix, its groups and the
    targets table the targets asset would store (triple-barrier events, weights, forward targets)."""
    import numpy as np
    import pandas as pd

    from tb_assets.core.labels.targets import TargetSpec, build_targets

    rng = np.random.default_rng(0)
    ts = pd.date_range("2000-01-03", periods=rows, freq="D", tz="UTC")
    X = rng.normal(size=(rows, n_features))
    groups = {}
    for j in range(n_features):
        kind = ("standard", "robust", "bounded", "regime")[j % 4]
        groups[f"f{j}"] = kind
        if kind == "robust":
            X[:, j] = np.exp(X[:, j])
        elif kind == "bounded":
            X[:, j] = 50 + 15 * X[:, j]
        elif kind == "regime":
            X[:, j] = rng.integers(0, 3, rows)
    step = rng.normal(0, 0.01, rows)
    step[1:] += 0.002 * X[:-1, 0]
    close = 100 * np.exp(np.cumsum(step))
    bars = pd.DataFrame({"ts": ts, "close": close})
    features = pd.DataFrame(X, columns=list(groups))
    features.insert(0, "ts", ts)
    targets, _ = build_targets(bars, features["ts"], TargetSpec(), "1d")
    return bars, features, groups, targets


def bench_zoo_quick() -> dict:
    """The default quick zoo (nine algorithms, 20 combinations, 5 purged folds, each cohort's best
    fitted on all rows with its importances) on 5,000 rows x 60 features, one thread; and the
    LightGBM/XGBoost grids scored with each fold binned once vs re-binned for every fit."""
    import tempfile
    from pathlib import Path

    from sklearn.base import clone

    from tb_assets.training.experiment import Experiment, ExperimentSpec
    from tb_assets.training.registry import ModelRegistry
    from tb_assets.training.search import combinations, grid_for
    from tb_assets.training.zoo import ALGORITHMS

    bars, features, groups, targets = zoo_partition(5_000, 60)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        registry = ModelRegistry(f"sqlite:///{folder}/registry.db")
        spec = ExperimentSpec("BENCH", "1d", n_jobs=1)
        experiment = Experiment(
            spec,
            bars=bars,
            features=features,
            targets=targets,
            catalog=list(groups),
            groups=groups,
            registry=registry,
            model_folder=lambda fp: Path(folder) / fp[:16],
        )
        names = list(groups)
        start = time.perf_counter()
        for name in spec.algorithms:
            t = time.perf_counter()
            experiment.run_cohort(ALGORITHMS[name], names)
            timings[name] = round(time.perf_counter() - t, 2)
        seconds = time.perf_counter() - start
        # binned once per fold (what the grid does) vs binned again for every fit
        reused = rebinned = 0.0
        for name in ("lightgbm_regressor", "xgboost_regressor", "lightgbm_classifier", "xgboost_classifier"):
            algo = ALGORITHMS[name]
            prepared = experiment.prepared(algo.task, names, algo.linear)
            for params in combinations(grid_for(name, "quick")):
                model = algo.make(params, 0, 1)
                for fold in prepared:
                    fold.folds._binned.clear()
                    t = time.perf_counter()
                    fold.folds.fit(clone(model), 0)
                    rebinned += time.perf_counter() - t
                for fold in prepared:  # the grid's way: the first fit bins, the others reuse it
                    t = time.perf_counter()
                    fold.folds.fit(clone(model), 0)
                    reused += time.perf_counter() - t
        registry.close()
    return {
        "seconds": seconds,
        "rows": 5_000,
        "features": 60,
        "per_algorithm_seconds": timings,
        "booster_grid_seconds_rebinned": round(rebinned, 3),
        "booster_grid_seconds_binned_once": round(reused, 3),
        "binning_speedup": round(rebinned / reused, 2),
    }
