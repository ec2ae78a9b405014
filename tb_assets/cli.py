"""`tb`: the command line. `tb run` materializes assets in the persistent Dagster instance."""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# LightGBM's OpenMP threads spin while they wait by default; with several runs, trials or workers
# sharing a few cores that slows every fit 2-5x (measured). Sleeping waiters cost nothing alone.
# Set before LightGBM loads; `tb dev` passes it on to the webserver, daemon and runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EPILOG_ENV = """environment variables (all optional):
  TB_DATA_DIR         where everything is written (default ./data in the project)
  TB_SOURCE           sample | parquet | csv | synthetic (default sample)
  TB_RAW_DIR          input folder for parquet/csv
  TB_SYMBOLS          comma list of primary symbols (default: the source's universe)
  TB_TIMEFRAMES       comma list of 1m,5m,15m,30m,1h,4h,1d,1w (default 1d,1w)
  TB_CONTEXT_SYMBOLS  comma list of context symbols
  TB_SOURCE_TZ        time zone of naive timestamps in your files (default UTC)
"""


@dataclass
class PartitionOutcome:
    key: str
    ok: bool
    seconds: float
    assets: int = 0
    checks_passed: int = 0
    checks_total: int = 0
    rows: int | None = None
    detail: str = ""
    run_id: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    # `tb dev` hands every option it does not know to `dagster dev` (e.g. -p 3001)
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.func is cmd_dev:
        args.dagster_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args.func(args)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tb",
        description="tb_assets: market bars -> leakage-free triple-barrier classifiers (a Dagster asset graph).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG_ENV,
    )
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="materialize assets for partitions in the persistent Dagster instance",
        description=(
            "Materialize a selection of assets for some SYMBOL|TIMEFRAME partitions, one Dagster run per "
            "partition, recorded in the instance under DAGSTER_HOME so the runs show in the UI. Prints a "
            "line per partition as it finishes and a summary table; exits 1 if any partition failed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  tb run\n  tb run --select bars --partition 'SPX|1d' --partition 'IXIC|*'\n"
        "  tb run --config run.yaml\n\n" + EPILOG_ENV,
    )
    run.add_argument(
        "--select",
        metavar="ASSETS",
        help="comma list of asset names to materialize, e.g. bars,features (default: the whole graph)",
    )
    run.add_argument(
        "--partition",
        metavar="SYMBOL|TIMEFRAME",
        action="append",
        help="partition key to run; repeat or comma-separate; '*' globs, e.g. 'SPX|*' or '*|1d'; "
        "a bare symbol means all its timeframes (default: every partition)",
    )
    run.add_argument(
        "--config",
        metavar="RUN_CONFIG.yaml",
        type=Path,
        help="Dagster run config applied to every run, e.g. {ops: {bars: {config: {policy: fail}}}}",
    )
    run.add_argument("--verbose", "-v", action="store_true", help="show Dagster's own log lines")
    run.set_defaults(func=cmd_run)

    parts = sub.add_parser(
        "partitions",
        help="list the partition keys the current settings define",
        description="Print one SYMBOL|TIMEFRAME partition key per line, from TB_SYMBOLS and TB_TIMEFRAMES.",
    )
    parts.set_defaults(func=cmd_partitions)

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

    dev = sub.add_parser(
        "dev",
        help="open the Dagster UI (dagster dev) on the project's persistent instance",
        description=(
            "Run `dagster dev` with DAGSTER_HOME set to the project root and TB_DATA_DIR defaulted, so runs "
            "persist across restarts and runs started by `tb run` show in the UI. Every other argument goes to "
            "dagster dev, e.g. `tb dev -p 3001`."
        ),
    )
    dev.set_defaults(func=cmd_dev)
    return p


def _load_defs():
    from tb_assets.core.errors import TbError

    try:
        from tb_assets.definitions import defs
    except TbError as exc:
        print(f"tb: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return defs


def cmd_partitions(args) -> int:
    from tb_assets.settings import apply_default_environment

    apply_default_environment()
    defs = _load_defs()
    for key in _all_partition_keys(defs):
        print(key)
    return 0


def cmd_dev(args) -> int:
    from tb_assets.settings import PROJECT_ROOT, apply_default_environment

    apply_default_environment()
    # the interpreter running `tb` has dagster installed, activated venv or not
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), *args.dagster_args]
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} TB_DATA_DIR={os.environ['TB_DATA_DIR']}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execvp(cmd[0], cmd)
    return 0  # not reached


def cmd_bench(args) -> int:
    import json

    from tb_assets.bench import BENCHMARKS, format_table, run_benchmarks

    if args.list:
        for b in BENCHMARKS.values():
            print(f"{b.name}: {b.description}")
        return 0
    names = args.only or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"tb bench: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    rows = run_benchmarks(names, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _all_partition_keys(defs) -> list[str]:
    from tb_assets.definitions import PIPELINE_JOB

    job = defs.resolve_job_def(PIPELINE_JOB)
    return list(job.partitions_def.get_partition_keys())


def select_partitions(available: list[str], patterns: list[str] | None) -> list[str]:
    """Keys matching the user's patterns, in the definition's order; error on a pattern matching none."""
    if not patterns:
        return list(available)
    wanted: list[str] = []
    for chunk in patterns:
        wanted += [p.strip() for p in chunk.split(",") if p.strip()]
    chosen: set[str] = set()
    for pat in wanted:
        pat_full = pat if "|" in pat else f"{pat}|*"
        hits = [k for k in available if fnmatch.fnmatchcase(k.upper(), pat_full.upper())]
        if not hits:
            raise SystemExit(
                f"tb run: no partition matches {pat!r}; defined partitions: {', '.join(available)} "
                "(set TB_SYMBOLS / TB_TIMEFRAMES to define others)"
            )
        chosen.update(hits)
    return [k for k in available if k in chosen]


def cmd_run(args) -> int:
    from tb_assets.settings import apply_default_environment

    data_dir = apply_default_environment()
    defs = _load_defs()

    import dagster as dg
    import yaml

    from tb_assets.definitions import PIPELINE_JOB

    job = defs.resolve_job_def(PIPELINE_JOB)
    all_assets = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    selection = None
    if args.select:
        names = [s.strip() for s in args.select.split(",") if s.strip()]
        unknown = [n for n in names if n not in all_assets]
        if unknown:
            print(f"tb run: unknown asset(s) {', '.join(unknown)}; assets: {', '.join(all_assets)}", file=sys.stderr)
            return 2
        selection = [dg.AssetKey.from_user_string(n) for n in names]
    keys = select_partitions(list(job.partitions_def.get_partition_keys()), args.partition)

    run_config: dict = {}
    if args.config:
        try:
            run_config = yaml.safe_load(args.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            print(f"tb run: cannot read {args.config}: {exc}", file=sys.stderr)
            return 2
        if not isinstance(run_config, dict):
            print(f"tb run: {args.config} must hold a mapping (Dagster run config)", file=sys.stderr)
            return 2
    if not args.verbose:
        run_config.setdefault("loggers", {}).setdefault("console", {"config": {"log_level": "WARNING"}})

    what = ", ".join(n.to_user_string() for n in selection) if selection else "all assets"
    print(f"tb run: {what} for {len(keys)} partition(s); instance {os.environ['DAGSTER_HOME']}, data {data_dir}", flush=True)
    outcomes: list[PartitionOutcome] = []
    from tb_assets.instance import open_instance

    with open_instance() as instance:
        for i, key in enumerate(keys, 1):
            print(f"[{i}/{len(keys)}] {key} ...", flush=True)
            outcome = _run_partition(job, instance, key, selection, run_config)
            outcomes.append(outcome)
            status = "ok" if outcome.ok else "FAILED"
            extra = f"  {outcome.detail}" if outcome.detail else ""
            print(f"[{i}/{len(keys)}] {key} {status} in {outcome.seconds:.1f}s{extra}", flush=True)

    print()
    print(format_summary(outcomes))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"\n{len(failed)} of {len(outcomes)} partition(s) failed:", file=sys.stderr)
        for o in failed:
            print(f"  {o.key}: {o.detail} (run {o.run_id})", file=sys.stderr)
        return 1
    print(f"\nall {len(outcomes)} partition(s) materialized; open the UI with `tb dev`")
    return 0


def _run_partition(job, instance, key: str, selection, run_config: dict) -> PartitionOutcome:
    import dagster as dg

    start = time.perf_counter()
    try:
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=key,
            asset_selection=selection,
            raise_on_error=False,
            tags={"tb/launched_by": "tb run"},
        )
    except dg.DagsterError as exc:  # bad run config and the like: nothing ran
        return PartitionOutcome(key, False, time.perf_counter() - start, detail=_first_line(str(exc)))
    mats = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    checks = result.get_asset_check_evaluations()
    rows = None
    for event in mats:
        mat = event.step_materialization_data.materialization
        if mat.asset_key == dg.AssetKey("bars") and "rows" in mat.metadata:
            rows = int(mat.metadata["rows"].value)
    failed_checks = [c.asset_check_key.name for c in checks if not c.passed]
    detail = _failure_reason(result) if not result.success else ""
    if failed_checks:
        detail = (detail + "; " if detail else "") + "failed checks: " + ", ".join(failed_checks)
    return PartitionOutcome(
        key=key,
        ok=result.success,
        seconds=time.perf_counter() - start,
        assets=len(mats),
        checks_passed=sum(c.passed for c in checks),
        checks_total=len(checks),
        rows=rows,
        detail=detail,
        run_id=result.run_id,
    )


def _failure_reason(result) -> str:
    """The user's own error behind a failed run: the deepest cause of the first step failure."""
    import dagster as dg

    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            step = event.step_key
            while error is not None and error.cause is not None:
                error = error.cause
            if error is None:
                return f"step {step} failed"
            return f"{step}: {error.cls_name}: {_first_line(error.message.split(': ', 1)[-1])}"
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE and event.message:
            return _first_line(event.message)
    return "run failed"


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def format_summary(outcomes: list[PartitionOutcome]) -> str:
    header = ("partition", "status", "assets", "checks", "bars rows", "seconds", "detail")
    rows = [
        (
            o.key,
            "ok" if o.ok else "FAILED",
            str(o.assets),
            f"{o.checks_passed}/{o.checks_total}",
            "" if o.rows is None else f"{o.rows:,}",
            f"{o.seconds:.1f}",
            o.detail,
        )
        for o in outcomes
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


if __name__ == "__main__":
    sys.exit(main())
