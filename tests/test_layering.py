"""The core imports no server framework; adapters depend on the core, never the other way round."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import fastmcp_scopes

FRAMEWORKS = ("mcp", "mcp_types", "starlette", "fastmcp", "uvicorn")
CORE = [
    "fastmcp_scopes",
    "fastmcp_scopes.requirements",
    "fastmcp_scopes.hierarchy",
    "fastmcp_scopes.challenge",
    "fastmcp_scopes.policy",
    "fastmcp_scopes.settings",
    "fastmcp_scopes.graphql",
]


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_framework(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r}))\n"
        "print(','.join(loaded))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""


PACKAGE = Path(fastmcp_scopes.__file__).parent
MODULES = {
    ".".join(("fastmcp_scopes", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): path
    for path in PACKAGE.rglob("*.py")
}


def _runtime_imports(path: Path) -> set[str]:
    """The ``fastmcp_scopes`` modules a module imports when it runs (not under ``TYPE_CHECKING``), at any depth
    of its code: an import inside a function is still a dependency."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fastmcp_scopes"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules or {node.module})  # ``from package import module`` needs the module
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fastmcp_scopes"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


CORE_MODULES = sorted(
    name for name in MODULES if not name.startswith(("fastmcp_scopes.adapters", "fastmcp_scopes.testing"))
)


def _graph() -> dict[str, set[str]]:
    return {name: {m for m in _runtime_imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_the_core_imports_no_adapter() -> None:
    graph = _graph()
    for name in CORE_MODULES:
        assert not {m for m in graph[name] if m.startswith("fastmcp_scopes.adapters")}, name


def test_no_import_circle_among_the_core_modules() -> None:
    graph = {name: graph_edges & set(CORE_MODULES) for name, graph_edges in _graph().items() if name in CORE_MODULES}
    # A package imports its own submodules to re-export them; only circles through other modules count.
    graph = {name: {m for m in edges if not m.startswith(name + ".")} for name, edges in graph.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path[path.index(name) :], name))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
