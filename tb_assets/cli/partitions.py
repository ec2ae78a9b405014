"""`tb partitions`: the partition keys the settings define (no definitions loaded)."""

from __future__ import annotations


def add_parser(sub) -> None:
    parts = sub.add_parser(
        "partitions",
        help="list the partition keys the current settings define",
        description="Print one SYMBOL|TIMEFRAME partition key per line, from TB_SYMBOLS and TB_TIMEFRAMES.",
    )
    parts.set_defaults(func=cmd_partitions)


def cmd_partitions(args) -> int:
    from tb_assets.settings import apply_default_environment, load_settings

    apply_default_environment()
    for key in load_settings().partition_keys:  # from the settings alone: no definitions to load
        print(key)
    return 0
