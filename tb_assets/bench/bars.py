"""`tb bench --only bars_10m`: the bars step on 10 million one-minute bars, the way `tb run` runs it.

A Parquet input folder holding one symbol's 10,000,000 one-minute bars (about 400 MB on disk: 19
years of minutes, a vendor's full history), then `tb run --select bars` in a fresh data folder and
instance for its `BIG|1m` partition (10 million stored rows) and its `BIG|5m` partition (2 million
rows resampled from the 10 million), one after the other.

`peak_mb` is the peak resident memory of the largest process of either `tb run`: its run worker,
which reads the source, validates (and resamples), stores the Parquet partition and runs the
`bars_valid_ohlcv` check that reads it back. The kernel measures it (getrusage of the children, which takes in
grandchildren waited for), so nothing is sampled and nothing is missed. `plain_*` is pandas alone
reading the same file and writing it back to Parquet: the floor of any bars step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARS = 10_000_000
SYMBOL = "BIG"

# runs a command and prints its children's peak resident memory (the largest process of its tree)
_PEAK_OF = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps({'rc': done.returncode, 'tail': (done.stdout + done.stderr)[-3000:],\n"
    "                  'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
)

_PLAIN = "import pandas as pd, sys\npd.read_parquet(sys.argv[1]).to_parquet(sys.argv[2], index=False)\n"


def write_minute_bars(folder: Path, bars: int = BARS, chunk: int = 1_000_000) -> Path:
    """A random walk of `bars` consistent one-minute bars from 2000-01-03, as one Parquet file of
    `folder/BIG/` (written a million rows at a time, so making it stays small)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    path = folder / SYMBOL / "bars.parquet"
    path.parent.mkdir(parents=True)
    start, last = pd.Timestamp("2000-01-03", tz="UTC"), 100.0
    writer = None
    for first in range(0, bars, chunk):
        n = min(chunk, bars - first)
        close = last * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
        open_ = np.r_[last, close[:-1]]
        frame = pd.DataFrame(
            {
                "ts": start + pd.to_timedelta(np.arange(first, first + n), unit="min"),
                "open": open_,
                "high": np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 5e-5, n))),
                "low": np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 5e-5, n))),
                "close": close,
                "volume": rng.integers(1, 1000, n).astype("float64"),
            }
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        last = float(close[-1])
    writer.close()
    return path


def _peak_of(command: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """(seconds, peak MB of the largest process) of `command`; raises with its output if it fails."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK_OF, *command], env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    row = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"rc": done.returncode, "tail": done.stderr}
    if row["rc"] != 0:
        raise RuntimeError(f"{' '.join(command[:6])} failed ({row['rc']}):\n{row['tail']}")
    return seconds, row["peak_mb"]


def bench_bars_10m() -> dict:
    from tb_assets.settings import PROJECT_ROOT

    with tempfile.TemporaryDirectory(prefix="tb-bars10m-") as tmp:
        folder = Path(tmp)
        source = write_minute_bars(folder / "raw")
        home = folder / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
        env.update(
            DAGSTER_HOME=str(home),
            TB_DATA_DIR=str(folder / "data"),
            TB_SOURCE="parquet",
            TB_RAW_DIR=str(folder / "raw"),
            TB_SYMBOLS=SYMBOL,
            TB_TIMEFRAMES="1m,5m",
            TB_CONTEXT_SYMBOLS="none",
            TB_AUTOMATION="off",
        )
        tb = [sys.executable, "-m", "tb_assets.cli", "run", "--select", "bars", "--partition"]
        seconds, peak = _peak_of([*tb, f"{SYMBOL}|1m"], env, PROJECT_ROOT)
        seconds_5m, peak_5m = _peak_of([*tb, f"{SYMBOL}|5m"], env, PROJECT_ROOT)
        plain_seconds, plain_peak = _peak_of([sys.executable, "-c", _PLAIN, str(source), str(folder / "plain.parquet")], env)
        stored = folder / "data" / "warehouse" / "bars" / f"symbol={SYMBOL}" / "timeframe=1m" / "part-0.parquet"
        return {
            "seconds": seconds,
            "rows": BARS,
            "peak_mb": round(max(peak, peak_5m), 1),
            "peak_mb_1m": round(peak, 1),
            "seconds_5m": round(seconds_5m, 2),
            "peak_mb_5m": round(peak_5m, 1),
            "plain_seconds": round(plain_seconds, 2),
            "plain_peak_mb": round(plain_peak, 1),
            "peak_over_plain": round(max(peak, peak_5m) / plain_peak, 2),
            "source_mb": round(source.stat().st_size / 2**20, 1),
            "stored_mb": round(stored.stat().st_size / 2**20, 1) if stored.exists() else None,
        }
