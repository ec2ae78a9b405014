"""`tb bench`: speed and peak memory of the hot paths, against plain implementations.

`runner` holds the list of benchmarks and runs each in a child; `kernels`, `zoo`, `graph` and
`scale` are the benchmarks; `measure` times them and reads peak memory.

Each benchmark runs in a fresh child process pinned to one core with every thread pool at 1
thread, so `peak_mb` and `seconds` belong to it alone. `peak_mb` is the child's peak resident
memory from the moment its benchmark calls `start_peak()` (Linux's VmHWM, reset there), else over
its whole life; it always counts the libraries and inputs already resident. JIT compilation is
warmed up on a small input before the clock starts.
"""
