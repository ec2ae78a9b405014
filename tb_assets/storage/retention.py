"""What is kept of earlier artifact versions, bounded by a policy (`tb prune`; run history: runs.retention).

Every materialization keeps the previous version of each artifact file beside the latest as
`<stem>.<UTC time><suffix>` (storage.artifacts): about 1.45 MB more per chain re-run of one
partition, forever. `prune_artifacts` keeps the newest `keep` earlier versions of each file (the
latest is never touched). Models the registry names live in their own fingerprint folders and are
never versions: nothing the registry points at is pruned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

VERSION_STAMP = re.compile(r"^(?P<stem>.+)\.(?P<stamp>\d{8}T\d{12}Z)(?P<suffix>\.[^.]*)?$")  # storage.artifacts' names


@dataclass
class PruneReport:
    versions: list[Path] = field(default_factory=list)  # earlier artifact versions removed (or that would be)
    bytes: int = 0


def earlier_versions(root: Path, keep: int) -> list[Path]:
    """The earlier versions under `root` beyond the newest `keep` of each file, oldest first."""
    groups: dict[tuple[Path, str, str], list[tuple[str, Path]]] = {}
    for path in Path(root).rglob("*"):
        match = VERSION_STAMP.match(path.name)
        if not match or not path.is_file():
            continue
        latest = path.with_name(match["stem"] + (match["suffix"] or ""))
        if not latest.exists():  # a stamped name without its latest file beside it is not a kept version
            continue
        groups.setdefault((path.parent, match["stem"], match["suffix"] or ""), []).append((match["stamp"], path))
    out = []
    for versions in groups.values():
        versions.sort()
        out.extend(path for _, path in versions[: max(0, len(versions) - keep)])
    return sorted(out)


def prune_artifacts(root: Path, keep: int, *, dry_run: bool = False) -> PruneReport:
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    report = PruneReport()
    for path in earlier_versions(root, keep):
        report.bytes += path.stat().st_size
        report.versions.append(path)
        if not dry_run:
            path.unlink(missing_ok=True)
    return report
