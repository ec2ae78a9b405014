"""`tb`: the command line. `tb run` materializes assets in the persistent Dagster instance."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import signal
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
  TB_WAREHOUSE_URL    folder or fsspec URL of the Parquet warehouse (default TB_DATA_DIR/warehouse)
  TB_ARTIFACTS_URL    folder or fsspec URL of models, reports, plots (default TB_DATA_DIR/artifacts)
  TB_PROFILE          local (default) | team: instance deploy/ (PostgreSQL TB_DAGSTER_PG_URL, Celery
                      workers on Redis TB_CELERY_BROKER); see tb cluster --help
  TB_SOURCE           sample | parquet | csv | synthetic (default sample)
  TB_RAW_DIR          input folder for parquet/csv
  TB_SYMBOLS          comma list of primary symbols (default: the source's universe)
  TB_TIMEFRAMES       comma list of 1m,5m,15m,30m,1h,4h,1d,1w (default 1d,1w)
  TB_CONTEXT_SYMBOLS  comma list of context symbols
  TB_SOURCE_TZ        time zone of naive timestamps in your files (default UTC)
  TB_EXECUTOR         in_process (default: a run's steps in one process) | multiprocess
  TB_REFRESH_CRON     when the daemon refreshes every partition (cron, UTC; default 30 22 * * 1-5)
  TB_AUTOMATION       on | off: whether that refresh is declared running (default on)
  TB_ALERT_WEBHOOK    Slack-compatible webhook for alerts; TB_ALERT_SMTP host:port with
                      TB_ALERT_EMAIL_TO / _FROM / TB_ALERT_SMTP_STARTTLS / _USER / _PASSWORD for e-mail
  TB_ALERT_WARN       1: failed WARN checks alert too;  TB_UI_URL: where alert links point
  TB_ALERT_INTERVAL   seconds between the daemon's looks for new failures (default 30)
"""


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
    from tb_assets.core.errors import TbError

    try:
        return args.func(args)
    except TbError as exc:  # a setting or input the user can fix: the message, not a traceback
        print(f"tb: configuration error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tb models list --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0


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
            "Materialize a selection of assets for some SYMBOL|TIMEFRAME partitions without a daemon: one Dagster "
            "run per partition, side by side up to the instance's run concurrency, recorded under DAGSTER_HOME so "
            "the runs show in the UI (the job's Runs tab, the Overview timeline). Prints each asset and check as it "
            "finishes, a line per partition and a summary that keeps ERROR (a failed run or ERROR check) apart "
            "from WARN findings (e.g. no edge found); exits 1 if any partition has an ERROR."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  tb run\n  tb run --select bars --partition 'SPX|1d' --partition 'IXIC|*'\n"
        "  tb run --config run.yaml\n\n" + EPILOG_ENV,
    )
    _selection_options(run)
    run.add_argument("--verbose", "-v", action="store_true", help="show Dagster's own log lines")
    run.add_argument(
        "--jobs", "-j", type=int, metavar="N",
        help="partitions run side by side (default: the instance's run concurrency, 2 in dagster.yaml)",
    )
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser(
        "backfill",
        help="launch a Dagster asset backfill for the daemon (as the UI does) and follow it to the end",
        description=(
            "Queue a real Dagster asset backfill of a selection of assets for some SYMBOL|TIMEFRAME partitions: the "
            "daemon (`tb dev`, or `dagster-daemon run`) executes it run by run, each partition's downstream assets "
            "only after its upstream steps and blocking checks passed, and the UI's Backfills page shows it. `tb "
            "backfill` follows it with a progress bar until it ends and exits 1 naming the partitions that failed "
            "and why. `tb run` is the path without a daemon."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  tb backfill\n  tb backfill --partition 'SPX|*' --select bars,features\n"
        "  tb backfill --no-wait\n\n" + EPILOG_ENV,
    )
    _selection_options(backfill)
    backfill.add_argument("--no-wait", action="store_true", help="queue the backfill, print its id and return")
    backfill.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="stop following after this long (the backfill goes on); exit 3"
    )
    backfill.set_defaults(func=cmd_backfill)

    alerts = sub.add_parser(
        "alerts",
        help="list recent alerts and their delivery state",
        description=(
            "Print the most recent alerts from TB_DATA_DIR/alerts.jsonl (written by the daemon's tb_alerts sensor): "
            "when, severity, partition, asset, check, what the numbers were, and each channel's delivery state."
        ),
    )
    alerts.add_argument("-n", "--limit", type=int, default=20, help="how many of the latest alerts (default 20)")
    alerts.add_argument("--json", action="store_true", help="print the alerts as JSON lines instead of a table")
    alerts.add_argument("--undelivered", action="store_true", help="only alerts with a channel not yet delivered")
    alerts.set_defaults(func=cmd_alerts)

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

    from tb_assets.cli_models import add_parser as add_models_parser

    add_models_parser(sub)

    from tb_assets.cli_warehouse import add_parsers as add_warehouse_parsers

    add_warehouse_parsers(sub)

    from tb_assets.cli_cluster import add_parser as add_cluster_parser

    add_cluster_parser(sub)

    dev = sub.add_parser(
        "dev",
        help="open the Dagster UI and daemon (dagster dev) on the project's persistent instance",
        description=(
            "Run `dagster dev` (webserver and daemon) with DAGSTER_HOME set to the project root and TB_DATA_DIR "
            "defaulted, so runs persist across restarts and runs started by `tb run` show in the UI. Every other "
            "argument goes to dagster dev, e.g. `tb dev -p 3001 -h 0.0.0.0` (-h is dagster dev's host; --help "
            "is this help). Ctrl-C or SIGTERM stops the webserver, the daemon and their code servers."
        ),
        add_help=False,
    )
    dev.add_argument("--help", action="help", help="show this help message and exit")
    dev.set_defaults(func=cmd_dev)
    return p


def _selection_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--select",
        metavar="ASSETS",
        help="comma list of asset names to materialize, e.g. bars,features or model_experiments (default: the chain, "
        "every asset but the research group's model_experiments)",
    )
    command.add_argument(
        "--partition",
        metavar="SYMBOL|TIMEFRAME",
        action="append",
        help="partition key to run; repeat or comma-separate; '*' globs, e.g. 'SPX|*' or '*|1d'; "
        "a bare symbol means all its timeframes (default: every partition)",
    )
    command.add_argument(
        "--config",
        metavar="RUN_CONFIG.yaml",
        type=Path,
        help="Dagster run config applied to every run, e.g. {ops: {bars: {config: {policy: fail}}}}",
    )
    command.add_argument(
        "--allow-shrink",
        action="store_true",
        help="store new bars even when they would drop most of a partition's stored bars (the shrink guard; "
        "same as {ops: {bars: {config: {allow_shrink: true}}}})",
    )


def _load_defs():
    from tb_assets.core.errors import TbError

    try:
        from tb_assets.definitions import defs
    except TbError as exc:
        print(f"tb: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return defs


def cmd_partitions(args) -> int:
    from tb_assets.settings import apply_default_environment, load_settings

    apply_default_environment()
    for key in load_settings().partition_keys:  # from the settings alone: no definitions to load
        print(key)
    return 0


def cmd_dev(args) -> int:
    from tb_assets.settings import PROJECT_ROOT, apply_default_environment

    apply_default_environment()
    from tb_assets.cli_warehouse import preflight
    from tb_assets.instance import open_instance
    from tb_assets.operations.dead_runs import report_dead_runs

    preflight("tb dev")

    with open_instance() as instance:
        report_dead_runs(instance, "tb dev")
    # the interpreter running `tb` has dagster installed, activated venv or not
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), *args.dagster_args]
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} TB_DATA_DIR={os.environ['TB_DATA_DIR']}", flush=True)
    return run_process_group(cmd, cwd=PROJECT_ROOT)


def run_process_group(cmd: list[str], cwd: Path, grace_s: float = 20.0) -> int:
    """Run `cmd` in its own process group until it exits; Ctrl-C or SIGTERM stops the whole group
    (`dagster dev` alone leaves its webserver, daemon and code servers running on SIGTERM):
    SIGTERM to every member, SIGKILL to what is left after `grace_s`."""
    import signal
    import subprocess

    proc = subprocess.Popen(cmd, cwd=cwd, start_new_session=True)
    stopping = {"signal": None}

    def stop(signum, _frame):
        stopping["signal"] = signum
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("\ntb dev: stopping the webserver, the daemon and their code servers ...", file=sys.stderr, flush=True)
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and process_group_alive(proc.pid):
            time.sleep(0.2)
        if process_group_alive(proc.pid):
            _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        return 128 + (stopping["signal"] or signal.SIGINT)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def process_table() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, from /proc."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        except OSError:
            continue  # gone meanwhile
        table.append((int(entry.name), fields[0], int(fields[1]), int(fields[2])))
    return table


def process_group_alive(pgid: int) -> bool:
    """Whether any process of the group is alive (zombies count as gone)."""
    return any(group == pgid and state != "Z" for _, state, _, group in process_table())


def cmd_bench(args) -> int:
    import json

    from tb_assets.bench import BENCHMARKS, DEFAULT_BENCHMARKS, format_table, run_benchmarks

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


def _all_partition_keys(defs) -> list[str]:
    from tb_assets.definitions import PIPELINE_JOB

    job = defs.resolve_job_def(PIPELINE_JOB)
    return list(job.partitions_def.get_partition_keys())


def select_partitions(available: list[str], patterns: list[str] | None, command: str = "run") -> list[str]:
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
            raise UsageError(
                f"tb {command}: no partition matches {pat!r}; defined partitions: {', '.join(available)} "
                "(set TB_SYMBOLS / TB_TIMEFRAMES to define others)"
            )
        chosen.update(hits)
    return [k for k in available if k in chosen]


@dataclass
class Request:
    """What a user asked `tb run` / `tb backfill` for, checked against the definitions."""

    assets: list  # AssetKeys
    what: str  # how to name them to a person
    partitions: list[str]
    run_config: dict


def resolve_request(args, defs, command: str) -> Request:
    """The assets, partitions and run config named by --select, --partition and --config; a clear
    error (exit 2) naming what is unknown or unreadable."""
    import dagster as dg
    import yaml

    from tb_assets.assets.model_experiments import RESEARCH_GROUP
    from tb_assets.definitions import PIPELINE_JOB

    job = defs.resolve_job_def(PIPELINE_JOB)
    graph = defs.resolve_asset_graph()
    all_assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    if args.select:
        names = [s.strip() for s in args.select.split(",") if s.strip()]
        unknown = [n for n in names if n not in all_assets]
        if unknown:
            raise UsageError(f"tb {command}: unknown asset(s) {', '.join(unknown)}; assets: {', '.join(all_assets)}")
        assets, what = [dg.AssetKey.from_user_string(n) for n in names], ", ".join(names)
    else:  # the chain: research experiments run when asked for
        assets = sorted(k for k in graph.get_all_asset_keys() if graph.get(k).group_name != RESEARCH_GROUP)
        what = "the chain (all assets but model_experiments)"
    keys = select_partitions(list(job.partitions_def.get_partition_keys()), args.partition, command=command)
    run_config: dict = {}
    if args.config:
        try:
            run_config = yaml.safe_load(args.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"tb {command}: cannot read {args.config}: {exc}") from None
        if not isinstance(run_config, dict):
            raise UsageError(f"tb {command}: {args.config} must hold a mapping (Dagster run config)")
        _check_run_config(job, run_config, args.config, command)
    if getattr(args, "allow_shrink", False):
        bars_config = run_config.setdefault("ops", {}).setdefault("bars", {}).setdefault("config", {})
        bars_config["allow_shrink"] = True
    return Request(assets, what, keys, run_config)


def _check_run_config(job, run_config: dict, path: Path, command: str) -> None:
    """Every problem of a run config file, before any run starts (Dagster's own error names only the job)."""
    import dagster as dg
    from dagster._core.errors import DagsterInvalidConfigError

    try:
        dg.validate_run_config(job, run_config)
    except DagsterInvalidConfigError as exc:
        problems = "\n".join(f"  {error.message}" for error in exc.errors)
        raise UsageError(f"tb {command}: {path} is not valid run config for {job.name}:\n{problems}") from None


class UsageError(Exception):
    """A wrong argument: printed to stderr, exit 2."""


def cmd_run(args) -> int:
    from tb_assets.settings import apply_default_environment

    data_dir = apply_default_environment()
    defs = _load_defs()
    from tb_assets.cli_warehouse import preflight

    preflight("tb run")
    from tb_assets.definitions import PIPELINE_JOB

    job = defs.resolve_job_def(PIPELINE_JOB)
    try:
        request = resolve_request(args, defs, "run")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    selection, keys, run_config = request.assets, request.partitions, request.run_config
    if not args.verbose:
        run_config.setdefault("loggers", {}).setdefault("console", {"config": {"log_level": "WARNING"}})

    from tb_assets.instance import open_instance
    from tb_assets.operations.dead_runs import HOST_TAG, report_dead_runs, this_host
    from tb_assets.operations.launch import run_partitions

    what = request.what
    with open_instance() as instance:
        report_dead_runs(instance, "tb run")
        concurrency = args.jobs or instance.get_concurrency_config().run_queue_config.max_concurrent_runs or 1
        print(
            f"tb run: {what} for {len(keys)} partition(s), {concurrency} at a time; instance {os.environ['DAGSTER_HOME']}, "
            f"data {data_dir}",
            flush=True,
        )
        log_dir = None if args.verbose else data_dir / "tb_run_logs"
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        done = []

        def on_event(key: str, line: str) -> None:
            print(f"  {key}  {line}", flush=True)

        def on_done(outcome) -> None:
            done.append(outcome)
            status = "ok" if outcome.clean else ("ERROR" if outcome.ok else "FAILED")
            notes = "; ".join(outcome.errors + outcome.findings)
            print(f"[{len(done)}/{len(keys)}] {outcome.key} {status} in {outcome.seconds:.1f}s" + (f"  {notes}" if notes else ""),
                  flush=True)

        def on_notice(line: str) -> None:
            print(f"tb run: {line}", file=sys.stderr, flush=True)

        try:
            with sigterm_as_interrupt():
                outcomes = run_partitions(instance, job, keys, selection, run_config, concurrency=concurrency,
                                          tags={"tb/launched_by": "tb run", HOST_TAG: this_host()}, log_dir=log_dir,
                                          on_event=on_event, on_done=on_done, on_notice=on_notice)
        except KeyboardInterrupt:  # the runs were stopped and marked canceled on the way out
            print(f"tb run: interrupted; {len(done)} of {len(keys)} partition(s) finished before", file=sys.stderr, flush=True)
            return 130

    print()
    print(format_summary(outcomes))
    bad = [o for o in outcomes if not o.clean]
    if bad:
        print(f"\n{len(bad)} of {len(outcomes)} partition(s) failed or have failed ERROR checks:", file=sys.stderr)
        for o in bad:
            print(f"  {o.key}: {'; '.join(o.errors)} (run {o.run_id or 'not started'})", file=sys.stderr)
        return 1
    found = [o for o in outcomes if o.findings]
    tail = f"; {len(found)} with WARN findings (see the summary)" if found else ""
    print(f"\nall {len(outcomes)} partition(s) materialized, no ERROR check failed{tail}; open the UI with `tb dev`")
    return 0


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM (`kill`, `timeout`, a closing terminal's manager) ends `tb run` like Ctrl-C does:
    through its clean-up, which stops the run workers instead of leaving them running alone."""
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_backfill(args) -> int:
    from tb_assets.settings import apply_default_environment

    apply_default_environment()
    defs = _load_defs()
    from tb_assets.cli_warehouse import preflight

    preflight("tb backfill")
    try:
        request = resolve_request(args, defs, "backfill")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2

    from tb_assets.instance import open_instance
    from tb_assets.operations.backfill import daemon_running, follow_backfill, launch_backfill, progress_line

    graph = defs.resolve_asset_graph()
    with open_instance() as instance:
        backfill_id = launch_backfill(instance, graph, request.partitions, request.assets, run_config=request.run_config)
        what = request.what
        print(f"tb backfill: queued backfill {backfill_id}: {what} for {len(request.partitions)} partition(s)", flush=True)
        print(f"  UI: {_ui_url()}/runs/b/{backfill_id}", flush=True)
        if not daemon_running(instance):
            print(
                "tb backfill: no Dagster daemon is running on this instance; the backfill waits in the queue until one "
                "starts: run `tb dev` (or `dagster-daemon run`) in another terminal",
                file=sys.stderr,
                flush=True,
            )
        if args.no_wait:
            return 0
        tty = sys.stdout.isatty()
        show = lambda p: print(("\r" if tty else "") + progress_line(p), end="" if tty else "\n", flush=True)  # noqa: E731
        final = follow_backfill(instance, backfill_id, show, timeout_s=args.timeout)
    if tty:
        print()
    if not final.done:
        print(f"tb backfill: still running after {args.timeout:.0f}s; follow it in the UI", file=sys.stderr)
        return 3
    if final.ok:
        print(f"backfill {backfill_id} succeeded: {final.materialized} asset-partitions materialized")
        return 0
    print(f"\nbackfill {backfill_id} ended {final.status.value}: {final.failed} asset-partition(s) failed or skipped", file=sys.stderr)
    for key, why in sorted(final.failed_partitions.items()):
        print(f"  {key}: {why}", file=sys.stderr)
    return 1


def _ui_url() -> str:
    from tb_assets.settings import DEFAULT_UI_URL

    return (os.environ.get("TB_UI_URL") or DEFAULT_UI_URL).rstrip("/")


def cmd_alerts(args) -> int:
    import json

    from tb_assets.operations.outbox import SENT, Outbox
    from tb_assets.settings import apply_default_environment

    data_dir = apply_default_environment()
    outbox = Outbox(data_dir / "alerts.jsonl")
    try:
        alerts = outbox.read()
    except ValueError as exc:
        print(f"tb alerts: {exc}", file=sys.stderr)
        return 2
    if args.undelivered:
        alerts = [a for a in alerts if any(d["state"] != SENT for d in a["deliveries"].values())]
    alerts = alerts[-args.limit :] if args.limit > 0 else alerts
    if args.json:
        for alert in alerts:
            print(json.dumps(alert, sort_keys=True))
        return 0
    if not alerts:
        print(f"no alerts in {outbox.path}")
        return 0
    for alert in reversed(alerts):  # newest first
        deliveries = ", ".join(
            f"{c} {d['state']}" + (f" ({d['attempts']} tries: {d['error']})" if d["state"] != SENT and d["error"] else "")
            for c, d in alert["deliveries"].items()
        ) or "outbox only"
        print(f"{alert['created']}  {alert['severity']:<5}  {alert['partition']}  {alert['asset']}  {alert['check']}")
        print(f"    {alert['summary']}")
        print(f"    run {alert['run_id']}  {alert['url']}")
        print(f"    delivery: {deliveries}")
    return 0


SUMMARY_CELL = 90  # the table stays readable; the full messages follow it


def _cell(text: str) -> str:
    return text if len(text) <= SUMMARY_CELL else text[: SUMMARY_CELL - 1] + "…"


def format_summary(outcomes) -> str:
    """One row per partition: ERROR (a failed run or ERROR check) apart from WARN findings."""
    header = ("partition", "status", "assets", "checks", "bars rows", "seconds", "holdout AUC", "ERROR", "WARN findings")
    rows = [
        (
            o.key,
            "ok" if o.clean else ("ERROR" if o.ok else "FAILED"),
            str(o.assets),
            f"{o.checks_passed}/{o.checks_total}",
            "" if o.rows is None else f"{o.rows:,}",
            f"{o.seconds:.1f}",
            o.holdout,
            _cell("; ".join(o.errors) or "-"),
            _cell("; ".join(o.findings) or "-"),
        )
        for o in outcomes
    ]
    from tb_assets.reporting import text_table

    table = text_table(header, rows)
    cards = [(o.key, o.model_card) for o in outcomes if o.model_card]
    if cards:
        table += "\n\nmodel cards (features, params, out-of-fold and holdout metrics; plots beside them):\n"
        table += "\n".join(f"  {key}  {path}" for key, path in cards)
    return table


if __name__ == "__main__":
    sys.exit(main())
