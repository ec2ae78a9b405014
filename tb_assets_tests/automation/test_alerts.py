"""The alert sensor against a real instance, a real webhook receiver and a real SMTP server."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import dagster as dg
import pytest

from tb_assets.automation.alert_sensor import ALERT_SENSOR
from tb_assets.automation.notifier import AlertNotifier
from tb_assets.automation.outbox import Outbox
from tb_assets.definitions import build_definitions
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import run, run_checks, tamper
from tb_assets_tests.servers import SmtpServer, WebhookServer, free_port

KEY = "SYN1|1d"


@pytest.fixture
def broken_bars(tmp_path):
    """A persistent test instance holding one failed blocking ERROR check (bars_valid_ohlcv on SYN1|1d)."""
    settings = make_settings(
        tmp_path / "data", source="synthetic", symbols=("SYN1",), timeframes=("1d",), context_symbols=(), synthetic_bars=300
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        assert run(defs, KEY, selection=[dg.AssetKey("bars")], instance=instance).success
        tamper(settings, "UPDATE bars SET high = low * 0.5 WHERE ts = (SELECT max(ts) FROM bars)")
        checked = run_checks(defs, KEY, "bars_valid_ohlcv", asset="bars", instance=instance)
        assert not checked.success  # blocking: the failed check fails the run
        yield settings, defs, instance


def tick(defs, instance, notifier: AlertNotifier, cursor: str | None):
    sensor = defs.resolve_sensor_def(ALERT_SENSOR)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"notifier": notifier})
    result = sensor.evaluate_tick(context)
    return result.cursor


def notifier_for(settings, **channels) -> AlertNotifier:
    return AlertNotifier(outbox=str(settings.data_dir / "alerts.jsonl"), **channels)


def test_failed_blocking_check_alerts_once_by_webhook_and_email(broken_bars):
    settings, defs, instance = broken_bars
    with WebhookServer() as hook, SmtpServer() as smtp:
        notifier = notifier_for(
            settings,
            webhook=hook.url,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            email_to=["quant@example.com"],
            ui_url="http://ui.example:3000",
        )
        cursor = tick(defs, instance, notifier, None)
        assert len(hook.bodies) == 1 and len(smtp.messages) == 1
        text = hook.bodies[0]["text"]
        # names the partition, asset, check, severity, the numbers, the run and links to it
        assert "[tb ERROR] SYN1|1d bars check bars_valid_ohlcv failed" in text
        assert "1 bar(s) with open/close outside [low, high], first at " in text and "rows 300" in text
        alert = Outbox(settings.data_dir / "alerts.jsonl").read()[0]
        assert alert["run_id"] in text and f"http://ui.example:3000/runs/{alert['run_id']}" in text
        assert alert["deliveries"] == {
            "webhook": {"state": "sent", "attempts": 1, "error": None, "at": alert["deliveries"]["webhook"]["at"]},
            "email": {"state": "sent", "attempts": 1, "error": None, "at": alert["deliveries"]["email"]["at"]},
        }
        mail = smtp.messages[0]
        assert mail["To"] == "quant@example.com" and "SYN1|1d" in mail["Subject"] and "bars_valid_ohlcv" in mail.get_payload()
        # the run failed because of that check: no second alert for the run failure
        assert len(Outbox(settings.data_dir / "alerts.jsonl").read()) == 1

        # the next tick, and a sensor whose cursor was lost, send nothing again
        tick(defs, instance, notifier, cursor)
        tick(defs, instance, notifier, None)
        assert len(hook.bodies) == 1 and len(smtp.messages) == 1


def test_failed_delivery_is_recorded_and_retried_never_lost_never_doubled(broken_bars):
    settings, defs, instance = broken_bars
    with WebhookServer() as hook, SmtpServer() as smtp:
        hook.status = 500
        dead_port = free_port()  # nothing listens there: the wrong-port mistake
        notifier = notifier_for(settings, webhook=hook.url, smtp_host="127.0.0.1", smtp_port=dead_port, email_to=["quant@example.com"])
        cursor = tick(defs, instance, notifier, None)
        [alert] = Outbox(settings.data_dir / "alerts.jsonl").read()
        assert alert["deliveries"]["webhook"]["state"] == "failed"
        assert "HTTP 500" in alert["deliveries"]["webhook"]["error"]
        # a webhook's path is its token: the stored error names the server only
        assert f"webhook http://127.0.0.1:{urlsplit(hook.url).port}/… answered" in alert["deliveries"]["webhook"]["error"]
        assert urlsplit(hook.url).path not in alert["deliveries"]["webhook"]["error"]
        assert alert["deliveries"]["email"]["state"] == "failed"
        assert f"127.0.0.1:{dead_port} unreachable" in alert["deliveries"]["email"]["error"]

        # fixed: the next tick delivers the same alert once on each channel
        hook.status = 200
        fixed = notifier_for(settings, webhook=hook.url, smtp_host="127.0.0.1", smtp_port=smtp.port, email_to=["quant@example.com"])
        cursor = tick(defs, instance, fixed, cursor)
        tick(defs, instance, fixed, cursor)
        assert len(hook.bodies) == 1 and len(smtp.messages) == 1
        [alert] = Outbox(settings.data_dir / "alerts.jsonl").read()
        assert {c: (d["state"], d["attempts"]) for c, d in alert["deliveries"].items()} == {"webhook": ("sent", 2), "email": ("sent", 2)}


def test_warn_checks_alert_only_when_asked(tmp_path):
    settings = make_settings(
        tmp_path / "data", source="synthetic", symbols=("SYN1",), timeframes=("1d",), context_symbols=(), synthetic_bars=600
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        assert run(defs, KEY, selection=[dg.AssetKey("bars"), dg.AssetKey("features"), dg.AssetKey("targets")], instance=instance).success
        # a positive share outside an impossible band: the WARN check targets_positive_rate fails
        strict = {"ops": {"targets_targets_positive_rate": {"config": {"low": 0.99, "high": 1.0}}}}
        checked = run_checks(defs, KEY, "targets_positive_rate", asset="targets", run_config=strict, instance=instance)
        assert checked.success and not checked.get_asset_check_evaluations()[0].passed
        quiet = notifier_for(settings)
        cursor = tick(defs, instance, quiet, None)
        assert Outbox(settings.data_dir / "alerts.jsonl").read() == []
        loud = notifier_for(settings, warn=True)
        tick(defs, instance, loud, None)
        [alert] = Outbox(settings.data_dir / "alerts.jsonl").read()
        assert alert["severity"] == "WARN" and alert["check"] == "targets_positive_rate" and alert["deliveries"] == {}
        assert cursor is not None


def test_failed_run_alerts_with_the_users_error(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "BAD.csv").write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,oops\n")
    settings = make_settings(tmp_path / "data", source="csv", raw_dir=str(raw), symbols=("BAD",), timeframes=("1d",), context_symbols=())
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance, WebhookServer() as hook:
        assert not run(defs, "BAD|1d", selection=[dg.AssetKey("bars")], instance=instance).success
        tick(defs, instance, notifier_for(settings, webhook=hook.url), None)
        [body] = hook.bodies
        assert "[tb ERROR] BAD|1d run failed" in body["text"] and "bars:" in body["text"] and "close" in body["text"]


def test_outbox_names_a_corrupt_line(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_text(json.dumps({"id": "a", "key": "a", "deliveries": {}}) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"alerts.jsonl, line 2"):
        Outbox(path).read()


def freshness_change(instance, new: str, previous: str = "PASS") -> None:
    """What the daemon's freshness evaluation reports when an asset's state changes (dagster/_daemon/freshness.py)."""
    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

    instance._report_runless_asset_event(  # the daemon's own call
        FreshnessStateChange(
            key=dg.AssetKey("signals"),
            new_state=FreshnessState(new),
            previous_state=FreshnessState(previous),
            state_change_timestamp=time.time(),
        )
    )


def test_a_stale_feed_alerts_once_when_signals_turn_failing(tmp_path):
    settings = make_settings(tmp_path / "data", symbols=("SPX",), timeframes=("1d",))
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance, WebhookServer() as hook:
        notifier = notifier_for(settings, webhook=hook.url)
        freshness_change(instance, "WARN")  # a warning alerts only with TB_ALERT_WARN
        cursor = tick(defs, instance, notifier, None)
        assert hook.bodies == []
        freshness_change(instance, "FAIL", "WARN")
        cursor = tick(defs, instance, notifier, cursor)
        [body] = hook.bodies
        assert body["text"].startswith("[tb ERROR] - signals is stale") and "is the feed stalled?" in body["text"]
        assert "/assets/signals" in body["text"]
        tick(defs, instance, notifier, cursor)
        assert len(hook.bodies) == 1  # read once
