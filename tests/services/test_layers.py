"""The rules between parts (ARCHITECTURE.md, "Rules between parts"), read from the source: every import statement,
at module level or inside a function, of every module of a part.

A module-level ``__getattr__`` (PEP 562) could hide an import from these checks: none is allowed (``COMPAT_SHIMS``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Modules whose ``__getattr__`` forwards old names to ``services`` (remove each once pages/ call services).
COMPAT_SHIMS: set[str] = set()  # none left: the pages call services


def _imports(path: Path, *, skip_shims: bool = True, module_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for each import in the file; ``from a import b`` also yields ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and (node.name == "__getattr__" and skip_shims or module_level_only):
            skipped |= {id(n) for n in ast.walk(node)}
        if module_level_only and isinstance(node, ast.ClassDef | ast.AsyncFunctionDef):
            skipped |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _breaking(files: list[Path], forbidden: tuple[str, ...], **kw: bool) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in files for line, name in _imports(p, **kw)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def _part(name: str, *, but: tuple[str, ...] = ()) -> list[Path]:
    files = sorted((ROOT / name).glob("*.py"))
    assert files, name
    return [p for p in files if p.name not in but]


def test_analysis_is_pure() -> None:
    """No store, no integrations, no services, no CLI, no files, no environment, no clock, no streamlit."""
    forbidden = ("store", "integrations", "services", "pages", "streamlit", "plotly", "probes.cli", "probes.config", "os", "pathlib",
                 "sqlite3", "socket", "subprocess", "time", "tomllib")
    assert _breaking(_part("analysis", but=("cli.py", "__main__.py")), forbidden) == []
    for p in _part("analysis", but=("cli.py", "__main__.py")):
        calls = [n for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)]
        assert not [c.lineno for c in calls if isinstance(c.func, ast.Name) and c.func.id == "open"], p
        assert not [c.lineno for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr in ("now", "utcnow", "today")], p


def test_integrations_take_plain_data() -> None:
    assert _breaking(_part("integrations"), ("store", "analysis", "services", "pages", "streamlit")) == []


def test_services_never_draw() -> None:
    assert _breaking(_part("services"), ("streamlit", "pages", "plotly")) == []


def test_the_store_knows_no_one_above_it() -> None:
    assert _breaking(_part("store"), ("analysis", "services", "integrations", "pages", "streamlit")) == []


def test_the_probe_imports_nothing_heavy_and_reaches_services_only_lazily_from_its_cli() -> None:
    heavy = ("analysis", "pandas", "streamlit", "plotly", "pages", "integrations")
    assert _breaking(_part("probes"), heavy) == []
    assert _breaking(_part("probes"), ("services",), module_level_only=True) == []


def test_the_clis_reach_outside_only_through_services() -> None:
    clis = [ROOT / "analysis" / "cli.py", ROOT / "probes" / "cli.py", ROOT / "sandbox" / "__main__.py"]
    assert _breaking(clis, ("integrations", "streamlit", "pages")) == []


def test_no_compatibility_shims_are_left() -> None:
    shims = {str(p.relative_to(ROOT)) for part in ("analysis", "integrations", "services", "store", "probes") for p in _part(part)
             if any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in ast.parse(p.read_text(encoding="utf-8")).body)}
    assert shims == COMPAT_SHIMS


def test_no_one_outside_probes_uses_the_probes_private_parser() -> None:
    files = [p for part in ("analysis", "services", "integrations", "sandbox", "store") for p in _part(part)]
    assert _breaking(files, ("probes.cli._Parser",)) == []
