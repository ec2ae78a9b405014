"""The house rules a reader relies on to find things (docs/development.md, DESIGN §2): the package
root holds only the definitions and the settings, no module imports another in a cycle, nothing
under core/ or training/ imports Dagster, and Dagster's private modules are imported in one file."""

from __future__ import annotations

import ast
from pathlib import Path

import tb_assets

PACKAGE = Path(tb_assets.__file__).parent
INTERNALS = PACKAGE / "runs" / "dagster_internals.py"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, at any depth (lazy imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def test_the_package_root_holds_only_the_definitions_the_settings_and_folders():
    files = sorted(p.name for p in PACKAGE.iterdir() if p.is_file() and p.suffix == ".py")
    assert files == ["__init__.py", "definitions.py", "settings.py"], files


def test_no_module_imports_another_in_a_cycle():
    known = modules()
    graph = {name: set() for name in known}
    for name, path in known.items():
        for module, names in imports(path):
            targets = [module, *(f"{module}.{n}" for n in names)]
            graph[name] |= {t for t in targets if t in known and t != name and not name.startswith(t + ".")}
    # depth-first search for a back edge
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, cycles[:5]


def test_statistics_import_no_dagster_and_private_dagster_lives_in_one_file():
    for name, path in modules().items():
        used = {module for module, _ in imports(path)}
        if name.startswith(("tb_assets.core", "tb_assets.training")):
            assert not any(m == "dagster" or m.startswith("dagster.") or m.startswith("dagster_") for m in used), name
        if path != INTERNALS:
            private = sorted(m for m in used if m.startswith("dagster._"))
            assert not private, f"{name} imports {private}: import them from tb_assets.runs.dagster_internals"
