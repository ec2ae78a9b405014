"""Timing and peak memory inside a benchmark's child process."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

ONE_CORE_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def start_peak() -> None:
    """Reset the peak resident memory (Linux: writing 5 to clear_refs resets VmHWM to VmRSS), so
    `peak_mb` measures the work from here, not the making of its inputs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # not Linux: the peak covers the whole child


def peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def best_of(run: Callable[[], object], times: int = 5) -> tuple[float, object]:
    """The fastest of `times` timed calls (timeit's rule: slower calls measure what else the machine
    was doing) and the last call's result, which stays alive while the next call runs, as a
    caller's result would."""
    best, out = float("inf"), None
    for _ in range(times):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out
