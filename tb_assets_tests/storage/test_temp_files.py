"""What killed writers leave: their temp files are swept (never a live writer's), a killed `tb run`
takes its worker with it, and storage without hard links still keeps earlier versions."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from tb_assets.storage.artifacts import write_atomic
from tb_assets.storage.atomic import STALE_SECONDS, sweep_temp_files, temp_prefix
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import write_partition


def test_a_dead_writers_temp_file_is_swept_and_a_live_ones_is_not(tmp_path):
    import pandas as pd

    root = storage_root(str(tmp_path))
    write_partition(root, "bars", "AAA", "1d", pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, tz="UTC"), "x": [1, 2, 3]}))
    folder = tmp_path / "bars" / "symbol=AAA" / "timeframe=1d"
    # a writer killed mid-write (SIGKILL just before the rename): its temp file stays behind
    script = textwrap.dedent(f"""
        import os, signal
        import pandas as pd
        from tb_assets.storage.urls import storage_root
        from tb_assets.storage.warehouse import write_partition
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
        new = pd.DataFrame({{"ts": pd.date_range("2025-01-01", periods=9, tz="UTC"), "x": range(9)}})
        write_partition(storage_root({str(tmp_path)!r}), "bars", "AAA", "1d", new)
    """)
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120).returncode == -9
    dead = [p for p in folder.iterdir() if p.name.startswith(".")]
    assert len(dead) == 1 and ".tbtmp-" in dead[0].name
    live = folder / f"{temp_prefix('part-0.parquet')}abcd1234"  # this process's: a live writer
    live.write_bytes(b"being written")
    other_host = folder / ".part-0.parquet.tbtmp-elsewhere-12-abcd1234"  # another machine's, fresh
    other_host.write_bytes(b"x")
    old_style = folder / ".part-0.parquet.k2j4h5g6"  # an earlier version's mkstemp name, a day old
    old_style.write_bytes(b"x")
    os.utime(old_style, (time.time() - 2 * STALE_SECONDS,) * 2)
    removed = sweep_temp_files(tmp_path)
    assert sorted(removed) == sorted([dead[0], old_style])
    assert live.exists() and other_host.exists() and (folder / "part-0.parquet").exists() and (folder / "part-0.parquet.sha256").exists()
    assert sweep_temp_files(tmp_path, now=time.time() + 2 * STALE_SECONDS) == [other_host]  # stale by then
    assert sweep_temp_files(tmp_path / "nowhere") == []  # no folder yet: nothing to sweep


def test_a_killed_parent_takes_its_worker_with_it(tmp_path):
    """`tb run` starts each run's worker with die_with_parent: killing `tb run` (not its group) used
    to leave the worker running to the end, writing."""
    marker = tmp_path / "worker.pid"
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        from tb_assets.runs.launch import die_with_parent
        code = "import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
        child = subprocess.Popen([sys.executable, "-c", code], preexec_fn=die_with_parent)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.1)
        worker = int(marker.read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "the worker outlived its killed parent"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        if marker.exists() and marker.read_text():
            try:
                os.kill(int(marker.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_storage_without_hard_links_still_keeps_the_previous_version(tmp_path, monkeypatch):
    def no_links(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "model.txt"
    write_atomic(path, b"first")
    write_atomic(path, b"second")  # used to fail with PermissionError on every re-materialization
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("model.") and p.name != "model.txt"]
    assert path.read_bytes() == b"second" and [p.read_bytes() for p in kept] == [b"first"]
