"""One self-contained HTML page per partition: the model card, its grades and holdout curves, the
SHAP pictures and the strategy evaluation, images inline (no network, opens from a file or a
mail attachment). No dagster import here."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime

import pandas as pd

STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#222}
h1{font-size:22px;margin-bottom:2px} h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.sub{color:#666;font-size:13px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.numbers{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:10px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px} .tile b{display:block;font-size:19px}
.tile span{color:#666;font-size:12px} .warn{border-color:#e6a700;background:#fff8e1} .ok{border-color:#31a354;background:#f1faf1}
img{max-width:100%;border:1px solid #eee;margin:6px 0} .note{color:#8a6d00;font-size:13px}
"""


def _image(name: str, data: bytes) -> str:
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}"></figure>'


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}g}", border=0, na_rep="-")


def _tile(label: str, value, hint: str = "", judged: bool | None = None) -> str:
    text = "-" if value is None else (f"{value:.4g}" if isinstance(value, float) else html.escape(str(value)))
    cls = "" if judged is None else (" ok" if judged else " warn")
    return f'<div class="tile{cls}"><span>{html.escape(label)}</span><b>{text}</b><span>{html.escape(hint)}</span></div>'


def _live_section(health: dict | None, pictures: dict[str, bytes]) -> str:
    """The champion on the bars after its training (model_health's latest record), or why there is none."""
    if health is None:
        return "<h2>Live: is it still working?</h2><p>model_health not materialized yet (it runs after signals).</p>"
    realized = pd.DataFrame(health.get("realized") or [])
    drift = health.get("drift") or {}
    lines = [
        f"<h2>Live: is it still working?</h2><div class='sub'>champion {html.escape(str(health['model_id']))}, trained until "
        f"{html.escape(str(health['trained_until']))}; {health['resolved_events']:,} events resolved since "
        f"(model_health's latest record).</div>",
        f"<p>{html.escape(health['decay_said'])}</p>",
        f"<p>{html.escape(health['calibration_said'])}</p>",
        f"<p>{html.escape(drift.get('said', 'drift: ' + '; '.join(health.get('notes', []))))}</p>",
    ]
    if len(realized) and realized["realized"].notna().any():
        lines.append(_table(realized))
    promotion = health.get("promotion")
    if promotion:
        lines.append(f"<p>challenger {html.escape(str(promotion.get('challenger')))}: {html.escape(str(promotion.get('reason')))}</p>")
    lines += [_image(n, d) for n, d in pictures.items()]
    return "".join(lines)


def tearsheet_html(
    partition: str,
    card: dict,
    grades: pd.DataFrame | None,
    model_pictures: dict[str, bytes],
    shap_pictures: dict[str, bytes],
    report: dict,
    strategy_pictures: dict[str, bytes],
    paths: pd.DataFrame,
    deciles: pd.DataFrame,
    notes: list[str],
    health: dict | None = None,
    health_pictures: dict[str, bytes] | None = None,
) -> str:
    """The page. `report` holds strategy_report.json's numbers; pictures are PNG bytes by name."""
    dsr, pbo = report.get("dsr"), report.get("pbo")
    drag = report.get("summary", {}).get("cost_drag")
    tiles = "".join(
        [
            _tile("Sharpe per period", report["sharpe"], f"{report['n_obs']:,} periods"),
            _tile("annualised Sharpe", report["annualized_sharpe"], f"{report['periods_per_year']:.0f} periods a year"),
            _tile("PSR (SR > 0)", report["psr"], "probability the Sharpe is above 0"),
            _tile(
                "DSR",
                dsr,
                f"deflated by {report['n_trials']} trials; below 0.95: indistinguishable from luck",
                None if dsr is None else dsr >= 0.95,
            ),
            _tile("PBO", pbo, "probability the chosen trial is overfit", None if pbo is None else pbo <= 0.5),
            _tile("max drawdown", report["max_drawdown"], f"{report['time_under_water']} periods under water at most"),
            _tile(
                "cost drag",
                drag,
                f"{report['cost_bps']:g} bp per side + {report['half_spread_bps']:g} bp half-spread",
                None if drag is None else drag <= 0.5,
            ),
            _tile("min track record", report.get("minimum_track_record_length"), "periods for PSR 0.95"),
        ]
    )
    card_rows = pd.DataFrame(
        [
            (k, card.get(k))
            for k in ("training_date", "n_samples", "n_features", "positive_rate", "n_estimators", "date_range", "calibration_method")
        ],
        columns=["model card", "value"],
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(partition)} tearsheet</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(partition)}</h1><div class='sub'>tb_assets tearsheet, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        "Every number is out of sample: trades use probabilities from models that never saw the event (combinatorial purged CV), "
        "entered at the next bar's open, after costs.</div>",
        "<h2>Does it make money, and is that a fluke?</h2>",
        f"<div class='numbers'>{tiles}</div>",
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
        "".join(_image(n, d) for n, d in strategy_pictures.items()),
        "<h3>CPCV paths</h3>" + _table(paths),
        "<h3>Net return by probability decile</h3>" + (_table(deciles) if len(deciles) else "<p>fewer than 10 trades</p>"),
        "<h2>The model</h2>" + _table(card_rows.astype(str)),
        ("<h3>Grades</h3>" + _table(grades)) if grades is not None and len(grades) else "",
        "".join(_image(n, d) for n, d in model_pictures.items()),
        "<h2>What drives it (SHAP)</h2>"
        + ("".join(_image(n, d) for n, d in shap_pictures.items()) or "<p>shap_report not materialized</p>"),
        _live_section(health, health_pictures or {}),
        "<h2>How to read this page</h2><p>The Sharpe ratio is per period. The PSR is the probability that the true Sharpe "
        "ratio is above 0 given the track record's length, skew and kurtosis. The DSR asks the same against the best "
        "Sharpe ratio that as many skill-less trials as were tried (tuning trials, selection candidates, registry models) "
        "would reach by chance: below 0.95 the result is not distinguishable from the best of N noise trials. PBO is the "
        "share of in-sample/out-of-sample splits of the trials' returns where the in-sample winner ranks at or below the "
        "median out of sample. Cost drag is the share of the gross return the costs took.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
