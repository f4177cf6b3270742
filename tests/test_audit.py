"""Audit events: one per decision, with the caller's identity, never the token."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import Caller, ConfigurationError, Requirement, ScopeGuard, requires_scopes
from fastmcp_scopes.audit import (
    AUDIT_LOGGER,
    COMPLETION_LOGGER,
    arguments_summary,
    audit_event,
    completion_event,
    emit,
    write_json_lines,
)
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
        "event": "decision",
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
        "session": None,
        "challenge": "union",  # no protocol version said: a client of the handshake era, which may replace scopes
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


# -- completion events (issue 15) ------------------------------------------------------------------------


def completion_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == COMPLETION_LOGGER]


def clinic_server(**options: object) -> tuple[MCPServer, anyio.Event]:
    mcp = MCPServer("clinic")
    started = anyio.Event()

    @mcp.tool()
    def book(patient: dict[str, str], api_key: str, note: str) -> str:
        return f"booked {patient['name']}"

    @mcp.tool()
    def refuse(reason: str) -> str:
        raise MCPError(code=-32602, message=reason)  # a JSON-RPC error: the server raises it to the caller

    @mcp.tool()
    async def slow() -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    ScopeGuard(**options).install(mcp)
    return mcp, started


BOOKING = {
    "patient": {"name": "Ann", "email": "ann@example.org"},
    "api_key": "k-123",
    "note": "call ann.lee@example.org, token eyJhbGciOi.eyJzdWIiOi.c2ln",
}


async def test_arguments_are_names_types_and_sizes_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    server, _ = clinic_server()

    async with scoped_client(server, []) as client:
        await client.call_tool("book", BOOKING)

    [record] = completion_records(caplog)
    event = record.audit  # type: ignore[attr-defined]
    assert event["arguments"] == {
        "patient": {"type": "object", "size": len(json.dumps(BOOKING["patient"]))},
        "api_key": {"type": "string", "size": 7},
        "note": {"type": "string", "size": len(json.dumps(BOOKING["note"]))},
    }
    assert "Ann" not in caplog.text and "k-123" not in caplog.text
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("ok 'tools/call' 'book' by 'test-user' in ")


async def test_values_are_shown_only_on_request_and_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    server, _ = clinic_server(audit_argument_values=True)

    async with scoped_client(server, []) as client:
        await client.call_tool("book", BOOKING)

    [record] = completion_records(caplog)
    arguments = record.audit["arguments"]  # type: ignore[attr-defined]
    assert arguments["patient"]["value"] == {"name": "Ann", "email": "[redacted]"}
    assert arguments["api_key"]["value"] == "[redacted]"  # by its name
    assert arguments["note"]["value"] == "call [redacted], token [redacted]"  # by its text


async def test_redaction_rules_are_configurable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    server, _ = clinic_server(audit_argument_values=True, audit_redact_keys=["^name$"], audit_redact_values=[])

    async with scoped_client(server, []) as client:
        await client.call_tool("book", BOOKING)

    arguments = completion_records(caplog)[0].audit["arguments"]  # type: ignore[attr-defined]
    assert arguments["patient"]["value"] == {"name": "[redacted]", "email": "ann@example.org"}
    assert arguments["api_key"]["value"] == "k-123"


def test_a_pattern_that_is_not_a_regular_expression_stops_start_up() -> None:
    with pytest.raises(ConfigurationError, match=r"(?s)AUDIT_REDACT_KEYS.*not a regular expression"):
        ScopeGuard(audit_redact_keys=["(unclosed"])
    with pytest.raises(ConfigurationError, match=r"(?s)AUDIT_REDACT_VALUES.*\(\?i:secret\)"):
        ScopeGuard(audit_redact_values=["a", "(?i)b"])  # a global flag cannot be joined with others


async def test_an_exception_and_a_cancellation_end_a_call_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    server, started = clinic_server()

    async with scoped_client(server, []) as client:
        with pytest.raises(MCPError):
            await client.call_tool("refuse", {"reason": "no beds"})
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.call_tool, "slow", {})
            await started.wait()
            tasks.cancel_scope.cancel()
        with anyio.fail_after(10):
            while len(completion_records(caplog)) < 2:
                await anyio.sleep(0.01)

    refused, cancelled = completion_records(caplog)
    assert (refused.audit["status"], refused.audit["error"], refused.levelno) == (  # type: ignore[attr-defined]
        "exception",
        "MCPError",
        logging.WARNING,
    )
    assert "no beds" not in json.dumps(refused.audit)  # type: ignore[attr-defined]  # it may repeat caller input
    assert (cancelled.audit["status"], cancelled.audit["result_bytes"]) == ("cancelled", None)  # type: ignore[attr-defined]


async def test_completion_events_switch_off_with_the_audit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    server, _ = clinic_server(audit=False)

    async with scoped_client(server, []) as client:
        await client.call_tool("book", BOOKING)

    assert [r for r in caplog.records if r.name.startswith(AUDIT_LOGGER)] == []


def test_a_completion_event_bounds_caller_text() -> None:
    decision = ScopeGuard().decide("tools/call", caller=None, name="n" * 100_000, request_id="r" * 100_000)
    arguments = arguments_summary({"k" * 100_000: "v" * 100_000, **{f"a{i}": i for i in range(100)}}, values=True)

    event = completion_event(decision, status="ok", now=0.0, duration=0.5, arguments=arguments, session="s" * 10**5)

    assert len(json.dumps(event)) < 20_000
    assert event["duration_ms"] == 500.0
    assert event["arguments"]["..."] == {"type": "more", "size": 101}


# -- logging as libraries do it --------------------------------------------------------------------------


def test_the_package_prints_nothing_unless_the_application_configures_logging() -> None:
    handlers = logging.getLogger("fastmcp_scopes").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


async def test_one_line_writes_every_event_as_json_lines(tmp_path: Path) -> None:
    server, _ = clinic_server()
    handler = write_json_lines(tmp_path / "audit.jsonl")
    try:
        async with scoped_client(server, []) as client:
            await client.call_tool("book", BOOKING)
    finally:
        logging.getLogger(AUDIT_LOGGER).removeHandler(handler)
        handler.close()

    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    calls = [e for e in lines if e["method"] == "tools/call"]
    assert [e["event"] for e in calls] == ["decision", "completion"]
    assert calls[1]["decision_id"] == calls[0]["id"]


@pytest.mark.parametrize("now", [0.0, 1.5, 1764567890.123456, 1764567890.9999996, 1764567891.000001, -0.25])
def test_event_times_read_as_iso_8601_in_utc(now: float) -> None:
    decision = ScopeGuard().decide("tools/call", caller=None, name="x")

    assert audit_event(decision, now=now)["time"] == datetime.fromtimestamp(now, UTC).isoformat()
