"""The strategy layer's statistics: PBO by CSCV against a loop over every choice of blocks."""

from __future__ import annotations

import time

from tb_assets.bench.measure import best_of, start_peak


def bench_pbo_200() -> dict:
    """PBO of 200 trials over 2,000 periods cut into 16 blocks (12,870 choices of 8), vectorised
    over block sums, against computing each choice's Sharpe ratios from its rows (a subset of
    choices, extrapolated; both must give the same logits)."""
    from itertools import combinations, islice
    from math import comb

    import numpy as np

    from tb_assets.core.strategy.overfitting import cscv_logits

    periods, trials, blocks, subset = 2_000, 200, 16, 300
    panel = np.random.default_rng(0).normal(0.0, 0.01, (periods, trials))
    start_peak()
    seconds, logits = best_of(lambda: cscv_logits(panel, blocks), times=3)
    rows = np.array_split(np.arange(periods), blocks)
    start = time.perf_counter()
    plain = []
    for inside in islice(combinations(range(blocks), blocks // 2), subset):
        rows_in = np.concatenate([rows[b] for b in inside])
        rows_out = np.setdiff1d(np.arange(periods), rows_in)
        sr_in = panel[rows_in].mean(axis=0) / panel[rows_in].std(axis=0, ddof=1)
        sr_out = panel[rows_out].mean(axis=0) / panel[rows_out].std(axis=0, ddof=1)
        rank = 1 + (sr_out < sr_out[np.argmax(sr_in)]).sum()
        plain.append(np.log(rank / (trials + 1 - rank)))
    baseline = (time.perf_counter() - start) * comb(blocks, blocks // 2) / subset
    assert np.allclose(logits[:subset], plain), "the vectorised and the plain logits differ"
    return {
        "seconds": seconds,
        "baseline_seconds": baseline,
        "splits": comb(blocks, blocks // 2),
        "trials": trials,
        "periods": periods,
        "pbo": float(np.mean(logits <= 0)),
    }
