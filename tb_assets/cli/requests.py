"""What `tb run` and `tb backfill` are asked for: assets, partitions and run config, checked before anything starts."""

from __future__ import annotations

import argparse
import fnmatch
import sys
from dataclasses import dataclass
from pathlib import Path


def selection_options(command: argparse.ArgumentParser) -> None:
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


def load_defs():
    from tb_assets.core.errors import TbError

    try:
        from tb_assets.definitions import defs
    except TbError as exc:
        print(f"tb: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return defs


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
    from dagster import DagsterInvalidConfigError

    try:
        dg.validate_run_config(job, run_config)
    except DagsterInvalidConfigError as exc:
        problems = "\n".join(f"  {error.message}" for error in exc.errors)
        raise UsageError(f"tb {command}: {path} is not valid run config for {job.name}:\n{problems}") from None


class UsageError(Exception):
    """A wrong argument: printed to stderr, exit 2."""
