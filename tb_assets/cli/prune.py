"""`tb prune`: bound what re-runs keep (earlier artifact versions, finished runs' history)."""

from __future__ import annotations

import sys

DESCRIPTION = """Keep the newest --keep earlier artifact versions of every partition (publishing a
version already keeps 5; never pruned: the latest, a candidate waiting for its checks, a version
holding a KEEP file, the models the registry names) and delete the history of finished runs that
ended more than --runs-older-than days ago (the UI's Runs page and the event log). --dry-run lists
what would go. Each chain re-run of one partition otherwise keeps about 0.95 MB of run history."""


def add_parser(sub) -> None:
    prune = sub.add_parser("prune", help="bound what re-runs keep: earlier artifact versions and old run history", description=DESCRIPTION)
    prune.add_argument("--keep", type=int, default=5, help="earlier versions kept of each partition's artifacts (default 5)")
    prune.add_argument(
        "--runs-older-than", type=float, default=30.0, metavar="DAYS", help="delete finished runs older than this (default 30)"
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    prune.set_defaults(func=cmd_prune)


def cmd_prune(args) -> int:
    from pathlib import Path

    from tb_assets.core.errors import TbError
    from tb_assets.runs.instance import open_instance
    from tb_assets.runs.retention import prune_runs
    from tb_assets.settings import apply_default_environment, load_settings
    from tb_assets.storage.retention import prune_artifacts
    from tb_assets.storage.urls import is_local, storage_root

    if args.keep < 0 or args.runs_older_than < 0:
        raise TbError("--keep and --runs-older-than must be 0 or more")
    apply_default_environment()
    settings = load_settings()
    root = storage_root(settings.artifacts)
    verb = "would remove" if args.dry_run else "removed"
    if is_local(root):
        report = prune_artifacts(Path(root.path), args.keep, dry_run=args.dry_run)
        for path in report.versions:
            print(f"  {path}")
        size = f"{report.bytes / 1e6:.2f} MB"
        print(f"tb prune: {verb} {len(report.versions)} earlier artifact version(s), {size} (kept the newest {args.keep})")
    else:
        print(
            f"tb prune: {settings.artifacts} is not a local folder: its versions are left to the store's own lifecycle rules",
            file=sys.stderr,
        )
    with open_instance() as instance:
        runs = prune_runs(instance, args.runs_older_than, dry_run=args.dry_run)
    print(f"tb prune: {verb} the history of {len(runs)} finished run(s) older than {args.runs_older_than:g} day(s)")
    return 0
