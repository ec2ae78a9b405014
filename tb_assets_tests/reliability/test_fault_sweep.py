"""The fault sweep (issue 26): `tb run` of the whole chain killed with SIGKILL (every process of it
at once) at seeded random moments, and its writes failed with ENOSPC at seeded random points.
After each fault, what readers open is complete and consistent: every published artifact version
loads, every file a model card names matches its SHA-256, every warehouse file matches its
recorded checksum. The next `tb run` sweeps the dead writers' temp files and succeeds.

The seed is printed (and in every failure message): TB_FAULT_SEED=<seed> replays a sweep. CI runs
1 kill and 1 full disk; TB_FAULT_KILLS=20 TB_FAULT_ENOSPC=5 is the full sweep (docs/development.md).
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tb_assets.settings import PROJECT_ROOT
from tb_assets.storage import versions
from tb_assets.storage.records import ExperimentReport, FeatureCatalog, ModelCard, Selection, ShapSummary, TunedParams
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import FILE_NAME, read_partition
from tb_assets_tests.e2e.processes import HANG_GUARD_S

pytestmark = pytest.mark.e2e
TB = [sys.executable, "-m", "tb_assets.cli"]
RECORDS = {r.ASSET: r for r in (FeatureCatalog, Selection, TunedParams, ModelCard, ShapSummary, ExperimentReport)}
# few trials: the sweep is about where a run dies, not about the model
RUN_CONFIG = {
    "ops": {
        "best_params": {"config": {"n_trials": 4, "min_auc": 0.0, "max_brier": 0.3}},
        "selected_features": {"config": {"max_features": 4}},
        "shap_report": {"config": {"n_explain": 200, "n_repeats": 1}},
    }
}
# the disk fills at the n-th fsync of a process (every atomic write fsyncs its file once) and stays full
FULL_DISK = textwrap.dedent("""
    import errno, os
    _at = int(os.environ.get("TB_TEST_ENOSPC_AT", "0"))
    if _at:
        _fsync, _count = os.fsync, [0]
        def _full(fd):
            _count[0] += 1
            if _count[0] >= _at:
                raise OSError(errno.ENOSPC, "No space left on device")
            return _fsync(fd)
        os.fsync = _full
""")


def problems(data: Path) -> list[str]:
    """What is wrong with what a reader would open now (empty: complete and consistent)."""
    found = []
    artifacts = data / "artifacts"
    for partition in sorted(artifacts.glob("*/*/*")):
        asset, symbol, timeframe = partition.relative_to(artifacts).parts
        if asset not in RECORDS or versions.latest(partition) is None:
            continue  # nothing published yet: readers get "materialize it", which is right
        try:
            record = RECORDS[asset].load(artifacts, symbol, timeframe)
            if isinstance(record, ModelCard):
                for name in record.artifact_sha256:
                    record.verified(artifacts, symbol, timeframe, name)
            if isinstance(record, ShapSummary):
                record.values()
                missing = [p for p in record.plots.values() if not Path(p).exists()]
                assert not missing, f"plots missing: {missing}"
            if isinstance(record, Selection):
                assert record.selected, "no selected feature"
        except Exception as exc:  # any failure to open the published version is the finding
            found.append(f"{asset} {symbol}|{timeframe} version {versions.latest(partition)}: {exc}")
    warehouse = storage_root(str(data / "warehouse"))
    for path in sorted((data / "warehouse").glob(f"*/symbol=*/timeframe=*/{FILE_NAME}")):
        table, symbol, timeframe = path.parts[-4], path.parts[-3].split("=")[1], path.parts[-2].split("=")[1]
        try:
            read_partition(warehouse, table, symbol, timeframe)
        except Exception as exc:
            found.append(f"warehouse {table} {symbol}|{timeframe}: {exc}")
    return found


def temp_files(data: Path) -> list[Path]:
    return [p for p in data.rglob(".*") if ".tbtmp-" in p.name]


def kill_everything(proc: subprocess.Popen) -> None:
    """SIGKILL to `tb run` and every process under it at once (its run workers included)."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=60)
    psutil.wait_procs(family, timeout=60)


@pytest.mark.cost(240)
def test_killed_and_full_disk_runs_leave_every_published_version_whole(dagster_home, tmp_path):
    seed = int(os.environ.get("TB_FAULT_SEED") or time.time_ns() % 100_000)
    kills, full_disks = int(os.environ.get("TB_FAULT_KILLS", "1")), int(os.environ.get("TB_FAULT_ENOSPC", "1"))
    print(f"fault sweep: TB_FAULT_SEED={seed} ({kills} kills, {full_disks} full disks)")
    rng = random.Random(seed)
    data = Path(os.environ["TB_DATA_DIR"])
    config = tmp_path / "run.json"  # YAML is a superset of JSON
    config.write_text(json.dumps(RUN_CONFIG))
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FULL_DISK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    env.update(
        DAGSTER_HOME=str(dagster_home),
        TB_DATA_DIR=str(data),
        TB_SOURCE="synthetic",
        TB_SYMBOLS="SYN1",
        TB_TIMEFRAMES="1d",
        TB_CONTEXT_SYMBOLS="none",
        TB_SYNTHETIC_BARS="1200",
        TB_SYNTHETIC_SIGNAL="0.3",
        PYTHONPATH=os.pathsep.join(filter(None, [str(inject), env.get("PYTHONPATH")])),
    )
    args = [*TB, "run", "--config", str(config)]

    def run(**extra) -> subprocess.CompletedProcess:
        return subprocess.run(args, env={**env, **extra}, capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=PROJECT_ROOT)

    start = time.monotonic()
    first = run()
    duration = time.monotonic() - start
    assert first.returncode == 0, f"seed {seed}: {first.stdout[-3000:]}{first.stderr[-3000:]}"
    assert problems(data) == []
    published = {p: versions.latest(p) for p in (data / "artifacts").glob("*/*/*")}

    for i in range(kills):
        at = rng.uniform(0.05, 0.85) * duration  # a warm machine runs the chain faster than the first time
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        proc = subprocess.Popen(args, env=env, cwd=PROJECT_ROOT, start_new_session=True, **quiet)
        try:
            proc.wait(timeout=at)
            outcome = f"ended before the kill (exit {proc.returncode})"
            duration = min(duration, at)
        except subprocess.TimeoutExpired:
            kill_everything(proc)
            outcome = "killed"
        print(f"kill {i}: at {at:.1f} s of a {duration:.1f} s run: {outcome}")
        found = problems(data)
        assert found == [], f"seed {seed}, kill {i} at {at:.1f} s of a {duration:.1f} s run: {found}"

    for _ in range(full_disks):
        at = rng.randint(1, 40)
        full = run(TB_TEST_ENOSPC_AT=str(at))
        print(f"full disk from fsync {at}: exit {full.returncode}")
        found = problems(data)
        assert found == [], f"seed {seed}, disk full from fsync {at}: {found}"
        if full.returncode != 0:  # the run noticed, and says what happened
            assert "No space left on device" in full.stdout + full.stderr, f"seed {seed}: {full.stdout[-3000:]}{full.stderr[-3000:]}"

    again = run()
    assert again.returncode == 0, f"seed {seed}: {again.stdout[-3000:]}{again.stderr[-3000:]}"
    assert problems(data) == [] and temp_files(data) == [], f"seed {seed}"
    # the chain's file artifacts were all published anew by the last run
    for partition, before in published.items():
        assert versions.latest(partition) not in (None, before), f"seed {seed}: {partition} was not republished"
