"""``fastmcp-scopes server MODULE:ATTRIBUTE``: a server's scope table, as a user runs it, on every lineage."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.command_line import run_cli

cli = functools.partial(run_cli, module="fastmcp_scopes.cli")


# How each lineage spells a server, and how its users start one over HTTP.
SERVERS = {
    "sdk1": ("from mcp.server.fastmcp import FastMCP\nmcp = FastMCP('t')", 'mcp.run("streamable-http")'),
    "sdk2": ("from mcp.server.mcpserver import MCPServer\nmcp = MCPServer('t')", 'mcp.run("streamable-http")'),
    "fastmcp3": ("from fastmcp import FastMCP\nmcp = FastMCP('t')", 'mcp.run(transport="http", port=1)'),
    "fastmcp4": ("from fastmcp import FastMCP\nmcp = FastMCP('t')", 'mcp.run(transport="http", port=1)'),
}
LINEAGES = [pytest.param(name, marks=pytest.mark.lineage(name), id=name) for name in SERVERS]

PRIMITIVES = """
from fastmcp_scopes import requires_scopes

@mcp.tool()
@requires_scopes(any_of=[["files:read"], ["mcp:tools:call"], ["admin", "audit"]])
def read_file(path: str) -> str:
    return path

@mcp.tool()
def undeclared() -> str:
    return ""
"""


def server_file(tmp_path: Path, lineage: str, tail: str = "") -> Path:
    header, _run = SERVERS[lineage]
    path = tmp_path / "app.py"
    path.write_text(header + "\n" + PRIMITIVES + "\n" + tail + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("lineage", LINEAGES)
def test_each_row_pairs_an_own_alternative_with_what_a_call_through_it_needs(tmp_path: Path, lineage: str) -> None:
    server_file(tmp_path, lineage)
    # With the call layer mcp:tools:call, the minimal requirement of a call to read_file is
    # [mcp:tools:call] alone (the other alternatives are absorbed): pairing by position was wrong.
    done = cli("server", "app:mcp", cwd=tmp_path, FASTMCP_SCOPES_CALL_SCOPES='{"tools": ["mcp:tools:call"]}')

    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows == [
        ["PRIMITIVE", "ALT", "OWN", "SCOPES", "A", "CALL", "NEEDS"],
        ["tools:read_file", "1", "files:read", "files:read", "mcp:tools:call"],
        ["2", "mcp:tools:call", "mcp:tools:call"],
        ["3", "admin", "audit", "admin", "audit", "mcp:tools:call"],
        ["tools:undeclared", "1", "(undeclared)", "mcp:tools:call"],
    ]


@pytest.mark.parametrize("lineage", LINEAGES)
def test_json_keeps_the_minimal_call_requirement(tmp_path: Path, lineage: str) -> None:
    server_file(tmp_path, lineage)
    done = cli("server", "app.py:mcp", "--json", cwd=tmp_path, FASTMCP_SCOPES_CALL_SCOPES='{"tools": ["c"]}')

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "tools:read_file": {
            "declared": True,
            "own": [["files:read"], ["mcp:tools:call"], ["admin", "audit"]],
            "call": [["c", "files:read"], ["c", "mcp:tools:call"], ["admin", "audit", "c"]],
        },
        "tools:undeclared": {"declared": False, "own": None, "call": [["c"]]},
    }


@pytest.mark.parametrize("lineage", LINEAGES)
def test_undeclared_primitives_refused_by_settings_say_so(tmp_path: Path, lineage: str) -> None:
    server_file(tmp_path, lineage)
    done = cli("server", "app:mcp", cwd=tmp_path, FASTMCP_SCOPES_UNDECLARED="deny")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split() == [
        "tools:undeclared",
        "1",
        "(undeclared)",
        "(refused:",
        "FASTMCP_SCOPES_UNDECLARED=deny)",
    ]


START_AT_IMPORT = {
    "run()": "{run}",
    "run() inside the module's own try/except": "try:\n    {run}\nexcept Exception:\n    pass",
    "an async run awaited by anyio": "import anyio\nasync def main():\n"
    "    async with anyio.create_task_group() as tg:\n        tg.start_soon(mcp.{async_run})\nanyio.run(main)",
    "uvicorn.run": "import uvicorn\nuvicorn.run(object(), port=1)",
}
ASYNC_RUN = {"sdk1": "run_stdio_async", "sdk2": "run_stdio_async", "fastmcp3": "run_async", "fastmcp4": "run_async"}


@pytest.mark.parametrize("how", START_AT_IMPORT)
@pytest.mark.parametrize("lineage", LINEAGES)
def test_a_module_that_starts_its_server_at_import_is_explained_not_run(tmp_path: Path, lineage: str, how: str) -> None:
    marker = tmp_path / "ran"
    code = START_AT_IMPORT[how].format(run=SERVERS[lineage][1], async_run=ASYNC_RUN[lineage])
    server_file(tmp_path, lineage, code + f"\nopen({str(marker)!r}, 'w').close()  # only reached if run() returned")

    done = cli("server", "app:mcp", cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "fastmcp-scopes server: error: importing app starts its server (" in done.stderr
    assert 'under `if __name__ == "__main__":`' in done.stderr
    assert "Traceback" not in done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("lineage", LINEAGES)
def test_run_under_a_main_guard_is_fine_and_output_at_import_stays_off_stdout(tmp_path: Path, lineage: str) -> None:
    server_file(tmp_path, lineage, f"print('starting')\nif __name__ == '__main__':\n    {SERVERS[lineage][1]}")

    done = cli("server", "app:mcp", "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"tools:read_file", "tools:undeclared"}
    assert "starting" in done.stderr


@pytest.mark.parametrize("lineage", LINEAGES)
def test_the_run_methods_work_again_after_the_import(tmp_path: Path, lineage: str) -> None:
    server_file(tmp_path, lineage)
    probe = textwrap.dedent(
        """
        import sys
        from fastmcp_scopes.cli import _guardable
        from fastmcp_scopes.target import load_target
        server = load_target("app:mcp", _guardable)
        print("run" in vars(type(server)) or any("run" in vars(c) for c in type(server).__mro__[1:]))
        print(type(server).run.__name__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "run"]


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
