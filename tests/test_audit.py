"""Audit events: one per decision, with the caller's identity, never the token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import Caller, Requirement, ScopeGuard, requires_scopes
from fastmcp_scopes.audit import AUDIT_LOGGER, audit_event, emit
from fastmcp_scopes.testing import acting_as, scoped_client


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def payroll_server(**options: object) -> MCPServer:
    mcp = MCPServer("payroll")

    @mcp.tool()
    @requires_scopes("payroll:read")
    def read_payroll() -> str:
        return "payroll"

    @mcp.tool()
    @requires_scopes(any_of=[["payroll:write"], ["admin"]])
    def pay() -> str:
        return "paid"

    ScopeGuard(**options).install(mcp)
    return mcp


def audit_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == AUDIT_LOGGER]


def test_the_event_for_a_decision() -> None:
    guard = ScopeGuard(connect_scopes=["mcp:connect"])
    caller = Caller(
        frozenset({"mcp:connect", "payroll:read"}), subject="alice", client_id="hr-app", issuer="https://as"
    )
    decision = guard.decide(
        "tools/call",
        caller=caller,
        name="pay",
        own=Requirement.any_of([["payroll:write"], ["admin"]]),
        request_id=7,
    )

    assert audit_event(decision, now=0.0, transport="stdio") == {
        "time": "1970-01-01T00:00:00+00:00",
        "method": "tools/call",
        "name": "pay",
        "outcome": "insufficient_scope",
        "caller": {"sub": "alice", "client_id": "hr-app", "iss": "https://as"},
        "granted": ["mcp:connect", "payroll:read"],
        "required": [["mcp:connect", "payroll:write"], ["admin", "mcp:connect"]],
        "missing": ["payroll:write"],
        "request_id": 7,
        "transport": "stdio",
    }


async def test_every_decision_is_logged_with_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    server = payroll_server()
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    async with scoped_client(
        server, ["payroll:read"], subject="alice", client_id="hr-app", issuer="https://as.example", mode="legacy"
    ) as client:
        await client.call_tool("read_payroll", {})
        with pytest.raises(MCPError):
            await client.call_tool("pay", {})

    allowed, denied = [r for r in audit_records(caplog) if r.audit["method"] == "tools/call"]  # type: ignore[attr-defined]
    assert allowed.levelno == logging.INFO
    assert denied.levelno == logging.WARNING
    for record in (allowed, denied):
        event = record.audit  # type: ignore[attr-defined]
        assert event["caller"] == {"sub": "alice", "client_id": "hr-app", "iss": "https://as.example"}
        assert event["granted"] == ["payroll:read"]
        assert event["method"] == "tools/call"
        assert event["request_id"] is not None
        assert event["time"].endswith("+00:00")
    assert (allowed.audit["name"], allowed.audit["outcome"], allowed.audit["missing"]) == (  # type: ignore[attr-defined]
        "read_payroll",
        "allow",
        [],
    )
    assert denied.audit == {  # type: ignore[attr-defined]
        **denied.audit,  # type: ignore[attr-defined]
        "name": "pay",
        "outcome": "insufficient_scope",
        "required": [["payroll:write"], ["admin"]],
        "missing": ["payroll:write"],
    }
    assert denied.getMessage() == "insufficient_scope 'tools/call' 'pay' by 'alice'"


async def test_listings_and_the_handshake_are_audited_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    async with scoped_client(payroll_server(), [], mode="legacy") as client:
        await client.list_tools()

    assert [(r.audit["method"], r.audit["outcome"]) for r in audit_records(caplog)] == [  # type: ignore[attr-defined]
        ("initialize", "allow"),
        ("notifications/initialized", "allow"),  # notifications need the connect layer too
        ("tools/list", "allow"),
    ]


@pytest.mark.spec("design/audit-without-token")
async def test_the_token_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    server = payroll_server()
    caplog.set_level(logging.DEBUG)

    with acting_as(["payroll:read"]) as token:
        async with scoped_client(server, ["payroll:read"], mode="legacy") as client:
            await client.call_tool("read_payroll", {})
            with pytest.raises(MCPError):
                await client.call_tool("pay", {})

    assert audit_records(caplog)
    secret = token.token
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in repr(getattr(record, "audit", None))
    assert secret not in caplog.text


async def test_an_anonymous_refusal_is_logged_without_identity(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    with pytest.raises(BaseExceptionGroup):
        async with Client(payroll_server(), mode="legacy"):
            pass

    record = audit_records(caplog)[0]
    assert record.audit["outcome"] == "unauthenticated"  # type: ignore[attr-defined]
    assert record.audit["caller"] == {"sub": None, "client_id": None, "iss": None}  # type: ignore[attr-defined]
    assert record.getMessage() == "unauthenticated 'initialize' '' by 'anonymous'"


async def test_audit_can_be_switched_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    async with scoped_client(payroll_server(audit=False), ["payroll:read"], mode="legacy") as client:
        await client.call_tool("read_payroll", {})

    assert audit_records(caplog) == []


def test_a_name_from_the_request_cannot_forge_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    guard = ScopeGuard()
    decision = guard.decide(
        "tools/call", caller=Caller(scopes=frozenset(), subject="eve\nINFO allow"), name="pay\nallow tools/call pay"
    )
    with caplog.at_level("INFO", logger="fastmcp_scopes.audit"):
        emit(decision, clock=lambda: 0.0)
    [record] = caplog.records
    assert record.getMessage() == "allow 'tools/call' 'pay\\nallow tools/call pay' by 'eve\\nINFO allow'"
