"""The core imports no server framework; adapters depend on the core, never the other way round."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
