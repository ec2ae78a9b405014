"""File artifacts' folders and whole-file writes, in a local folder or under any fsspec URL
(TB_ARTIFACTS_URL). The stages' records write version folders (storage.versions); `write_atomic`
keeps the previous file beside the latest for the files that live outside versions (the training
service's models, addressed by fingerprint)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

from upath import UPath

from tb_assets.storage.atomic import replace_atomically
from tb_assets.storage.urls import as_path, is_local


def artifact_dir(root, asset: str, symbol: str, timeframe: str) -> UPath:
    """<artifacts root>/<asset>/<symbol>/<timeframe>/ (symbol and timeframe are validated names)."""
    return as_path(root) / asset / symbol / timeframe


def write_atomic(path, data: bytes) -> UPath:
    """Write `data` to `path` so that a reader sees the old file or the new one, never half of one.

    The previous version stays beside it as `<stem>.<UTC time><suffix>` (a hard link locally, a
    copy where the filesystem has no hard links and on an object store).
    """
    path = as_path(path)

    def keep_previous() -> None:
        if not path.exists():
            return
        stamp = datetime.fromtimestamp(_modified(path), UTC).strftime("%Y%m%dT%H%M%S%fZ")
        previous = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
        if previous.exists():
            return
        if is_local(path):
            try:
                os.link(path.path, previous.path)
            except OSError:  # a filesystem without hard links (several network and object filesystems): a copy
                shutil.copy2(path.path, previous.path)
        else:
            path.fs.copy(path.path, previous.path)

    return replace_atomically(path, data, before_replace=keep_previous)


def _modified(path: UPath) -> float:
    """Modification time in seconds (fsspec backends name it differently)."""
    if is_local(path):
        return os.stat(path.path).st_mtime
    modified = path.fs.modified(path.path)
    return modified.timestamp()


def read_json(path):
    return json.loads(as_path(path).read_text())
