"""The hot kernels: features, the look-ahead check, labels, uniqueness, TreeSHAP, each against a plain implementation."""

from __future__ import annotations

import time

from tb_assets.bench.measure import best_of, peak_mb, start_peak


def _synthetic_minutes(n: int):
    from tb_assets.core.data.validation import validate_bars
    from tb_assets.sources import make_source

    raw = make_source("synthetic", synthetic_freq="1m", synthetic_bars=n, synthetic_seed=0).load("BENCH").frame
    return validate_bars(raw, symbol="BENCH", origin="synthetic")[0]


def bench_features_1m() -> dict:
    from tb_assets.core.features.matrix import FeatureOptions, build_feature_matrix

    bars = _synthetic_minutes(1_000_000)
    build_feature_matrix(bars.iloc[:20_000], {}, timeframe="1m")  # JIT warm-up
    before = peak_mb()
    start_peak()
    start = time.perf_counter()
    fm = build_feature_matrix(bars, {}, timeframe="1m", options=FeatureOptions("full"))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(fm.frame), "features": len(fm.features), "peak_before_mb": round(before, 1)}


def bench_lookahead_1m() -> dict:
    """The no-look-ahead check (the full matrix, then prefixes at each cut, compared bit for bit)
    on the 1,000,000 bars of features_1m, against building the features once in the same run."""
    from tb_assets.core.features.lookahead import DEFAULT_CUTS, feature_lookahead
    from tb_assets.core.features.matrix import FeatureOptions, build_feature_matrix

    bars = _synthetic_minutes(1_000_000)
    feature_lookahead(bars.iloc[:20_000], {}, "1m")  # JIT warm-up
    start_peak()
    start = time.perf_counter()
    build_feature_matrix(bars, {}, timeframe="1m", options=FeatureOptions("full"))
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    problems = feature_lookahead(bars, {}, "1m")
    seconds = time.perf_counter() - start
    assert problems == [], problems
    return {
        "seconds": seconds,
        "baseline_seconds": baseline,
        "rows": len(bars),
        "cuts": list(DEFAULT_CUTS),
        "ratio_to_features": round(seconds / baseline, 2),
    }


def bench_aroon_1m() -> dict:
    import numpy as np
    import pandas as pd

    from tb_assets.core.features.indicators import bars_since_extreme

    n, window, subset = 1_000_000, 25, 20_000
    high = np.random.default_rng(0).normal(size=n).cumsum()
    bars_since_extreme(high[:1000], window, True)  # JIT warm-up
    start = time.perf_counter()
    fast = bars_since_extreme(high, window, True)
    seconds = time.perf_counter() - start
    # the plain version: pandas rolling().apply with argmax, on a subset, extrapolated
    start = time.perf_counter()
    plain = pd.Series(high[:subset]).rolling(window + 1).apply(lambda w: window - (len(w) - 1 - np.argmax(w[::-1])), raw=True)
    baseline = (time.perf_counter() - start) * n / subset
    assert np.allclose(plain.to_numpy()[window:], fast[window:subset])  # the same numbers, or the ratio means nothing
    return {"seconds": seconds, "baseline_seconds": baseline, "rows": n, "baseline_rows_timed": subset}


def _labeling_inputs(n_events: int, vertical: int = 20):
    import numpy as np
    import pandas as pd

    n = n_events + vertical
    idx = pd.date_range("2000-01-01", periods=n, freq="min", tz="UTC")
    close = pd.Series(100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.001, n))), index=idx)
    target = pd.Series(0.002, index=idx)  # about 2 sigma of a 1-minute move: barriers get touched
    return close, idx[:n_events], target


def bench_labeling_1m() -> dict:
    from tb_assets.core.labels.barriers import triple_barrier
    from tb_assets.core.reference import plain_triple_barrier

    n, subset = 1_000_000, 2_000
    close, events, target = _labeling_inputs(n)
    triple_barrier(close, events, target, vertical=20)  # JIT
    seconds, out = best_of(lambda: triple_barrier(close, events, target, vertical=20))
    start = time.perf_counter()
    plain = plain_triple_barrier(close, events[:subset], target, vertical=20)
    baseline = (time.perf_counter() - start) * n / subset
    assert (plain["t1"].to_numpy() == out["t1"].to_numpy()[:subset]).all()  # the same labels
    return {"seconds": seconds, "baseline_seconds": baseline, "rows": len(out), "baseline_rows_timed": subset}


def bench_uniqueness_1m() -> dict:
    import numpy as np

    from tb_assets.core.labels.barriers import triple_barrier
    from tb_assets.core.labels.weights import average_uniqueness
    from tb_assets.core.reference import plain_average_uniqueness

    n, subset = 1_000_000, 2_000
    close, events, target = _labeling_inputs(n)
    t1 = triple_barrier(close, events, target, vertical=20)["t1"]
    average_uniqueness(t1, close.index)  # JIT
    seconds, u = best_of(lambda: average_uniqueness(t1, close.index))
    head = t1.iloc[:subset]
    bars = close.index[: close.index.get_loc(head.max()) + 1]
    start = time.perf_counter()
    plain = plain_average_uniqueness(head, bars)
    baseline = (time.perf_counter() - start) * n / subset  # linear: flatters the plain version (it is bars x events)
    # labels near the subset's end overlap labels outside it, so compare the early ones
    assert np.allclose(plain.to_numpy()[: subset - 40], average_uniqueness(head, bars).to_numpy()[: subset - 40])
    assert len(u) == len(t1)
    return {"seconds": seconds, "baseline_seconds": baseline, "rows": len(t1), "baseline_rows_timed": subset}


def bench_shap_5k() -> dict:
    """Exact TreeSHAP of a 300-tree, 31-leaf LightGBM on 5,000 rows x 40 features: the booster's own
    pred_contrib (what `explain` calls, plus the margin it checks additivity against) against
    shap.TreeExplainer, alternated, best of 4 each, the same values to 1e-9."""
    import lightgbm as lgb
    import numpy as np
    import shap

    from tb_assets.core.modeling.explain import explain

    rows, n_features, repeats = 5_000, 40, 4
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, n_features))
    y = (X[:, :5].sum(axis=1) + rng.normal(size=len(X)) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "num_threads": 1, "verbose": -1, "seed": 0}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=300)
    assert booster.num_trees() == 300
    sample = X[:rows]
    explain(booster, sample[:100], threads=1)  # warm-up

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out

    # alternate the two and which goes first, best of each: drift and order cost both alike
    ours_times, shap_times = [], []
    for i in range(repeats):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            if which == 0:
                t, ours = timed(lambda: explain(booster, sample, threads=1))
                ours_times.append(t)
            else:
                t, theirs = timed(lambda: shap.TreeExplainer(booster).shap_values(sample))
                shap_times.append(t)
    seconds, baseline = min(ours_times), min(shap_times)
    theirs = theirs[1] if isinstance(theirs, list) else theirs
    difference = float(np.abs(ours.values - theirs).max())
    assert difference <= 1e-9, difference  # the same numbers, or the ratio means nothing
    assert float(ours.additivity_error().max()) <= 1e-9
    return {
        "seconds": seconds,
        "baseline_seconds": baseline,
        "rows": rows,
        "rows_per_second": round(rows / seconds),
        "max_difference": difference,
    }
