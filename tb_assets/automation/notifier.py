"""Delivering alerts: the outbox always, a Slack-compatible webhook and e-mail when configured."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
from pydantic import Field

from tb_assets.automation.alerts import headline, message
from tb_assets.automation.outbox import SENT, Outbox
from tb_assets.resources.secrets import from_environment, redact_url
from tb_assets.settings import Settings

WEBHOOK, EMAIL = "webhook", "email"
TIMEOUT_S = 10.0


class AlertNotifier(dg.ConfigurableResource):
    """Where alerts go. TB_DATA_DIR/alerts.jsonl always; TB_ALERT_WEBHOOK and TB_ALERT_SMTP when set."""

    outbox: str = Field(description="The alert outbox, one JSON object per alert (TB_DATA_DIR/alerts.jsonl)")
    webhook: str | None = Field(default=None, description='Slack-compatible webhook URL: POST {"text": ...} (TB_ALERT_WEBHOOK)')
    smtp_host: str | None = Field(default=None, description="Mail server host (TB_ALERT_SMTP host:port)")
    smtp_port: int = Field(default=25, description="Mail server port (TB_ALERT_SMTP host:port)")
    email_to: list[str] = Field(default_factory=list, description="Recipients (TB_ALERT_EMAIL_TO, comma list)")
    email_from: str = Field(default="tb-alerts@localhost", description="Sender (TB_ALERT_EMAIL_FROM)")
    starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS (TB_ALERT_SMTP_STARTTLS)")
    smtp_user: str | None = Field(default=None, description="SMTP login (TB_ALERT_SMTP_USER)")
    smtp_password: str | None = Field(default=None, description="SMTP password (TB_ALERT_SMTP_PASSWORD, read from the environment)")
    warn: bool = Field(default=False, description="Failed WARN checks alert too (TB_ALERT_WARN)")
    ui_url: str = Field(default="http://localhost:3000", description="The Dagster UI that alert links point at (TB_UI_URL)")

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertNotifier:
        a = settings.alerts
        return cls(
            outbox=str(settings.data_dir / "alerts.jsonl"),
            webhook=from_environment("TB_ALERT_WEBHOOK", a.webhook),
            smtp_host=a.smtp_host,
            smtp_port=a.smtp_port,
            email_to=list(a.email_to),
            email_from=a.email_from,
            starttls=a.smtp_starttls,
            # credentials as EnvVars: stored and shown as the variable's name, never the value
            smtp_user=from_environment("TB_ALERT_SMTP_USER", a.smtp_user),
            smtp_password=dg.EnvVar("TB_ALERT_SMTP_PASSWORD") if os.environ.get("TB_ALERT_SMTP_PASSWORD") else None,
            warn=a.warn,
            ui_url=a.ui_url,
        )

    def store(self) -> Outbox:
        return Outbox(Path(self.outbox))

    def channels(self) -> list[str]:
        return [c for c, on in ((WEBHOOK, self.webhook), (EMAIL, self.smtp_host)) if on]

    def send(self, channel: str, alert: dict) -> None:
        """Deliver one alert on one channel; raises DeliveryError saying what went wrong."""
        if channel == WEBHOOK:
            post_webhook(self.webhook, message(alert))
        elif channel == EMAIL:
            send_email(self, headline(alert), message(alert))
        else:
            raise DeliveryError(f"unknown channel {channel!r}")

    def deliver_pending(self, log=None) -> dict[str, int]:
        """Try every undelivered (alert, channel) once. A channel that fails is not tried again in this
        call (its server is down: one timeout per tick, not one per alert); later calls retry it."""
        outbox = self.store()
        counts = {"sent": 0, "failed": 0}
        broken: dict[str, str] = {}
        for alert in outbox.undelivered():
            for channel, state in alert["deliveries"].items():
                if state["state"] == SENT or channel in broken:
                    continue
                if channel not in self.channels():
                    error = f"{channel} is no longer configured (set it again to deliver)"
                else:
                    try:
                        self.send(channel, alert)
                        error = None
                    except DeliveryError as exc:
                        error = str(exc)
                outbox.record(alert["id"], channel, error)
                if error is None:
                    counts["sent"] += 1
                else:
                    counts["failed"] += 1
                    broken[channel] = error
                    if log is not None:
                        log.warning(f"alert {alert['id']} not delivered by {channel}: {error} (retried on the next tick)")
        return counts


class DeliveryError(RuntimeError):
    pass


def post_webhook(url: str, text: str) -> None:
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook {redact_url(url)} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"webhook {redact_url(url)} unreachable: {reason} (check TB_ALERT_WEBHOOK)") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook {redact_url(url)} answered HTTP {status}")


def send_email(notifier: AlertNotifier, subject: str, body: str) -> None:
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = notifier.email_from
    mail["To"] = ", ".join(notifier.email_to)
    mail.set_content(body)
    where = f"{notifier.smtp_host}:{notifier.smtp_port}"
    try:
        with smtplib.SMTP(notifier.smtp_host, notifier.smtp_port, timeout=TIMEOUT_S) as smtp:
            if notifier.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if notifier.smtp_user:
                smtp.login(notifier.smtp_user, notifier.smtp_password or "")
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP {where} refused the login (TB_ALERT_SMTP_USER, TB_ALERT_SMTP_PASSWORD): {exc.smtp_code}") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP {where}: {exc}") from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"SMTP server {where} unreachable: {exc} (check TB_ALERT_SMTP host:port)") from None
