"""`tb partitions`: the partition keys the settings define (no definitions loaded)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    parts = sub.add_parser(
        "partitions",
        help="list the partition keys the current settings define",
        description="Print one SYMBOL|TIMEFRAME partition key per line, from TB_SYMBOLS and TB_TIMEFRAMES "
        "(by default every symbol in TB_RAW_DIR; files whose names are not symbols are listed on stderr and ignored).",
    )
    parts.set_defaults(func=cmd_partitions)


def cmd_partitions(args) -> int:
    from tb_assets.settings import apply_default_environment, load_settings

    apply_default_environment()
    settings = load_settings()
    for key in settings.partition_keys:  # from the settings alone: no definitions to load
        print(key)
    if settings.source in ("csv", "parquet"):
        from tb_assets.sources import make_source

        for name in make_source(settings.source, raw_dir=settings.raw_dir).ignored_entries():
            print(f"tb partitions: ignored {name} in TB_RAW_DIR: not a valid symbol name", file=sys.stderr)
    return 0
