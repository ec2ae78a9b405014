"""Which events become alerts, and what an alert says.

Policy: a failed check of severity ERROR alerts (leakage, look-ahead, validity, metric
regression); a failed WARN check alerts only when TB_ALERT_WARN is on (it always shows in the
UI); a failed run alerts unless a failed ERROR check of the same run already explains it; an asset
whose freshness policy turns to FAIL (signals: a stalled feed) alerts, one that turns to WARN only
with TB_ALERT_WARN.
An alert names the partition, asset, check, severity, the numbers behind it, the run and a link.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import dagster as dg

from tb_assets.automation.outbox import PENDING, now_iso

# metadata entries that carry the check's own sentence about what went wrong
_SENTENCE_KEYS = ("problems", "message", "finding")


def _plain(value) -> object:
    """A metadata value as JSON: numbers stay numbers, everything else is text."""
    raw = getattr(value, "value", value)
    if isinstance(raw, bool | int | str) or raw is None:
        return raw
    if isinstance(raw, float):
        return raw if math.isfinite(raw) else str(raw)
    return str(raw)


def numbers_of(metadata: dict) -> dict[str, object]:
    """The numbers (and short texts) of a check's metadata; tables, markdown and JSON are left to the UI."""
    out = {}
    for key, value in metadata.items():
        if isinstance(value, dg.MarkdownMetadataValue | dg.JsonMetadataValue | dg.TableMetadataValue):
            continue
        plain = _plain(value)
        if isinstance(plain, str) and len(plain) > 300:
            continue
        out[key] = plain
    return out


def _format_number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def explain(numbers: dict[str, object], description: str | None = None) -> str:
    """One line: the check's own sentence when it has one, then its numbers."""
    sentences = [str(numbers[k]) for k in _SENTENCE_KEYS if k in numbers and str(numbers[k]) not in ("", "none")]
    figures = [f"{k} {_format_number(v)}" for k, v in numbers.items() if k not in _SENTENCE_KEYS and isinstance(v, int | float)]
    parts = ([description] if description else []) + sentences + ([", ".join(figures)] if figures else [])
    return "; ".join(parts) or "no details recorded"


def should_alert(evaluation, *, warn: bool) -> bool:
    if evaluation.passed:
        return False
    return evaluation.severity == dg.AssetCheckSeverity.ERROR or warn


def check_alert(storage_id: int, evaluation, run_id: str, root_run_id: str, *, ui_url: str, channels: list[str]) -> dict:
    """The alert for one failed check evaluation."""
    asset = evaluation.asset_key.to_user_string()
    numbers = numbers_of(dict(evaluation.metadata))
    severity = evaluation.severity.value
    partition = evaluation.partition or "-"
    return _alert(
        id=f"check:{storage_id}",
        key=f"check|{root_run_id}|{partition}|{asset}|{evaluation.check_name}",
        kind="check",
        severity=severity,
        partition=partition,
        asset=asset,
        check=evaluation.check_name,
        summary=explain(numbers, evaluation.description),
        numbers=numbers,
        run_id=run_id,
        ui_url=ui_url,
        channels=channels,
    )


def run_failure_alert(storage_id: int, run, reason: str, *, ui_url: str, channels: list[str]) -> dict:
    """The alert for a failed run (any launcher: UI, backfill, automation, `tb run`)."""
    tags = run.tags
    return _alert(
        id=f"run:{storage_id}",
        key=f"run|{run.root_run_id or run.run_id}",
        kind="run_failure",
        severity="ERROR",
        partition=tags.get("dagster/partition", "-"),
        asset=reason.split(":", 1)[0] if ":" in reason else "-",
        check="-",
        summary=reason,
        numbers={},
        run_id=run.run_id,
        ui_url=ui_url,
        channels=channels,
        backfill=tags.get("dagster/backfill"),
    )


def freshness_alert(storage_id: int, change, *, ui_url: str, channels: list[str]) -> dict:
    """The alert for an asset whose freshness policy turned to failing (a stalled feed: no new signals)."""
    asset = change.key.to_user_string()
    state = change.new_state.value
    at = datetime.fromtimestamp(change.state_change_timestamp, UTC).isoformat(timespec="seconds")
    return _alert(
        id=f"freshness:{storage_id}",
        key=f"freshness|{asset}|{at}",
        kind="freshness",
        severity="ERROR" if state == "FAIL" else "WARN",
        partition="-",
        asset=asset,
        check="freshness",
        summary=f"{asset} is {'stale' if state == 'FAIL' else 'getting stale'} (freshness {state}, was "
        f"{change.previous_state.value}, since {at}): no new materialization within its freshness policy's window; is the feed stalled?",
        numbers={},
        run_id="-",
        ui_url=ui_url,
        channels=channels,
        url=f"{ui_url}/assets/{asset}",
    )


def _alert(*, run_id: str, ui_url: str, channels: list[str], backfill: str | None = None, url: str | None = None, **fields) -> dict:
    return {
        **fields,
        "created": now_iso(),
        "run_id": run_id,
        "backfill": backfill,
        "url": url or f"{ui_url}/runs/{run_id}",
        "deliveries": {c: {"state": PENDING, "attempts": 0, "error": None, "at": None} for c in channels},
    }


def headline(alert: dict) -> str:
    what = {"check": f"{alert['asset']} check {alert['check']} failed", "freshness": f"{alert['asset']} is stale"}.get(
        alert["kind"], "run failed"
    )
    return f"[tb {alert['severity']}] {alert['partition']} {what}"


def message(alert: dict) -> str:
    """The text a person reads (webhook text, e-mail body)."""
    return (
        f"{headline(alert)}\n"
        f"{alert['summary']}\n"
        f"partition {alert['partition']} · asset {alert['asset']} · check {alert['check']} · severity {alert['severity']}\n"
        + (f"run {alert['run_id']}: {alert['url']}" if alert["run_id"] != "-" else alert["url"])
    )
