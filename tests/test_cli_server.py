"""``fastmcp-scopes server MODULE:ATTRIBUTE``: a server's scope table, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastmcp_scopes.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def test_the_table_shows_own_scopes_and_what_a_call_needs_with_the_layers() -> None:
    done = cli("server", "examples.decorated_server:mcp", FASTMCP_SCOPES_CONNECT_SCOPES="mcp:connect")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["PRIMITIVE", "ALT", "OWN", "SCOPES", "A", "CALL", "NEEDS"]
    assert lines[3].split() == [
        "tools:get_schema",
        "1",
        "employees:read",
        "schema:read",
        "employees:read",
        "mcp:connect",
        "schema:read",
    ]
    assert lines[4].split() == ["2", "admin", "admin", "mcp:connect"]


def test_json_is_keyed_by_kind_and_name() -> None:
    done = cli("server", "examples.decorated_server:mcp", "--json")
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert table["tools:update_employee_mood"] == {
        "declared": True,
        "own": [["employees:write"]],
        "call": [["employees:write"]],
    }
    assert set(table) == {
        "tools:get_employees",
        "tools:update_employee_mood",
        "tools:get_schema",
        "prompts:check_in",
        "resources:employees://{employee_id}",
    }


def test_a_bad_target_exits_non_zero_with_the_reason_on_stderr() -> None:
    done = cli("server", "examples.no_such_module:mcp")
    assert done.returncode == 1
    assert "cannot load 'examples.no_such_module:mcp'" in done.stderr
    assert done.stdout == ""
