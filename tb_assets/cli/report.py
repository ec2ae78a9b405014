"""`tb report [PARTITION]`: where a partition's tearsheet is (`--open` to look at it), or every
partition's strategy headline in one table."""

from __future__ import annotations

import argparse
import json
import sys

HEADER = ("partition", "Sharpe per period", "a year", "PSR", "DSR", "trials", "PBO", "max drawdown", "cost drag")


def add_parser(sub) -> None:
    report = sub.add_parser(
        "report",
        help="a partition's tearsheet (strategy evaluation, model card, holdout curves, SHAP), or every partition's headline",
        description="With a PARTITION: print its headline numbers and the path of its tearsheet.html (written by "
        "strategy_report: one self-contained page, images inline, no network); --open shows it in the default browser. "
        "Without one: a table of every partition's strategy headline (Sharpe, PSR, DSR with its trial count, PBO, drawdown, "
        "cost drag).",
        epilog="examples:\n  tb report\n  tb report --markdown\n  tb report 'VIX|1d' --open\n  tb report 'VIX|1d' --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("partition", nargs="?", help="SYMBOL|TIMEFRAME, e.g. 'VIX|1d' (default: every partition, as a table)")
    report.add_argument("--open", action="store_true", help="open the partition's tearsheet in the default web browser")
    report.add_argument("--json", action="store_true", help="print the partition's strategy_report.json")
    report.add_argument("--markdown", action="store_true", help="the table of every partition as markdown")
    report.set_defaults(func=cmd_report)


def _row(key: str, report) -> tuple[str, ...]:
    drag = report.summary.get("cost_drag")
    return (
        key,
        f"{report.sharpe:.4f}",
        f"{report.annualized_sharpe:.2f}",
        f"{report.psr:.3f}",
        "-" if report.dsr is None else f"{report.dsr:.3f}",
        str(report.n_trials),
        "-" if report.pbo is None else f"{report.pbo:.2f}",
        f"{report.max_drawdown:.1%}",
        "-" if drag is None else f"{drag:.2f}",
    )


def cmd_report(args) -> int:
    from tb_assets.core.data.symbols import validate_symbol
    from tb_assets.core.data.timeframes import validate_timeframe
    from tb_assets.core.errors import TbError
    from tb_assets.reporting.tables import text_table
    from tb_assets.settings import apply_default_environment, load_settings
    from tb_assets.storage.records import StrategyReport
    from tb_assets.storage.urls import describe

    apply_default_environment()
    settings = load_settings()
    if args.partition is None:
        rows = []
        for key in settings.partition_keys:
            symbol, timeframe = key.split("|")
            if StrategyReport.exists(settings.artifacts, symbol, timeframe):
                rows.append(_row(key, StrategyReport.load(settings.artifacts, symbol, timeframe)))
        if not rows:
            print("tb report: no partition has a strategy report yet: tb run", file=sys.stderr)
            return 1
        if args.markdown:
            print("| " + " | ".join(HEADER) + " |")
            print("|" + "---|" * len(HEADER))
            for row in rows:
                print("| " + " | ".join([row[0].replace("|", "\\|"), *row[1:]]) + " |")
        else:
            print(text_table(HEADER, rows))
        return 0
    if args.partition.count("|") != 1:
        raise TbError(f"partition {args.partition!r}: expected SYMBOL|TIMEFRAME, e.g. 'VIX|1d'")
    symbol, timeframe = args.partition.split("|")
    symbol, timeframe = validate_symbol(symbol), validate_timeframe(timeframe)
    if not StrategyReport.exists(settings.artifacts, symbol, timeframe):
        print(
            f"tb report: {symbol}|{timeframe} has no strategy report yet: tb run --partition '{symbol}|{timeframe}' "
            f"(or tb run --select strategy_report --partition '{symbol}|{timeframe}' once production_model exists)",
            file=sys.stderr,
        )
        return 1
    report = StrategyReport.load(settings.artifacts, symbol, timeframe)
    page = report.file(StrategyReport.TEARSHEET)
    if args.json:
        print(json.dumps(json.loads(report.file().read_text()), indent=2))
    else:
        row = dict(zip(HEADER, _row(f"{symbol}|{timeframe}", report)))
        print(
            f"{symbol}|{timeframe}: Sharpe {row['Sharpe per period']} per period ({row['a year']} a year), "
            f"DSR {row['DSR']} over {report.n_trials} trials, PBO {row['PBO']}, max drawdown {row['max drawdown']}"
        )
        print(describe(page))
    if args.open:
        import webbrowser

        if not webbrowser.open(page.as_uri() if hasattr(page, "as_uri") else str(page)):
            print("tb report: no browser to open; the path above opens in any", file=sys.stderr)
    return 0
