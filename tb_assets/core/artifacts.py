"""File artifacts: written atomically, earlier versions kept beside the latest (DESIGN §3)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path


def artifact_dir(root: Path, asset: str, symbol: str, timeframe: str) -> Path:
    """TB_DATA_DIR/artifacts/<asset>/<symbol>/<timeframe>/ (symbol and timeframe are validated names)."""
    return Path(root) / asset / symbol / timeframe


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that a reader sees the old file or the new one, never half of one.

    The previous version stays beside it as `<stem>.<UTC time><suffix>` (hard link, no copy).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            previous = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
            if not previous.exists():
                os.link(path, previous)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path, obj) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str).encode())


def read_json(path: Path):
    return json.loads(Path(path).read_text())
