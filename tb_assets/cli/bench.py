"""`tb bench`: the benchmarks (tb_assets.bench)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    bench = sub.add_parser(
        "bench",
        help="measure the hot paths: seconds and peak memory, against plain implementations",
        description=(
            "Run the benchmarks, each in a child process pinned to one core, and print a table of seconds, "
            "peak memory (MB) and, where a plain implementation is timed in the same run, its seconds and the "
            "speedup, with each benchmark's target."
        ),
    )
    bench.add_argument("--json", action="store_true", help="print a JSON list of objects instead of the table")
    bench.add_argument("--only", metavar="NAME", action="append", help="run only this benchmark (repeatable)")
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    import json

    from tb_assets.bench.runner import BENCHMARKS, DEFAULT_BENCHMARKS, format_table, run_benchmarks

    if args.list:
        for b in BENCHMARKS.values():
            print(f"{b.name}: {b.description}")
        return 0
    names = args.only or DEFAULT_BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"tb bench: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    rows = run_benchmarks(names, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0
