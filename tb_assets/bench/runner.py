"""The benchmarks `tb bench` knows, each run in a fresh child process; the table of results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tb_assets.bench.bars import bench_bars_10m
from tb_assets.bench.graph import bench_graph_1m, bench_graph_100k, bench_modeling_quality, bench_strategy_100k
from tb_assets.bench.kernels import (
    bench_aroon_1m,
    bench_features_1m,
    bench_labeling_1m,
    bench_lookahead_1m,
    bench_shap_5k,
    bench_uniqueness_1m,
)
from tb_assets.bench.live import bench_signals
from tb_assets.bench.measure import ONE_CORE_ENV, peak_mb
from tb_assets.bench.scale import bench_scale_out
from tb_assets.bench.strategy import bench_pbo_200
from tb_assets.bench.zoo import bench_zoo_quick


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[], dict]  # returns at least {"seconds": ...}; runs inside the child
    target_seconds: float | None = None
    targetpeak_mb: float | None = None
    min_speedup: float | None = None
    max_ratio: float | None = None  # seconds at most this multiple of baseline_seconds (a check against the work it checks)
    # any other target: (what the table says, whether a row meets it)
    target: tuple[str, Callable[[dict], bool]] | None = None
    pinned: bool = True  # False: runs with every core of the machine
    in_default: bool = True  # False: left out of a plain `tb bench` (takes minutes; --only NAME runs it)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "features_1m",
            "full feature set on 1,000,000 synthetic 1-minute bars (one symbol, no context)",
            bench_features_1m,
            target_seconds=1.0,  # 2.26 s and 1.28 GB before issue 14
            targetpeak_mb=800.0,
        ),
        Benchmark(
            "lookahead_1m",
            "the no-look-ahead check (full matrix + prefixes at 25% and 50%, compared bit for bit) on the 1,000,000 "
            "bars of features_1m, vs building the features once (baseline)",
            bench_lookahead_1m,
            max_ratio=2.0,
        ),
        Benchmark(
            "labeling_1m",
            "triple-barrier labels of 1,000,000 events, 20-bar vertical barrier (best of 5 calls), vs a per-event pandas loop",
            bench_labeling_1m,
            target_seconds=0.030,  # 0.105 s before issue 14
            min_speedup=1000.0,
        ),
        Benchmark(
            "uniqueness_1m",
            "average uniqueness of 1,000,000 overlapping labels (best of 5 calls), vs the bars x events indicator matrix",
            bench_uniqueness_1m,
            target_seconds=0.025,  # 0.084 s before issue 14
            min_speedup=1000.0,
        ),
        Benchmark(
            "aroon_1m",
            "bars since the 25-bar high on 1,000,000 bars: numba monotonic deque vs pandas rolling().apply",
            bench_aroon_1m,
            min_speedup=100.0,
        ),
        Benchmark(
            "shap_5k",
            "exact TreeSHAP of a 300-tree, 31-leaf LightGBM on 5,000 rows x 40 features (pred_contrib) vs shap.TreeExplainer",
            bench_shap_5k,
            # both run LightGBM's own TreeSHAP routine, so the honest ratio is 1: the gate allows the
            # 3% run-to-run noise of one core here (0.97-1.04 measured) and fails a real slowdown
            min_speedup=0.95,
        ),
        Benchmark(
            "pbo_200",
            "probability of backtest overfitting by CSCV: 200 trials x 2,000 periods in 16 blocks (12,870 choices), "
            "vectorised over block sums, vs each choice's Sharpe ratios from its rows",
            bench_pbo_200,
            target_seconds=2.0,
            min_speedup=10.0,
        ),
        Benchmark(
            "signals",
            "a new bar to a stored signal: the live job's signals step (tail features, the champion, the append) per new "
            "1-minute bar after a year of history (98,280 bars; the chain trained on it first), worst of 5; then a month "
            "of bars at once and model_health on it (model_health_seconds); --json adds the bars step, the checks and the "
            "new bar's features from its tail vs from the whole year",
            bench_signals,
            target_seconds=2.0,
            target=("model_health < 30 s", lambda row: row["model_health_seconds"] < 30.0),
            pinned=False,
        ),
        Benchmark(
            "zoo_quick",
            "the default quick zoo (9 algorithms, 20 combinations, 5 purged folds, best of each saved with importances) on "
            "5,000 rows x 60 features; --json adds seconds per algorithm and the LightGBM/XGBoost grid fits on folds binned "
            "once vs re-binned per fit",
            bench_zoo_quick,
            target_seconds=60.0,  # 24 s measured on one core
            targetpeak_mb=1536.0,
        ),
        Benchmark(
            "bars_10m",
            "tb run --select bars on 10,000,000 one-minute bars from a Parquet folder (BIG|1m, then BIG|5m resampled): "
            "peak memory of its largest process (source read, validation, the stored partition, its check); --json adds "
            "pandas alone reading and writing the file (plain_peak_mb)",
            bench_bars_10m,
            targetpeak_mb=3072.0,  # 4.7 GB measured by the fault probe of issue 26
            pinned=False,
        ),
        Benchmark(
            "graph_100k",
            "the whole chain (bars to shap_report, every check, default configs) for one partition of 100,000 synthetic "
            "1-minute bars, in process on every core; --json adds seconds per asset and check, trials per minute and AUCs",
            bench_graph_100k,
            target_seconds=60.0,  # 241 s and 1.04 GB before issue 14 (2 cores)
            targetpeak_mb=4096.0,
            pinned=False,
        ),
        Benchmark(
            "strategy_100k",
            "graph_100k's strategy layer (strategy_backtest: 15 CPCV fits of the production recipe, strategy_trades, "
            "strategy_report with every trial traded, and their checks); --json adds the chain before it",
            bench_strategy_100k,
            target_seconds=60.0,
            pinned=False,
        ),
        Benchmark(
            "graph_1m",
            "graph_100k on 1,000,000 bars (takes minutes)",
            bench_graph_1m,
            target_seconds=600.0,
            targetpeak_mb=4096.0,
            pinned=False,
            in_default=False,
        ),
        Benchmark(
            "modeling_quality",
            "the chain with the modeling shortcuts (defaults) and without (exact) on a planted-signal and a random-walk partition "
            "of 100,000 1-minute bars: out-of-fold and holdout AUC must agree within 0.01; seconds of the planted partition, "
            "exact as the baseline (takes ~10 minutes)",
            bench_modeling_quality,
            target=("AUCs within 0.01", lambda row: row["max_auc_difference"] <= 0.01),
            pinned=False,
            in_default=False,
        ),
        Benchmark(
            "scale_out",
            "the chain for 8 synthetic partitions (4 symbols x 4h,1d, 6,000 hourly bars each) as one backfill on the team "
            "profile (PostgreSQL + Redis on loopback): 2 Celery workers vs 1 (baseline), and 2 whose bar-source steps share "
            "one slot (--json); needs initdb and redis-server, takes minutes",
            bench_scale_out,
            pinned=False,
            in_default=False,
        ),
    )
}


DEFAULT_BENCHMARKS = [name for name, bench in BENCHMARKS.items() if bench.in_default]


def run_child(name: str) -> dict:
    """Run one benchmark here (the child side) and return its row."""
    bench = BENCHMARKS[name]
    if bench.pinned and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    row = bench.run()
    row["name"] = name
    row.setdefault("peak_mb", round(peak_mb(), 1))  # a benchmark of other processes reports theirs
    if "baseline_seconds" in row:
        row["speedup"] = row["baseline_seconds"] / row["seconds"]
    ok = []
    if bench.target_seconds is not None:
        ok.append(row["seconds"] <= bench.target_seconds)
        row["target_seconds"] = bench.target_seconds
    if bench.targetpeak_mb is not None:
        ok.append(row["peak_mb"] <= bench.targetpeak_mb)
        row["targetpeak_mb"] = bench.targetpeak_mb
    if bench.min_speedup is not None:
        ok.append(row.get("speedup", 0) >= bench.min_speedup)
        row["min_speedup"] = bench.min_speedup
    if bench.max_ratio is not None:
        ok.append(row["seconds"] <= bench.max_ratio * row["baseline_seconds"])
        row["max_ratio"] = bench.max_ratio
    if bench.target is not None:
        ok.append(bool(bench.target[1](row)))
        row["target"] = bench.target[0]
    row["meets_target"] = all(ok) if ok else None
    return row


def run_benchmarks(names: list[str], progress=None) -> list[dict]:
    rows = []
    for i, name in enumerate(names, 1):
        if progress:
            progress(f"[{i}/{len(names)}] {name}: {BENCHMARKS[name].description} ...")
        env = {**os.environ, **ONE_CORE_ENV} if BENCHMARKS[name].pinned else dict(os.environ)
        done = subprocess.run(
            [sys.executable, "-m", "tb_assets.bench.runner", name],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            timeout=3600,
            # an unpinned benchmark runs for minutes: its progress lines go straight to the terminal
            stderr=subprocess.PIPE if BENCHMARKS[name].pinned else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"benchmark {name} failed:\n{(done.stderr or '')[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def format_table(rows: list[dict]) -> str:
    header = ("name", "seconds", "rows/s", "peak_mb", "baseline_s", "speedup", "target", "ok")
    lines = []
    for r in rows:
        target = []
        if "target_seconds" in r:
            target.append(f"<= {r['target_seconds']:g} s")
        if "targetpeak_mb" in r:
            target.append(f"<= {r['targetpeak_mb']:g} MB")
        if "min_speedup" in r:
            target.append(f">= {r['min_speedup']:g}x")
        if "max_ratio" in r:
            target.append(f"<= {r['max_ratio']:g}x baseline")
        if "target" in r:
            target.append(r["target"])
        lines.append(
            (
                r["name"],
                f"{r['seconds']:.3f}",
                f"{r['rows'] / r['seconds']:,.0f}" if r.get("rows") else "",
                f"{r['peak_mb']:.0f}",
                f"{r['baseline_seconds']:.2f}" if "baseline_seconds" in r else "",
                (f"{r['speedup']:.2f}x" if r["speedup"] < 10 else f"{r['speedup']:.0f}x") if "speedup" in r else "",
                ", ".join(target),
                {True: "yes", False: "NO", None: ""}[r["meets_target"]],
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in lines)])


if __name__ == "__main__":  # the child: python -m tb_assets.bench.runner NAME
    print(json.dumps(run_child(sys.argv[1])))
