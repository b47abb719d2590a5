"""The shape of the code stays as issue 28 left it: no import cycle, short functions, a small core/ top level,
one straight walk through `colorize`, a colour path that imports no scoring, packages that import cleanly."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("core", "training", "dashboard", "bench", "docs", "tests")  # every folder of our modules
MAX_FUNCTION_LINES = 50
LIMITED = ("core", "training", "dashboard", "bench")  # where functions must stay short
MAX_CORE_MODULES = 12
# One scene's walk, in order; `_colorize` must call into each stage's modules once, in this order.
STAGES = {
    "core.rasters.scene": 0,  # read
    "core.rasters.normalise": 1,  # normalise
    "core.rasters.tiling": 2,  # tile
    "core.model.inference": 3,  # colour: the model ...
    "core.colour.sources": 3,  # ... or a guide's fitted colour over it
    "core.rasters.cog": 4,  # write
}
NOT_FOR_COLOUR = ("scipy.stats", "core.scoring", "core.service", "core.records.reports", "streamlit")


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every Python module of the project (tests by their import name)."""
    found = {}
    for folder in PROJECT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[0] == "tests":  # pytest imports test modules by their file name (rootdir conftest)
                parts = parts[1:]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that `path` imports anywhere (top level or inside functions)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(known(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else known(node.module))
    return found - {None}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), plus modules that import themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_search_finds_a_cycle() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert len(graph) > 100
    assert import_cycles(graph) == []


def test_no_function_is_longer_than_fifty_lines() -> None:
    """From its `def` line to its last line, decorators and nested functions counted in."""
    long = []
    for folder in LIMITED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_core_keeps_at_most_twelve_modules_at_its_top_level() -> None:
    top = sorted(path.name for path in (ROOT / "core").glob("*.py"))
    assert 0 < len(top) <= MAX_CORE_MODULES, top


def test_colorize_reads_normalises_tiles_colours_and_writes_once_each_in_order() -> None:
    """What a reader of `_colorize` sees: the stages' modules called in order, each of them once."""
    tree = ast.parse((ROOT / "core" / "colorize.py").read_text())
    imported_from = {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    pipeline = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "_colorize")
    calls = sorted((node for node in ast.walk(pipeline) if isinstance(node, ast.Call)), key=_position)
    called = [imported_from.get(_called_name(call)) for call in calls]
    walk = [module for module in called if module in STAGES]
    entered = [module for i, module in enumerate(walk) if i == 0 or walk[i - 1] != module]
    assert entered == sorted(entered, key=STAGES.__getitem__), entered
    assert sorted(entered) == sorted(STAGES), entered


def _position(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _called_name(call: ast.Call) -> str | None:
    """`f` of `f(...)` and `Thing` of `Thing.make(...)`."""
    target = call.func.value if isinstance(call.func, ast.Attribute) else call.func
    return target.id if isinstance(target, ast.Name) else None


def test_the_colour_path_imports_no_scoring_display_or_service() -> None:
    code = f"import sys, core.colorize; print([m for m in sys.modules if m.startswith({NOT_FOR_COLOUR!r})])"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["core", *sorted(p.parent.name for p in (ROOT / "core").glob("*/__init__.py"))])
def test_each_package_imports_without_a_deprecation_warning(package: str) -> None:
    name = package if package == "core" else f"core.{package}"
    modules = [m for m in _modules() if m == name or m.startswith(f"{name}.")]
    code = "; ".join(f"import {m}" for m in modules)
    run = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::PendingDeprecationWarning", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


@pytest.mark.skipif(shutil.which("duplicates") is None, reason="the `duplicates` command is not installed here")
def test_no_code_is_written_twice_outside_the_tests() -> None:
    """`duplicates` lists pairs of places sharing six or more lines; a pair with a side outside tests/ fails."""
    run = subprocess.run(["duplicates", "--most", "200", "--seconds", "120"], cwd=ROOT, capture_output=True, text=True)
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("D") and " ~ " in line]
    outside = [" ".join(row[:4]) for row in rows if not (row[1].startswith("tests/") and row[3].startswith("tests/"))]
    assert "incomplete" not in run.stdout
    assert outside == []


@pytest.mark.parametrize("study", sorted(p.stem for p in (ROOT / "training" / "studies").glob("[!_]*.py")))
def test_each_study_still_runs_from_its_place_apart_from_the_recipe(study: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", f"training.studies.{study}", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage:")
