"""File artifacts: written atomically, earlier versions kept beside the latest (DESIGN §3)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from upath import UPath

from tb_assets.core.storage import replace_atomically


def artifact_dir(root: Path, asset: str, symbol: str, timeframe: str) -> Path:
    """TB_DATA_DIR/artifacts/<asset>/<symbol>/<timeframe>/ (symbol and timeframe are validated names)."""
    return Path(root) / asset / symbol / timeframe


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that a reader sees the old file or the new one, never half of one.

    The previous version stays beside it as `<stem>.<UTC time><suffix>` (hard link, no copy).
    """
    path = Path(path)

    def keep_previous() -> None:
        if path.exists():
            stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            previous = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
            if not previous.exists():
                os.link(path, previous)

    replace_atomically(UPath(path), data, before_replace=keep_previous)
    return path


def write_json(path: Path, obj) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str).encode())


def read_json(path: Path):
    return json.loads(Path(path).read_text())
