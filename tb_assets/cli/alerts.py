"""`tb alerts`: recent alerts and their delivery state."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    alerts = sub.add_parser(
        "alerts",
        help="list recent alerts and their delivery state",
        description=(
            "Print the most recent alerts from TB_DATA_DIR/alerts.jsonl (written by the daemon's tb_alerts sensor): "
            "when, severity, partition, asset, check, what the numbers were, and each channel's delivery state."
        ),
    )
    alerts.add_argument("-n", "--limit", type=int, default=20, help="how many of the latest alerts (default 20)")
    alerts.add_argument("--json", action="store_true", help="print the alerts as JSON lines instead of a table")
    alerts.add_argument("--undelivered", action="store_true", help="only alerts with a channel not yet delivered")
    alerts.set_defaults(func=cmd_alerts)


def cmd_alerts(args) -> int:
    import json

    from tb_assets.automation.outbox import SENT, Outbox
    from tb_assets.settings import apply_default_environment

    data_dir = apply_default_environment()
    outbox = Outbox(data_dir / "alerts.jsonl")
    try:
        alerts = outbox.read()
    except ValueError as exc:
        print(f"tb alerts: {exc}", file=sys.stderr)
        return 2
    if args.undelivered:
        alerts = [a for a in alerts if any(d["state"] != SENT for d in a["deliveries"].values())]
    alerts = alerts[-args.limit :] if args.limit > 0 else alerts
    if args.json:
        for alert in alerts:
            print(json.dumps(alert, sort_keys=True))
        return 0
    if not alerts:
        print(f"no alerts in {outbox.path}")
        return 0
    for alert in reversed(alerts):  # newest first
        deliveries = (
            ", ".join(
                f"{c} {d['state']}" + (f" ({d['attempts']} tries: {d['error']})" if d["state"] != SENT and d["error"] else "")
                for c, d in alert["deliveries"].items()
            )
            or "outbox only"
        )
        print(f"{alert['created']}  {alert['severity']:<5}  {alert['partition']}  {alert['asset']}  {alert['check']}")
        print(f"    {alert['summary']}")
        print(f"    run {alert['run_id']}  {alert['url']}")
        print(f"    delivery: {deliveries}")
    return 0
