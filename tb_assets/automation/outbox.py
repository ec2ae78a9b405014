"""TB_DATA_DIR/alerts.jsonl: every alert, one JSON object per line, with its delivery state.

The outbox is what makes delivery exactly-once across ticks and daemon restarts: an alert is
written here before any channel is tried, each channel's state (pending, sent, failed with the
error and attempt count) is rewritten atomically after each try, and an alert whose id or key is
already here is never added again. A process may crash between sending and recording (then the
next tick resends that one alert); nothing else can repeat or vanish.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from tb_assets.core.errors import ConfigError

PENDING, SENT, FAILED = "pending", "sent", "failed"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Outbox:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=60)

    def read(self) -> list[dict]:
        """Every alert, oldest first."""
        if not self.path.exists():
            return []
        alerts = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                alerts.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{self.path}, line {number}: not a JSON alert ({exc.msg}); fix or move the line") from None
        return alerts

    @contextmanager
    def _editing(self) -> Iterator[list[dict]]:
        """The alerts under the lock; whatever the block leaves in the list is written back atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            alerts = self.read()
            yield alerts
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(json.dumps(a, sort_keys=True) + "\n" for a in alerts), encoding="utf-8")
            os.replace(tmp, self.path)

    def add(self, new: list[dict]) -> list[dict]:
        """Add alerts not already here (by id, or by key: one finding alerts once); returns those added."""
        with self._editing() as alerts:
            seen = {a["id"] for a in alerts} | {a["key"] for a in alerts}
            added = []
            for alert in new:
                if alert["id"] in seen or alert["key"] in seen:
                    continue
                seen.update((alert["id"], alert["key"]))
                alerts.append(alert)
                added.append(alert)
        return added

    def undelivered(self) -> list[dict]:
        return [a for a in self.read() if any(d["state"] != SENT for d in a["deliveries"].values())]

    def record(self, alert_id: str, channel: str, error: str | None) -> None:
        """The outcome of one delivery try: sent when `error` is None, else failed with the error."""
        with self._editing() as alerts:
            for alert in alerts:
                if alert["id"] == alert_id:
                    state = alert["deliveries"][channel]
                    state["attempts"] = state.get("attempts", 0) + 1
                    state["state"] = SENT if error is None else FAILED
                    state["error"] = error
                    state["at"] = now_iso()
                    return
