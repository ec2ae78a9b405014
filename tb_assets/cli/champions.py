"""`tb models champions | promote | demote`: which production model serves each partition, and a
person's override of the challenger gate (recorded with who and why, like the gate's decisions)."""

from __future__ import annotations

import getpass
import json
import sys

ACTIONS = ("champions", "promote", "demote")


def _partition(text: str) -> tuple[str, str]:
    if "|" not in text:
        raise ValueError(f"{text!r}: expected SYMBOL|TIMEFRAME, e.g. 'SPX|1d'")
    symbol, timeframe = text.split("|", 1)
    return symbol, timeframe


def cmd_champions(args, registry) -> int:
    """`registry` is an open ModelRegistry (tb models makes it)."""
    from tb_assets.core.errors import TbError
    from tb_assets.settings import load_settings
    from tb_assets.storage.urls import storage_root
    from tb_assets.training.champions import demote, promote

    aliases = registry.aliases()
    root = storage_root(load_settings().artifacts)
    try:
        if args.action == "champions":
            partition = _partition(args.partition) if args.partition else (None, None)
            return _print_history(aliases, *partition, as_json=args.json)
        symbol, timeframe = _partition(args.ids[0])
        who = f"person:{getpass.getuser()}"
        evidence = {"reason": args.reason or "no reason given"}
        if args.action == "promote":
            version = promote(aliases, root, symbol, timeframe, decided_by=who, evidence=evidence, version=args.version)
            print(f"{symbol}|{timeframe}: version {version} is the champion now (recorded as {who})")
        else:
            version = demote(aliases, root, symbol, timeframe, decided_by=who, evidence=evidence)
            print(f"{symbol}|{timeframe}: the champion's place went back to version {version} (recorded as {who})")
    except (TbError, ValueError) as exc:
        print(f"tb models {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_history(aliases, symbol, timeframe, *, as_json: bool) -> int:
    from tb_assets.reporting.tables import text_table

    history = aliases.history(symbol, timeframe)
    if as_json:
        for p in history:
            print(json.dumps({**p.__dict__, "at": p.at.isoformat()}, sort_keys=True, default=str))
        return 0
    if not history:
        print("no champion yet: signals names the first published production model its partition's champion")
        return 0
    partitions = sorted({(p.symbol, p.timeframe) for p in history})
    print(
        text_table(
            ("partition", "champion", "challenger"),
            [
                (f"{s}|{t}", *(getattr(aliases.current(s, t).get(a), "version", "-") for a in ("champion", "challenger")))
                for s, t in partitions
            ],
        )
    )
    print()
    rows = [
        (
            p.at.strftime("%Y-%m-%d %H:%M"),
            f"{p.symbol}|{p.timeframe}",
            p.action,
            p.version,
            p.replaced or "-",
            p.decided_by,
            _evidence(p.evidence),
        )
        for p in history
    ]
    print(text_table(("at", "partition", "action", "version", "replaced", "decided by", "evidence"), rows))
    return 0


def _evidence(evidence: dict) -> str:
    if "p_value" in evidence:
        return (
            f"AUC {evidence.get('challenger_auc', float('nan')):.3f} vs {evidence.get('champion_auc', float('nan')):.3f} "
            f"on {evidence.get('n_events')} events, p {evidence['p_value']:.4f}"
        )
    return evidence.get("reason") or evidence.get("why") or "-"
