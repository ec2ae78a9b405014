"""`tb backfill`: a real Dagster asset backfill for the daemon, followed to its end."""

from __future__ import annotations

import argparse
import os
import sys

from tb_assets.cli.environment import EPILOG_ENV
from tb_assets.cli.requests import UsageError, load_defs, resolve_request, selection_options


def add_parser(sub) -> None:
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
    selection_options(backfill)
    backfill.add_argument("--no-wait", action="store_true", help="queue the backfill, print its id and return")
    backfill.add_argument("--timeout", type=float, metavar="SECONDS", help="stop following after this long (the backfill goes on); exit 3")
    backfill.set_defaults(func=cmd_backfill)


def cmd_backfill(args) -> int:
    from tb_assets.settings import apply_default_environment

    apply_default_environment()
    defs = load_defs()
    from tb_assets.cli.warehouse import preflight

    preflight("tb backfill")
    try:
        request = resolve_request(args, defs, "backfill")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2

    from tb_assets.runs.backfill import daemon_running, follow_backfill, launch_backfill, progress_line
    from tb_assets.runs.instance import open_instance

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
