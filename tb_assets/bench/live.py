"""`tb bench --only signals`: a new bar to a stored signal, on a year of one-minute history.

A parquet source holds a year of synthetic one-minute bars (252 sessions of 390); the chain is
trained on it up to production_model, then one new bar at a time is appended to the source and
the live job (bars, signals and the parity check) runs, as the new-data sensor would start it.
Then a month of bars (21 sessions) arrives at once and the live job runs again: model_health
judges the champion on the labels that resolved in it (target: under 30 s on the year).
The row reports the signals step's seconds per new bar (the target: at most 2 s), the bars step
and the parity check beside it, and, in the same process, the features of the new bar from its
tail against the whole year's (what the tail saves; at a year of minutes the step's own reading,
model loading and writing cost more than either).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

YEAR_OF_MINUTES = 252 * 390
NEW_BARS = 5
MONTH_OF_MINUTES = 21 * 390
PARTITION = "BENCH|1m"


def bench_signals(history: int = YEAR_OF_MINUTES, new_bars: int = NEW_BARS, month: int = MONTH_OF_MINUTES) -> dict:
    import dagster as dg
    import pandas as pd

    from tb_assets.bench.graph import SIGNAL, step_windows
    from tb_assets.sources.synthetic import synthetic_bars

    with tempfile.TemporaryDirectory(prefix="tb-signals-") as folder:
        raw = Path(folder) / "raw" / "symbol=BENCH"
        raw.mkdir(parents=True)
        bars = synthetic_bars("BENCH", "1m", history + new_bars + month, 0, SIGNAL, pd.Timestamp("2024-01-02"))
        bars["ts"] = pd.DatetimeIndex(bars["ts"]).tz_convert("UTC") if bars["ts"].dt.tz else pd.DatetimeIndex(bars["ts"]).tz_localize("UTC")
        bars.iloc[:history].to_parquet(raw / "part-0000.parquet", index=False)
        os.environ.update(
            {
                "TB_DATA_DIR": str(Path(folder) / "data"),
                "TB_SOURCE": "parquet",
                "TB_RAW_DIR": str(Path(folder) / "raw"),
                "TB_SYMBOLS": "BENCH",
                "TB_TIMEFRAMES": "1m",
                "TB_CONTEXT_SYMBOLS": "none",
                "TB_AUTOMATION": "off",
            }
        )
        from tb_assets.definitions import LIVE_JOB, PIPELINE_JOB, build_definitions
        from tb_assets.settings import load_settings

        settings = load_settings()
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        upto = ["bars", "features", "targets", "selected_features", "best_params", "production_model"]
        trained = defs.resolve_job_def(PIPELINE_JOB).execute_in_process(
            partition_key=PARTITION,
            instance=instance,
            raise_on_error=False,
            run_config=quiet,
            asset_selection=[dg.AssetKey(a) for a in upto],
        )
        if not trained.success:
            raise RuntimeError("the chain failed before the live job could be measured")
        live = defs.resolve_job_def(LIVE_JOB)
        steps: dict[str, list[float]] = {}
        for i in range(new_bars):
            bars.iloc[history + i : history + i + 1].to_parquet(raw / f"part-{i + 1:04d}.parquet", index=False)
            result = live.execute_in_process(partition_key=PARTITION, instance=instance, raise_on_error=False, run_config=quiet)
            if not result.success:
                raise RuntimeError(f"the live job failed on new bar {i + 1}")
            for key, (a, b) in step_windows(instance, result.run_id).items():
                steps.setdefault(key, []).append(round(b - a, 3))
        signals_steps = steps.get("signals", [])
        bars.iloc[history + new_bars :].to_parquet(raw / "part-month.parquet", index=False)
        result = live.execute_in_process(partition_key=PARTITION, instance=instance, raise_on_error=False, run_config=quiet)
        if not result.success:
            raise RuntimeError("the live job failed on the month of new bars")
        month_steps = {k: round(b - a, 3) for k, (a, b) in step_windows(instance, result.run_id).items()}
        health = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("model_health")]
        resolved = health[0].materialization.metadata["resolved_events"].value
        tail, full = _feature_seconds(bars)
        return {
            "seconds": max(signals_steps),
            "median_seconds": statistics.median(signals_steps),
            "tail_features_seconds": tail,
            "full_features_seconds": full,
            "history_bars": history,
            "new_bars": new_bars,
            "per_step_seconds": {k: statistics.median(v) for k, v in steps.items()},
            "model_health_seconds": month_steps.get("model_health"),
            "model_health_resolved_events": resolved,
            "month_per_step_seconds": month_steps,
        }


def _feature_seconds(bars) -> tuple[float, float]:
    """The last bar's features from the tail its warm-up needs, and from the whole history (best of 3 each)."""
    from tb_assets.bench.measure import best_of
    from tb_assets.core.features.matrix import build_feature_matrix
    from tb_assets.core.live.tail import EVERY_FEATURE, live_features

    names = ["rsi_14", "macd_hist", "regime_gmm", "dist_sma_200"]
    tail, _ = best_of(lambda: live_features(bars, {}, "1m", names, bars["ts"].iloc[-2]), times=3)
    full, _ = best_of(lambda: build_feature_matrix(bars, {}, timeframe="1m", options=EVERY_FEATURE), times=3)
    return round(tail, 4), round(full, 4)
