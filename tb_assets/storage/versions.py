"""Each materialization of a file-artifact asset is one version folder; readers open the version a
pointer names, and the pointer moves by one atomic replace once the version is complete and, where
blocking checks guard the asset, after every one of them passed.

    <asset>/<symbol>/<timeframe>/
        versions/<id>/                 every file of one materialization, its record (the card) last
        versions/<id>/checks/<name>.json   a blocking check's verdict on that version
        LATEST                         the id readers open (a small file, replaced whole)
        CANDIDATE                      the id awaiting its checks, and which ones (absent when none waits)

A writer killed at any moment leaves LATEST on a complete version: the new one is either named by
no pointer or by CANDIDATE only. A version whose check failed stays beside the latest for
inspection. A partition without LATEST is read in the flat layout of earlier releases (its files
directly in the folder). Plain files and renames only: local disks, filesystems without hard
links and fsspec URLs alike. No dagster import.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

from upath import UPath

from tb_assets.core.errors import TbError
from tb_assets.storage.atomic import replace_atomically
from tb_assets.storage.urls import as_path, is_local

VERSIONS = "versions"
LATEST = "LATEST"
CANDIDATE = "CANDIDATE"
VERDICTS = "checks"
KEEP_VERSIONS = 5  # earlier versions of a partition kept when a new one is published (storage.retention)
KEEP_FILE = "KEEP"  # in a version folder: never pruned (its text says who needs it)


def new_id() -> str:
    """Sortable by creation time (UTC, microseconds), unique across writers (a random tail)."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def version_folder(partition, version: str) -> UPath:
    return as_path(partition) / VERSIONS / version


def _pointer(partition, name: str) -> str | None:
    path = as_path(partition) / name
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def latest(partition) -> str | None:
    """The published version's id (None: nothing published in versions, the flat layout or nothing)."""
    return _pointer(partition, LATEST)


def published_folder(partition) -> UPath:
    """Where readers open a partition's files: the latest version, or the flat folder of earlier releases."""
    version = latest(partition)
    return as_path(partition) if version is None else version_folder(partition, version)


@dataclass(frozen=True)
class Candidate:
    version: str
    awaits: tuple[str, ...]  # the blocking checks that must pass before it is published
    run_id: str | None = None


def candidate(partition) -> Candidate | None:
    """The version waiting for its blocking checks, if one is (a pointer left equal to LATEST by a
    publisher killed between its two writes waits for nothing)."""
    text = _pointer(partition, CANDIDATE)
    if text is None:
        return None
    doc = json.loads(text)
    if doc["version"] == latest(partition):
        return None
    return Candidate(doc["version"], tuple(doc["awaits"]), doc.get("run_id"))


def under_review(partition) -> str | None:
    """The version a check judges: the candidate when one waits, else the latest."""
    pending = candidate(partition)
    return pending.version if pending is not None else latest(partition)


def propose(partition, version: str, awaits: list[str], run_id: str | None = None) -> None:
    """Name `version` (complete) as the candidate that `awaits` must pass before it is published."""
    if not awaits:
        raise ValueError("a candidate with no check to wait for is published at once: call publish")
    doc = {"version": version, "awaits": sorted(awaits), "run_id": run_id}
    replace_atomically(as_path(partition) / CANDIDATE, json.dumps(doc).encode())


def publish(partition, version: str) -> None:
    """Make `version` (complete, its checks passed) the one readers open: one atomic replace."""
    partition = as_path(partition)
    if not version_folder(partition, version).is_dir():
        raise TbError(f"{partition}: version {version} does not exist, so it cannot be published")
    replace_atomically(partition / LATEST, (version + "\n").encode())
    pending = _pointer(partition, CANDIDATE)
    if pending is not None and json.loads(pending)["version"] == version:
        (partition / CANDIDATE).unlink(missing_ok=True)
    prune_versions(partition)  # growth stays bounded without anyone running `tb prune`


def record_verdict(partition, version: str, check: str, passed: bool, description: str, run_id: str | None = None) -> None:
    doc = {"check": check, "passed": bool(passed), "description": description, "run_id": run_id, "at": datetime.now(UTC).isoformat()}
    replace_atomically(version_folder(partition, version) / VERDICTS / f"{check}.json", json.dumps(doc).encode())


def verdicts(partition, version: str) -> dict[str, dict]:
    folder = version_folder(partition, version) / VERDICTS
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in folder.iterdir() if p.name.endswith(".json")}


@dataclass(frozen=True)
class Decision:
    version: str
    published: bool  # this verdict made it the latest
    waiting_for: tuple[str, ...]  # checks yet to pass (empty when published or refused)
    refused_by: tuple[str, ...]  # checks that failed on it
    latest: str | None  # the version readers open after this verdict


def judge(partition, version: str, check: str, passed: bool, description: str, run_id: str | None = None) -> Decision:
    """Record one blocking check's verdict on the version it judged and publish that version when
    it was the candidate and every check it awaits has passed. Each check writes its verdict before
    reading the others', so of two checks finishing together at least the later one sees both."""
    record_verdict(partition, version, check, passed, description, run_id)
    pending = candidate(partition)
    if pending is None or pending.version != version:  # re-judging the latest (or a superseded version) moves nothing
        return Decision(version, False, (), () if passed else (check,), latest(partition))
    seen = verdicts(partition, version)
    refused = tuple(name for name in pending.awaits if name in seen and not seen[name]["passed"])
    waiting = tuple(name for name in pending.awaits if name not in seen)
    if refused or waiting:
        return Decision(version, False, () if refused else waiting, refused, latest(partition))
    publish(partition, version)
    return Decision(version, True, (), (), version)


def all_versions(partition) -> list[str]:
    """Every version folder's id, oldest first."""
    folder = as_path(partition) / VERSIONS
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def prunable(partition, keep: int = KEEP_VERSIONS) -> list[UPath]:
    """A partition's version folders beyond the newest `keep` others, oldest first; never the latest,
    the candidate or one holding a KEEP file."""
    partition = as_path(partition)
    pending = candidate(partition)
    spared = {latest(partition), None if pending is None else pending.version}
    others = [v for v in all_versions(partition) if v not in spared and not (version_folder(partition, v) / KEEP_FILE).exists()]
    return [version_folder(partition, v) for v in others[: max(0, len(others) - keep)]]


def remove(folder: UPath) -> None:
    if is_local(folder):
        shutil.rmtree(folder.path, ignore_errors=True)
    else:
        folder.fs.rm(folder.path, recursive=True)


def prune_versions(partition, keep: int = KEEP_VERSIONS) -> list[UPath]:
    """Remove the prunable versions of a partition (what publishing does; `tb prune` for every one)."""
    folders = prunable(partition, keep)
    for folder in folders:
        remove(folder)
    return folders
