"""Where tables and files go: a local folder or any fsspec URL (file://, s3://, gs://, memory://).

Plain Python and fsspec (no Dagster): core and the storage layer both use these paths."""

from __future__ import annotations

import os
import uuid

from upath import UPath

from tb_assets.core.errors import ConfigError

LOCAL_PROTOCOLS = ("", "file", "local")


def storage_root(url: str) -> UPath:
    """A folder or fsspec URL as a path (a plain folder is expanded and made absolute)."""
    if "://" not in url:
        return UPath(os.path.abspath(os.path.expanduser(url)))
    return UPath(url)


def as_path(path) -> UPath:
    """A str, Path or UPath as a UPath (a str may be an fsspec URL)."""
    return path if isinstance(path, UPath) else storage_root(str(path))


def is_local(path: UPath) -> bool:
    return path.protocol in LOCAL_PROTOCOLS


def check_writable(root: UPath, setting: str) -> UPath:
    """The root made if missing and a probe file written and removed there; a ConfigError naming
    `setting` when that fails (read-only mount, missing bucket, no credentials)."""
    probe = root / f".tb-write-probe-{uuid.uuid4().hex}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except Exception as exc:  # fsspec backends raise their own types (PermissionError, ClientError, ...)
        reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{setting}={describe(root)!r} is not writable: {reason}") from None
    return root


def describe(path: UPath) -> str:
    """The path as a user wrote it, without credentials an fsspec URL may carry."""
    text = str(path)
    if "://" in text and "@" in text.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = text.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return text
