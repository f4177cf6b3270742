"""Each lineage's example server, as ``fastmcp-scopes server MODULE:ATTR`` reads it: the same decorators give
the same table on every lineage (run in each lane; the example of a lineage the lane lacks is skipped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = [
    pytest.param("examples.sdk1_server:mcp", marks=pytest.mark.lineage("sdk1"), id="sdk1"),
    pytest.param("examples.decorated_server:mcp", marks=pytest.mark.lineage("sdk2"), id="sdk2"),
    pytest.param("examples.fastmcp_server:mcp", marks=pytest.mark.lineage("fastmcp3"), id="fastmcp3"),
    pytest.param("examples.fastmcp_server:mcp", marks=pytest.mark.lineage("fastmcp4"), id="fastmcp4"),
]

EXPECTED = {
    "tools:get_employees": [["employees:read"]],
    "tools:update_employee_mood": [["employees:write"]],
    "prompts:check_in": [["employees:read"]],
    "resources:employees://{employee_id}": [["employees:read"]],
}


@pytest.mark.parametrize("target", EXAMPLES)
def test_the_cli_prints_the_same_scope_table_for_every_lineage(target: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastmcp_scopes.cli", "server", target, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("FASTMCP_SCOPES_")},
    )
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert {key: table[key]["own"] for key in EXPECTED} == EXPECTED
    assert all(table[key]["declared"] for key in EXPECTED)
