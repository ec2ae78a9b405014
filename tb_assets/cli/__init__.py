"""`tb`: the command line, one module per command group (each adds its parser and runs its command)."""

from __future__ import annotations

import argparse
import os
import sys

# LightGBM's OpenMP threads spin while they wait by default; with several runs, trials or workers
# sharing a few cores that slows every fit 2-5x (measured). Sleeping waiters cost nothing alone.
# Set before LightGBM loads; `tb dev` passes it on to the webserver, daemon and runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tb_assets.cli import alerts, backfill, bench, cluster, dev, models, partitions, prune, report, run, warehouse  # noqa: E402
from tb_assets.cli.environment import EPILOG_ENV  # noqa: E402

# in the order `tb --help` lists them
COMMAND_GROUPS = (run, backfill, alerts, partitions, bench, models, report, warehouse, prune, cluster, dev)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    # `tb dev` hands every option it does not know to `dagster dev` (e.g. -p 3001)
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "passes_unknown", False):
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
    except Exception as exc:
        full = disk_full(exc)
        if full is None:
            raise
        print(f"tb: {full}", file=sys.stderr)  # not a 72-line SQLite traceback
        return 1


def disk_full(exc: BaseException) -> str | None:
    """What to tell a user when `exc` (or what caused it) is a full disk: an OSError ENOSPC, or a
    database's "database or disk is full" (SQLite's instance, registry or Optuna storage); None otherwise.
    Every write is atomic, so what was stored before is intact."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            where = f" ({exc.filename})" if exc.filename else ""
            return f"the disk is full{where}: free space and run again; what was stored before is intact (every write is atomic)"
        if "database or disk is full" in str(exc):
            return (
                "the disk holding TB_DATA_DIR (the Dagster instance, the registry or the Optuna studies) is full: free space and "
                "run again; what was stored before is intact (every write is atomic)"
            )
        exc = exc.__cause__ or exc.__context__
    return None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tb",
        description="tb_assets: market bars -> leakage-free triple-barrier classifiers (a Dagster asset graph).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG_ENV,
    )
    sub = p.add_subparsers(title="commands", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_parser(sub)
    return p
