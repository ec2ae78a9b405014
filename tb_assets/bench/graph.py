"""`tb bench --only graph_100k` (and `graph_1m`): the whole chain on synthetic one-minute bars.

One partition, `BENCH|1m`, with every stage's default configuration (what `tb run` does), in
process on every core of the machine, against a fresh data folder and an ephemeral Dagster
instance. Reports the wall time, each asset's and check's seconds (from the run's step events),
the tuning's trials per minute and the process's peak resident memory. The synthetic bars carry
a weak planted momentum signal, so selection and tuning have something to find.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

SIGNAL = 0.3
PARTITION = "BENCH|1m"


# the modeling stages' shortcuts turned off: what `modeling_quality` compares the defaults with
EXACT = {
    "selected_features": {"config": {"shortlist": 0, "thinning": False}},
    "best_params": {"config": {"early_stopping": False, "thinning": False}},
}


def environment(folder: Path, bars: int, signal: float = SIGNAL, seed: int = 0) -> dict[str, str]:
    return {
        "TB_DATA_DIR": str(folder),
        "TB_SOURCE": "synthetic",
        "TB_SYMBOLS": "BENCH",
        "TB_TIMEFRAMES": "1m",
        "TB_SYNTHETIC_FREQ": "1m",
        "TB_SYNTHETIC_BARS": str(bars),
        "TB_SYNTHETIC_SIGNAL": str(signal),
        "TB_SYNTHETIC_SEED": str(seed),
        "TB_CONTEXT_SYMBOLS": "none",
        "TB_AUTOMATION": "off",
    }


def step_windows(instance, run_id: str) -> dict[str, tuple[float, float]]:
    """(start, end) wall-clock time of each step, by step key, from the run's event log."""
    start: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            start[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in start:
            windows[event.step_key] = (start.pop(event.step_key), entry.timestamp)
    return windows


class MemorySampler:
    """The process's resident memory every `every` seconds, in a thread, to tell each step's peak."""

    def __init__(self, every: float = 0.1):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), _rss_mb()))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> float | None:
        inside = [mb for t, mb in self.samples if start <= t <= end]
        return round(max(inside), 1) if inside else None


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def run_graph(bars: int, *, signal: float = SIGNAL, seed: int = 0, exact: bool = False) -> dict:
    """The chain on one synthetic partition; `exact` turns the modeling shortcuts off."""
    import dagster as dg

    from tb_assets.bench.measure import peak_mb, start_peak

    with tempfile.TemporaryDirectory(prefix="tb-graph-") as folder:
        os.environ.update(environment(Path(folder), bars, signal, seed))
        from tb_assets.definitions import PIPELINE_JOB, build_definitions
        from tb_assets.settings import load_settings

        defs = build_definitions(load_settings())
        graph = defs.resolve_asset_graph()
        chain = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name != "research"]
        job = defs.resolve_job_def(PIPELINE_JOB)
        instance = dg.DagsterInstance.ephemeral()
        start_peak()
        started = time.perf_counter()
        with MemorySampler() as memory:
            result = job.execute_in_process(
                partition_key=PARTITION,
                instance=instance,
                raise_on_error=False,
                asset_selection=chain,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **({"ops": EXACT} if exact else {})},
            )
        seconds = time.perf_counter() - started
        if not result.success:
            failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
            raise RuntimeError(f"the chain failed on {PARTITION} at {failed}")
        windows = step_windows(instance, result.run_id)
        steps = {k: round(b - a, 2) for k, (a, b) in windows.items()}
        step_peaks = {k: memory.peak_between(a, b) for k, (a, b) in windows.items()}
        tuning = _materialization(result, "best_params")
        production = _materialization(result, "production_model")
        trials = int(tuning.get("trials_complete", 0)) + int(tuning.get("trials_pruned", 0))
        tuning_seconds = steps.get("best_params", 0.0)
        return {
            "seconds": seconds,
            "rows": bars,
            "per_step_seconds": steps,
            "per_steppeak_mb": step_peaks,
            "trials": trials,
            "trials_per_minute": round(trials / tuning_seconds * 60, 1) if tuning_seconds else None,
            "oof_auc": production.get("oof_auc"),
            "holdout_auc": production.get("holdout_auc"),
            "events": production.get("n_samples"),
            "selected": production.get("features"),
            "peak_mb_run": round(peak_mb(), 1),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        }


def _materialization(result, asset: str) -> dict:
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in materialization.metadata.items()}
    return {}


def modeling_quality(bars: int = 100_000, progress=print) -> dict:
    """The chain with the modeling shortcuts (the defaults) and without (the exact search) on a
    planted-signal partition and a pure random walk of `bars` one-minute bars: out-of-fold and
    holdout AUC of each, their largest difference, the selected features and both paths' time."""
    rows, worst = {}, 0.0
    for name, signal, seed in (("planted", SIGNAL, 0), ("null", 0.0, 1)):
        pair = {}
        for path in ("fast", "exact"):
            progress(f"  {name} {path} ...")
            r = run_graph(bars, signal=signal, seed=seed, exact=path == "exact")
            pair[path] = {k: r[k] for k in ("seconds", "oof_auc", "holdout_auc", "selected", "trials_per_minute")}
            pair[path].update({f"{step}_seconds": r["per_step_seconds"].get(step) for step in ("selected_features", "best_params")})
        for metric in ("oof_auc", "holdout_auc"):
            worst = max(worst, abs(pair["fast"][metric] - pair["exact"][metric]))
        rows[name] = pair
    return {
        "rows": bars,
        "max_auc_difference": round(worst, 4),
        "paths": rows,
        "seconds": rows["planted"]["fast"]["seconds"],
        "baseline_seconds": rows["planted"]["exact"]["seconds"],
    }


def bench_graph_100k() -> dict:
    return run_graph(100_000)


def bench_graph_1m() -> dict:
    return run_graph(1_000_000)


STRATEGY_STEPS = ("strategy_backtest", "strategy_trades", "strategy_report")


def bench_strategy_100k() -> dict:
    """graph_100k, timing the strategy layer: its three assets and their checks (seconds), beside the
    chain before it (chain_before_seconds: bars to shap_report)."""
    row = run_graph(100_000)
    steps = row["per_step_seconds"]
    strategy = {k: v for k, v in steps.items() if k.startswith(STRATEGY_STEPS)}
    return {
        "seconds": sum(strategy.values()),
        "chain_before_seconds": sum(v for k, v in steps.items() if k not in strategy),
        "rows": row["rows"],
        "per_step_seconds": strategy,
        "per_steppeak_mb": {k: v for k, v in row["per_steppeak_mb"].items() if k in strategy},
        "events": row["events"],
        "chain_seconds": row["seconds"],
    }


def bench_modeling_quality() -> dict:
    import sys

    return modeling_quality(progress=lambda line: print(line, file=sys.stderr, flush=True))
