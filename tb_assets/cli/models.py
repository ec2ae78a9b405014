"""`tb models`: read the training service's registry (TB_REGISTRY_URL, or TB_DATA_DIR/registry.db)."""

from __future__ import annotations

import argparse
import json
import sys

from tb_assets.cli.champions import ACTIONS, cmd_champions

DESCRIPTION = """Print the model registry that model_experiments fills: one row per trained combination with its
fingerprint, cohort (the siblings of one grid run), parent (lineage), rank in the cohort, params, features and
metrics (mean over validation folds).

  tb models list [--partition SPX|1d] [--algorithm NAME] [--metric r2]   rows, newest first
  tb models show ID                                                      one model in full
  tb models cohort ID                                                    the cohort of model ID (or a cohort id), by rank
  tb models lineage ID                                                   the model's ancestors and descendants
  tb models compare ID ID                                                params, features and metrics side by side

  tb models production [--markdown]                                       the chain's production model of each partition

  tb models champions [--partition SPX|1d]                                 champion and challenger of each partition, and
                                                                           every promotion with its evidence
  tb models promote SPX|1d [--version ID] [--reason TEXT]                  a person makes the challenger (or a version) champion
  tb models demote SPX|1d [--reason TEXT]                                  the previous champion takes the place back

--json prints the same rows as JSON objects (one per line for list/cohort/lineage/production)."""

COLUMNS = ("id", "partition", "algorithm", "rank", "score", "cohort", "parent", "features", "saved", "created")


def add_parser(sub) -> None:
    models = sub.add_parser(
        "models",
        help="list, show and compare the models in the training service's registry",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    models.add_argument(
        "action", choices=("list", "show", "cohort", "lineage", "compare", "production", *ACTIONS), help="what to print or do"
    )
    models.add_argument(
        "ids",
        nargs="*",
        help="model id(s): one for show/cohort/lineage, two for compare (a cohort id works for cohort); the partition for promote/demote",
    )
    models.add_argument("--version", metavar="ID", help="promote: this production_model version instead of the challenger")
    models.add_argument("--reason", metavar="TEXT", help="promote/demote: why, recorded with the change")
    models.add_argument("--partition", metavar="SYMBOL|TIMEFRAME", help="only this partition's models")
    models.add_argument("--algorithm", metavar="NAME", help="only this algorithm's models")
    models.add_argument("--metric", metavar="NAME", help="only models that have this metric (e.g. r2, auc, f1), sorted by it, best first")
    models.add_argument("--limit", "-n", type=int, default=50, help="at most this many rows for list (default 50; 0 = all)")
    models.add_argument("--json", action="store_true", help="print JSON objects instead of tables")
    models.add_argument("--markdown", action="store_true", help="production only: a markdown table (the README's demo table)")
    models.set_defaults(func=cmd_models)


def _registry():
    from tb_assets.settings import apply_default_environment, load_settings
    from tb_assets.training.registry import ModelRegistry, default_url

    apply_default_environment()
    settings = load_settings()
    if settings.registry_url is None and not settings.registry_path.exists():
        return None, str(settings.registry_path)
    return ModelRegistry(settings.registry_url or default_url(settings.data_dir)), None


def _score(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _row_cells(r) -> list[str]:
    return [
        r.id,
        r.partition,
        r.algorithm,
        r.rank_in_cohort,
        f"{r.score_name} {_score(r.score)}",
        r.cohort_id,
        r.parent_model_id or "-",
        f"{len(r.features)}" + (f"->{len(r.used_features)}" if r.used_features else ""),
        "yes" if r.artifacts else "-",
        r.created_at.strftime("%Y-%m-%d %H:%M"),
    ]


def _table(rows) -> str:
    from tb_assets.reporting.tables import text_table

    return text_table(COLUMNS, [_row_cells(r) for r in rows])


def _id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a model id (a number, see `tb models list`)") from None


def _metric(r, name: str):
    value = r.metrics.get(name)
    return value if isinstance(value, (int, float)) else None


def _show(r) -> str:
    lines = [
        f"model {r.id}  {r.partition}  {r.algorithm} ({r.task}, target {r.target}, {r.lookforward} bars ahead)",
        f"  fingerprint   {r.fingerprint}",
        f"  cohort        {r.cohort_id}  rank {r.rank_in_cohort}    parent {r.parent_model_id or '-'}",
        f"  score         {r.score_name} {_score(r.score)} (mean over {len(r.metrics.get('folds', []))} fold(s) of "
        f"{r.data_options.get('validation')}, {r.n_rows:,} rows)",
        f"  params        {json.dumps(r.params, sort_keys=True)}",
        f"  features      {len(r.features)} given, {len(r.used_features) if r.used_features else '-'} kept after pruning",
    ]
    numbers = {k: v for k, v in r.metrics.items() if isinstance(v, (int, float)) and not k.endswith("_std")}
    lines.append("  metrics       " + ", ".join(f"{k} {v:.4g}" for k, v in numbers.items()))
    holdout = r.metrics.get("holdout")
    if holdout:  # the cohort's best, scored once on the untouched holdout
        scores = {k: v for k, v in holdout.items() if isinstance(v, (int, float)) and k != "n_samples"}
        lines.append(
            f"  holdout       {holdout.get('n_samples', '?'):,} rows from {holdout.get('start', '?')[:10]}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
        )
    if "confusion_matrix" in r.metrics:
        (tn, fp), (fn, tp) = r.metrics["confusion_matrix"]
        lines.append(f"  confusion     tn {tn}  fp {fp}  fn {fn}  tp {tp} (summed over folds)")
    lines.append(f"  data          version {r.data_version[:16]}…  options {json.dumps(r.data_options, sort_keys=True)}")
    if r.notes:
        lines.append(f"  notes         {r.notes}")
    for _name, entry in r.artifacts.items():
        lines.append(f"  file          {entry['path']}  sha256 {entry['sha256'][:16]}…")
    if not r.artifacts:
        lines.append("  files         none (only each cohort's best is fitted and saved unless save_all_grid_models)")
    lines.append(
        f"  created       {r.created_at.isoformat()}  code {r.code_version}  "
        + ", ".join(f"{k} {v}" for k, v in r.library_versions.items())
    )
    return "\n".join(lines)


def _compare(a, b) -> str:
    from tb_assets.reporting.tables import text_table

    rows = [
        ("algorithm", a.algorithm, b.algorithm),
        ("partition", a.partition, b.partition),
        ("cohort", a.cohort_id, b.cohort_id),
        ("parent", a.parent_model_id or "-", b.parent_model_id or "-"),
        ("rank", a.rank_in_cohort, b.rank_in_cohort),
    ]
    for key in sorted(set(a.params) | set(b.params)):
        rows.append((f"param {key}", a.params.get(key, "-"), b.params.get(key, "-")))
    names = [k for k, v in {**a.metrics, **b.metrics}.items() if isinstance(v, (int, float)) and not k.endswith("_std")]
    for key in dict.fromkeys(names):
        rows.append((key, _score(_metric(a, key)), _score(_metric(b, key))))
    fa, fb = set(a.used_features or a.features), set(b.used_features or b.features)
    rows += [
        ("features", len(fa), len(fb)),
        ("only in this one", ", ".join(sorted(fa - fb)) or "-", ", ".join(sorted(fb - fa)) or "-"),
        ("shared features", len(fa & fb), len(fa & fb)),
    ]
    return text_table(("", f"model {a.id}", f"model {b.id}"), rows)


def cmd_models(args) -> int:
    from tb_assets.core.errors import TbError

    wanted = {"list": 0, "show": 1, "cohort": 1, "lineage": 1, "compare": 2, "production": 0, "champions": 0, "promote": 1, "demote": 1}[
        args.action
    ]
    if len(args.ids) != wanted:
        print(f"tb models {args.action}: expected {wanted} id(s), got {len(args.ids)}", file=sys.stderr)
        return 2
    if args.action == "production":
        return production_models(args)
    if args.markdown:
        print("tb models: --markdown is for `tb models production` (the other views have --json)", file=sys.stderr)
        return 2
    if args.action in ACTIONS:
        from tb_assets.settings import apply_default_environment, load_settings
        from tb_assets.training.registry import ModelRegistry, default_url

        apply_default_environment()
        settings = load_settings()
        with ModelRegistry(settings.registry_url or default_url(settings.data_dir)) as registry:
            return cmd_champions(args, registry)
    registry, missing = _registry()
    if registry is None:
        print(
            f"tb models: no registry yet at {missing}: materialize model_experiments first "
            "(tb run --select model_experiments --partition 'SPX|1d')",
            file=sys.stderr,
        )
        return 1
    try:
        with registry:
            rows = _select(registry, args)
    except (TbError, ValueError) as exc:
        print(f"tb models {args.action}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for r in rows:
            print(json.dumps(r.as_json(), sort_keys=True, default=str))
        return 0
    if not rows:
        print("no models match" + (f" in {registry.describe()}" if args.action == "list" else ""))
    elif args.action == "show":
        print(_show(rows[0]))
    elif args.action == "compare":
        print(_compare(*rows))
    else:
        print(_table(rows))
    return 0


def _select(registry, args) -> list:
    from tb_assets.core.modeling.metrics import LOWER_IS_BETTER

    if args.action == "list":
        symbol = timeframe = None
        if args.partition:
            if "|" not in args.partition:
                raise ValueError(f"--partition {args.partition!r}: expected SYMBOL|TIMEFRAME, e.g. 'SPX|1d'")
            symbol, timeframe = args.partition.split("|", 1)
        rows = registry.find(symbol=symbol, timeframe=timeframe, algorithm=args.algorithm)[::-1]  # newest first
        if args.metric:
            rows = sorted(
                (r for r in rows if _metric(r, args.metric) is not None),
                key=lambda r: _metric(r, args.metric),
                reverse=args.metric not in LOWER_IS_BETTER,
            )
        return rows[: args.limit] if args.limit > 0 else rows
    if args.action == "cohort":
        text = args.ids[0]
        cohort = text if not text.isdigit() else registry.get(_id(text)).cohort_id
        rows = registry.find(cohort_id=cohort)
        if not rows:
            raise ValueError(f"no cohort {cohort!r} in the registry")
        return sorted(rows, key=lambda r: r.rank_in_cohort)
    if args.action == "lineage":
        model_id = _id(args.ids[0])
        chain = registry.lineage(model_id)
        return chain + _descendants(registry, model_id)
    return [registry.get(_id(i)) for i in args.ids]


def _descendants(registry, model_id: int) -> list:
    out, todo = [], [model_id]
    while todo:
        for child in registry.children(todo.pop(0)):
            out.append(child)
            todo.append(child.id)
    return out


PRODUCTION_COLUMNS = (
    "partition",
    "holdout AUC",
    "grade",
    "Brier skill",
    "calibration",
    "OOF AUC",
    "events",
    "features",
    "trained on",
    "trained at",
    "params",
)


def production_rows(settings, partitions: list[str]) -> list[dict]:
    """One row per partition: its production model's card (holdout AUC and grade, the holdout's
    Brier skill over the best constant and the calibration chosen, out-of-fold AUC, what it was
    trained on, where its params came from), or what to run when it has none."""
    from tb_assets.core.modeling.grades import grade
    from tb_assets.storage.records import ModelCard

    rows = []
    for key in partitions:
        symbol, timeframe = key.split("|")
        newer = unpublished(ModelCard.partition_folder(settings.artifacts, symbol, timeframe))
        if not ModelCard.exists(settings.artifacts, symbol, timeframe):
            rows.append({"partition": key, "card": None, "unpublished": newer})
            continue
        card = ModelCard.load(settings.artifacts, symbol, timeframe)
        holdout = (card.holdout_metrics or {}).get("auc")
        rows.append(
            {
                "partition": key,
                "holdout_auc": holdout,
                "grade": grade("auc", holdout) if holdout is not None else "-",
                "holdout_events": (card.holdout_metrics or {}).get("n_samples"),
                "holdout_brier_skill": (card.holdout_metrics or {}).get("brier_skill"),
                "calibration": (card.calibration or {}).get("method", "-"),
                "oof_auc": card.oof_metrics.get("auc"),
                "holdout_auc_lower": (card.holdout_metrics or {}).get("auc_lower"),
                "events": card.n_samples,
                "features": card.features,
                "trained_on": card.date_range,
                "trained_at": card.training_date,
                "params_source": card.params.get("source", "-"),
                "card": str(card.file()),
                "version": card.version,
                "unpublished": newer,
            }
        )
    return rows


def unpublished(partition) -> dict | None:
    """A newer version that readers do not open: the candidate, with the blocking checks' verdicts on it."""
    from tb_assets.storage import versions

    pending = versions.candidate(partition)
    if pending is None:
        return None
    seen = versions.verdicts(partition, pending.version)
    refused = {name: seen[name]["description"] for name in pending.awaits if name in seen and not seen[name]["passed"]}
    return {"version": pending.version, "refused_by": refused, "waiting_for": [n for n in pending.awaits if n not in seen]}


def production_models(args) -> int:
    from tb_assets.reporting.tables import text_table
    from tb_assets.settings import apply_default_environment, load_settings

    apply_default_environment()
    settings = load_settings()
    partitions = settings.partition_keys
    if args.partition:
        partitions = [k for k in partitions if k == args.partition]
        if not partitions:
            print(f"tb models production: {args.partition!r} is not a partition of these settings (tb partitions)", file=sys.stderr)
            return 2
    rows = production_rows(settings, partitions)
    if args.markdown:
        print(production_markdown(rows))
        return 0
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    cells = []
    for r in rows:
        if r["card"] is None:
            cells.append(
                [r["partition"], "-", "-", "-", "-", "-", "-", "-", "not trained: tb run --partition '" + r["partition"] + "'", "-", "-"]
            )
            continue
        first, last = (d[:10] for d in r["trained_on"])
        cells.append(
            [
                r["partition"],
                _score(r["holdout_auc"]) + (f" ({r['holdout_events']:,} events)" if r["holdout_events"] else ""),
                r["grade"],
                _score(r["holdout_brier_skill"]),
                r["calibration"],
                _score(r["oof_auc"]),
                f"{r['events']:,}",
                len(r["features"]),
                f"{first} .. {last}",
                r["trained_at"][:16],
                r["params_source"],
            ]
        )
    print(text_table(PRODUCTION_COLUMNS, cells))
    for r in rows:
        if r["unpublished"] is not None:
            newer = r["unpublished"]
            why = (
                "refused by " + "; ".join(f"{name}: {text}" for name, text in newer["refused_by"].items())
                if newer["refused_by"]
                else "waiting for " + ", ".join(newer["waiting_for"])
            )
            print(f"{r['partition']}: a newer model (version {newer['version']}) is not in use, {why}")
    print(
        "\nthe holdout is the number to believe (selection and tuning never saw it); model cards: "
        f"{settings.artifacts}/production_model/<symbol>/<timeframe>/versions/<version>/model_metadata.json "
        "(LATEST in the partition's folder names the version in use)"
    )
    return 0


def production_markdown(rows: list[dict]) -> str:
    """The production models as a markdown table: what the README's demo table is (a test compares them)."""
    cell = lambda key: key.replace("|", "\\|")  # noqa: E731  (a bare | would split the cell)
    lines = [
        "| partition | events | out-of-fold AUC | holdout AUC (95% lower bound) | grade | holdout Brier skill | calibration | features |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["card"] is None:
            lines.append(f"| {cell(r['partition'])} | - | - | not trained | - | - | - | - |")
            continue
        names = r["features"]
        shown = ", ".join(f"`{n}`" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        lower = "" if r.get("holdout_auc_lower") is None else f" ({r['holdout_auc_lower']:.3f})"
        holdout = "-" if r["holdout_auc"] is None else f"{r['holdout_auc']:.3f}{lower}"
        skill = "-" if r.get("holdout_brier_skill") is None else f"{r['holdout_brier_skill']:+.3f}"
        numbers = f"{r['events']:,} | {r['oof_auc']:.3f} | {holdout} | {r['grade']} | {skill} | {r['calibration']}"
        lines.append(f"| {cell(r['partition'])} | {numbers} | {shown} |")
    return "\n".join(lines)
