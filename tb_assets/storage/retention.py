"""What is kept of earlier artifact versions, bounded by a policy (`tb prune`; run history: runs.retention).

Every materialization of a file artifact is a version folder (storage.versions). Publishing a
version prunes its partition to the newest KEEP_VERSIONS earlier ones at once; `tb prune --keep N`
applies the same rule to every partition (and to the per-file versions `<stem>.<UTC time><suffix>`
that releases before version folders kept). Never pruned: the latest version, a candidate waiting
for its checks, a version holding a KEEP file (whatever names it: a champion, a person), and the
models the registry names (their own fingerprint folders, never versions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tb_assets.storage import versions

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
    for stamped in groups.values():
        stamped.sort()
        out.extend(path for _, path in stamped[: max(0, len(stamped) - keep)])
    return sorted(out)


def prune_artifacts(root: Path, keep: int, *, dry_run: bool = False) -> PruneReport:
    """Every partition's version folders, and the earlier releases' per-file versions, pruned to `keep`."""
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    report = PruneReport()
    for folder in sorted(Path(root).glob("*/*/*/versions")):
        for version in versions.prunable(folder.parent, keep):
            path = Path(version.path)
            report.versions.append(path)
            report.bytes += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            if not dry_run:
                versions.remove(version)
    for path in earlier_versions(root, keep):
        report.bytes += path.stat().st_size
        report.versions.append(path)
        if not dry_run:
            path.unlink(missing_ok=True)
    return report
