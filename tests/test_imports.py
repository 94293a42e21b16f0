"""The package's layers, read from its imports: no cycle between packages, and only the
app and the CLI know the composition root.

A package is a folder (or a module) under `antechamber/`, except that the HTTP layer
(`http/` and every `router.py`) counts as one package above the domains, and the
migrations (`db/migrations/`) as one above the tables they migrate.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import antechamber

ROOT = Path(antechamber.__file__).parent
COMPOSITION_ROOT = "antechamber.container"
MAY_IMPORT_IT = {"antechamber.app", "antechamber.cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every `antechamber` module a file imports, wherever it does (lazy imports too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("antechamber"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "antechamber":
                yield from (f"antechamber.{a.name}" for a in node.names)
            elif node.module.startswith("antechamber."):
                yield node.module


def package_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return module
    if parts[1] == "http" or (len(parts) > 2 and parts[-1] == "router"):
        return "http"
    if parts[1:3] == ["db", "migrations"]:
        return "migrations"
    return parts[1]


def _graph() -> dict[str, dict[str, str]]:
    """package -> {imported package: one module that imports it, as evidence}."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        for imported in _imports(path):
            source, target = package_of(module), package_of(imported)
            if source != target:
                graph.setdefault(source, {}).setdefault(target, f"{module} -> {imported}")
    return graph


def _cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, {})):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_it_finds_a_cycle_when_there_is_one() -> None:
    graph = {"a": {"b": "a.x -> b.y"}, "b": {"c": "b -> c"}, "c": {"a": "c -> a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": ""}, "b": {}}) is None


def test_no_package_imports_another_that_imports_it_back() -> None:
    graph = _graph()
    assert "rooms" in graph  # the walk saw the package
    assert "http" in graph
    cycle = _cycle(graph)
    if cycle is not None:
        evidence = [graph[a][b] for a, b in itertools.pairwise(cycle)]
        raise AssertionError(f"package cycle {' -> '.join(cycle)}: {evidence}")


def test_only_the_app_and_the_cli_import_the_composition_root() -> None:
    importers = {
        _module_name(path)
        for path in ROOT.rglob("*.py")
        if any(
            i == COMPOSITION_ROOT or i.startswith(COMPOSITION_ROOT + ".") for i in _imports(path)
        )
    }
    assert importers, "nothing imports the composition root: the walk is broken"
    assert importers <= MAY_IMPORT_IT, importers - MAY_IMPORT_IT
