"""The store package's shape, read from its source: no import cycle, every DDL statement in ``schema``,
and nobody outside the Store class calling its private ``_read``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "store"
DDL = re.compile(r"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|UNIQUE\s+INDEX|VIEW|TRIGGER)\b", re.IGNORECASE)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere (top level, functions, TYPE_CHECKING blocks)."""
    name = package.name
    modules = {p.stem for p in package.glob("*.py")}

    def target(dotted: str) -> str | None:
        parts = dotted.split(".")
        if parts[0] != name:
            return None
        return parts[1] if len(parts) > 1 and parts[1] in modules else "__init__"

    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges |= {t for a in node.names if (t := target(a.name))}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = target(node.module)
                if base == "__init__" and node.module == name:
                    # ``from store import rollup`` names a submodule; ``from store import resolve_db_path`` the package.
                    edges |= {a.name if a.name in modules else "__init__" for a in node.names}
                elif base:
                    edges.add(base)
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path.name}: relative import; name the package so this check sees it")
        edges.discard(path.stem)
        graph[path.stem] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_finds_the_old_store_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "store"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "sqlite.py").write_text("from store.schema import migrate\n")
    (pkg / "schema.py").write_text("from store import rollup\n")
    (pkg / "rollup.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from store.sqlite import Store\n")
    assert find_cycle(import_graph(pkg)) == ["rollup", "sqlite", "schema", "rollup"]
    (pkg / "rollup.py").write_text("def f():\n    import store.sqlite\n")  # a lazy import counts too
    assert find_cycle(import_graph(pkg)) == ["rollup", "sqlite", "schema", "rollup"]
    (pkg / "rollup.py").write_text("import json\n")
    assert find_cycle(import_graph(pkg)) is None


def test_store_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(STORE)
    assert find_cycle(graph) is None, find_cycle(graph)
    # The row shape is a leaf: every module that needs it can import it.
    assert graph["rows"] == set() and graph["errors"] == set()
    assert "sqlite" not in graph["schema"] and "rollup" not in graph["schema"] | graph["sqlite"]


def test_every_ddl_statement_lives_in_schema() -> None:
    found = []
    for path in sorted(STORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and DDL.search(node.value):
                found.append(path.name)
    assert found and set(found) == {"schema.py"}, found


def _private_read_calls(path: Path) -> list[str]:
    """Where ``<x>._read(...)`` is called outside ``class Store`` (as ``file:line``)."""
    tree = ast.parse(path.read_text(), str(path))
    inside = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and c.name == "Store" for n in ast.walk(c)}
    return [f"{path.name}:{n.lineno}" for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "_read" and id(n) not in inside]


def test_only_the_store_class_calls_its_private_read(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f(s):\n    return s._read('SELECT 1')\n")
    assert _private_read_calls(probe) == ["probe.py:2"]  # the check sees a call from outside
    calls = [c for p in [*sorted(STORE.glob("*.py")), ROOT / "bench" / "store_bench.py"] for c in _private_read_calls(p)]
    assert calls == []
