"""``fastmcp-scopes audit FILE``: a log written by real calls, summarised as an operator reads it."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import ScopeGuard, requires_scopes
from fastmcp_scopes.audit import AUDIT_LOGGER, write_json_lines
from fastmcp_scopes.cli import main
from fastmcp_scopes.testing import scoped_client


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def hr_server() -> MCPServer:
    mcp = MCPServer("hr")

    @mcp.tool()
    @requires_scopes("employees:read")
    def list_employees() -> str:
        return "alice, bob"

    @mcp.tool()
    @requires_scopes("employees:write")
    def update_salary(employee: str) -> str:
        raise ValueError(f"no employee {employee}")

    ScopeGuard(audit_argument_values=False).install(mcp)
    return mcp


@pytest.fixture
async def log(tmp_path: Path) -> Path:
    """An audit log of: alice reads (allowed), is refused a write twice, then writes with the scope and the
    tool fails; an agent of client ``bot`` without ``sub`` is refused a read."""
    path = tmp_path / "audit.jsonl"
    handler = write_json_lines(path)
    try:
        server = hr_server()
        async with scoped_client(server, ["employees:read"], subject="alice") as client:
            await client.call_tool("list_employees", {})
            for _ in range(2):
                with pytest.raises(MCPError):
                    await client.call_tool("update_salary", {"employee": "bob"})
        async with scoped_client(server, ["employees:write"], subject="alice") as client:
            await client.call_tool("update_salary", {"employee": "bob"})
        async with scoped_client(server, [], subject="", client_id="bot") as client:
            with pytest.raises(MCPError):
                await client.call_tool("list_employees", {})
    finally:
        logging.getLogger(AUDIT_LOGGER).removeHandler(handler)
        handler.close()
    with path.open("a") as text:
        text.write("not json\n")  # a cut or mixed log is read all the same
    return path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


async def test_the_summary_as_json(log: Path) -> None:
    status, out, err = run("audit", str(log), "--json")

    assert (status, err) == (0, "")
    summary = json.loads(out)
    assert summary["skipped"] == 1
    assert summary["completions"] == 2
    assert summary["completion_statuses"] == {"ok": 1, "tool_error": 1}
    assert summary["missing_scopes"] == {"employees:write": 2, "employees:read": 1}
    assert summary["primitives"]["tools/call update_salary"] == {
        "allowed": 1,
        "denied": 2,
        "step_ups": 2,
        "denials_by_outcome": {"insufficient_scope": 2},
        "failed_after_allow": 1,
        "errors": {"tool_error": 1},
    }
    assert list(summary["callers"]) == ["alice", "bot"]  # the most refused first
    assert summary["callers"]["bot"]["denied"] == 1


async def test_the_summary_as_tables(log: Path) -> None:
    status, out, _ = run("audit", str(log))

    assert status == 0
    tables = [[line.split() for line in table.splitlines()] for table in out.split("\n\n")]
    assert tables == [
        [["9", "decisions,", "2", "completions,", "1", "lines", "skipped", "(not", "audit", "events)"]],
        [
            ["PRIMITIVE", "DENIED", "STEP-UPS", "OUTCOMES"],
            ["tools/call", "update_salary", "2", "2", "insufficient_scope", "2"],
            ["tools/call", "list_employees", "1", "1", "insufficient_scope", "1"],
        ],
        [
            ["CALLER", "DENIED", "STEP-UPS", "OUTCOMES"],
            ["alice", "2", "2", "insufficient_scope", "2"],
            ["bot", "1", "1", "insufficient_scope", "1"],
        ],
        [["MISSING", "SCOPE", "TIMES"], ["employees:write", "2"], ["employees:read", "1"]],
        [
            ["ERRORS", "AFTER", "ALLOW", "ALLOWED", "FAILED", "STATUS", "OR", "ERROR"],
            ["tools/call", "update_salary", "1", "1", "tool_error", "1"],
        ],
    ]


def test_a_file_without_audit_events_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text('{"message": "started"}\nplain text\n')

    status, out, err = run("audit", str(tmp_path / "app.log"))

    assert (status, out) == (1, "")
    assert "no audit event in" in err and "(2 lines)" in err and "write_json_lines" in err
    assert run("audit", str(tmp_path / "missing.jsonl"))[2].startswith("fastmcp-scopes: error: cannot read")


def test_caller_text_cannot_rewrite_the_terminal(tmp_path: Path) -> None:
    event = {"event": "decision", "method": "tools/call", "name": "x\x1b[2J", "outcome": "not_found", "missing": []}
    (tmp_path / "audit.jsonl").write_text(json.dumps(event) + "\n")

    status, out, _ = run("audit", str(tmp_path / "audit.jsonl"))

    assert status == 0
    assert "\x1b" not in out and "tools/call x\\x1b[2J" in out
