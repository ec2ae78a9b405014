"""Finding a symbol's files in a folder whatever the case of their names."""

from __future__ import annotations

from pathlib import Path

from tb_assets.core.errors import SourceError


def raw_root(raw_dir: str) -> Path:
    root = Path(raw_dir).expanduser()
    if not root.is_dir():
        raise SourceError(f"TB_RAW_DIR {str(root)!r} is not a folder")
    return root


def match_entry(root: Path, wanted: str, *, what: str, available: list[str]) -> Path:
    """The entry of `root` whose name equals `wanted` ignoring case; SourceError if none."""
    exact = root / wanted
    if exact.exists():
        return exact
    for entry in root.iterdir():
        if entry.name.lower() == wanted.lower():
            return entry
    shown = ", ".join(sorted(available)[:20]) or "nothing"
    raise SourceError(f"no {what} {wanted!r} in {root} (found: {shown})")


def inside_root(root: Path, path: Path, *, allow_links: bool) -> Path:
    """`path` itself, unless a symlink takes it out of TB_RAW_DIR: a link in the input folder must
    not make the project read (and store) files from anywhere on the machine unless asked."""
    if path.exists() and not path.is_file() and not path.is_dir():  # a named pipe would block the read forever
        raise SourceError(f"{path} is not a regular file (a named pipe, device or socket): refused before reading")
    if allow_links:
        return path
    target = path.resolve()
    if not target.is_relative_to(root.resolve()):
        raise SourceError(
            f"{path} is a link to {target}, outside TB_RAW_DIR {str(root)!r}: refused; "
            "set TB_RAW_ALLOW_LINKS=1 to follow links out of the input folder"
        )
    return path
