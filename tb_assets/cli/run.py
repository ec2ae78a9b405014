"""`tb run`: materialize assets for partitions in the persistent instance, without a daemon."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

from tb_assets.cli.environment import EPILOG_ENV
from tb_assets.cli.requests import UsageError, load_defs, resolve_request, selection_options


def add_parser(sub) -> None:
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
    selection_options(run)
    run.add_argument("--verbose", "-v", action="store_true", help="show Dagster's own log lines")
    run.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="partitions run side by side (default: the instance's run concurrency, 2 in dagster.yaml)",
    )
    run.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from tb_assets.settings import apply_default_environment

    data_dir = apply_default_environment()
    defs = load_defs()
    from tb_assets.cli.warehouse import preflight

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

    from tb_assets.runs.dead_runs import HOST_TAG, report_dead_runs, this_host
    from tb_assets.runs.instance import open_instance
    from tb_assets.runs.launch import run_partitions

    what = request.what
    with open_instance() as instance:
        report_dead_runs(instance, "tb run")
        concurrency = args.jobs or instance.get_concurrency_config().run_queue_config.max_concurrent_runs or 1
        print(
            f"tb run: {what} for {len(keys)} partition(s), {concurrency} at a time; instance {os.environ['DAGSTER_HOME']}, data {data_dir}",
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
            print(
                f"[{len(done)}/{len(keys)}] {outcome.key} {status} in {outcome.seconds:.1f}s" + (f"  {notes}" if notes else ""), flush=True
            )

        def on_notice(line: str) -> None:
            print(f"tb run: {line}", file=sys.stderr, flush=True)

        try:
            with sigterm_as_interrupt():
                outcomes = run_partitions(
                    instance,
                    job,
                    keys,
                    selection,
                    run_config,
                    concurrency=concurrency,
                    tags={"tb/launched_by": "tb run", HOST_TAG: this_host()},
                    log_dir=log_dir,
                    on_event=on_event,
                    on_done=on_done,
                    on_notice=on_notice,
                )
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
    from tb_assets.reporting.tables import text_table

    table = text_table(header, rows)
    cards = [(o.key, o.model_card) for o in outcomes if o.model_card]
    if cards:
        table += "\n\nmodel cards (features, params, out-of-fold and holdout metrics; plots beside them):\n"
        table += "\n".join(f"  {key}  {path}" for key, path in cards)
    return table
