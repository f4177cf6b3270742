"""Issue 15: every permitted call is audited twice, on every lineage and transport: its decision and, when it
ends, its completion (status, duration, result size, arguments by name and size), correlated by the decision
event's ``id`` and the request id. Denied calls have a decision event only."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from fastmcp_scopes.audit import AUDIT_LOGGER, COMPLETION_LOGGER

from .conftest import HANDSHAKE, Install, ServerKind, every_transport, hr, refusal_of, succeeded

UPDATE = {"name": "update_salary", "arguments": {"employee": "alice", "amount": 10}}


def events(caplog: pytest.LogCaptureFixture, logger: str, method: str = "tools/call") -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == logger and r.audit["method"] == method]  # type: ignore[attr-defined]


async def completions(caplog: pytest.LogCaptureFixture, count: int) -> list[dict[str, Any]]:
    """The completion events, once ``count`` of them are in (over HTTP, the server logs from its own thread,
    possibly after the answer has reached the caller)."""
    with anyio.fail_after(10):
        while len(found := [r for r in caplog.records if r.name == COMPLETION_LOGGER]) < count:
            await anyio.sleep(0.01)
    return [r.audit for r in found]  # type: ignore[attr-defined]


def with_failing_tool(kind: ServerKind) -> Any:
    server = hr(kind)

    @server.tool()
    def fail(reason: str) -> str:
        raise ValueError(reason)

    return server


@every_transport
async def test_an_allowed_call_is_audited_when_it_ends(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(hr(server_kind))

    answer = await guarded.ask(["employees:write"], "tools/call", UPDATE, id=41)

    assert succeeded(answer), answer.whole()
    [completion] = await completions(caplog, 1)
    [decision] = [e for e in events(caplog, AUDIT_LOGGER) if e["outcome"] == "allow"]
    assert completion == {
        **completion,
        "event": "completion",
        "method": "tools/call",
        "name": "update_salary",
        "status": "ok",
        "error": None,
        "arguments": {"employee": {"type": "string", "size": 7}, "amount": {"type": "number", "size": 2}},
        "caller": decision["caller"],
        "request_id": decision["request_id"],
        "decision_id": decision["id"],
    }
    assert completion["duration_ms"] >= 0
    assert completion["result_bytes"] > len('"alice: 10"')
    if guarded.transport == "http":
        assert str(completion["request_id"]) == "41"


@every_transport
async def test_a_failing_tool_ends_as_a_tool_error(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(with_failing_tool(server_kind))

    answer = await guarded.ask([], "tools/call", {"name": "fail", "arguments": {"reason": "disk full"}})

    assert answer.result is not None and answer.result.get("isError") is True, answer.whole()
    [completion] = await completions(caplog, 1)
    assert (completion["name"], completion["status"], completion["error"]) == ("fail", "tool_error", None)
    assert "disk full" not in str(completion)  # values only when the operator opts in


@every_transport
async def test_a_refused_call_has_no_completion_event(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(hr(server_kind))

    refusal_of(await guarded.ask(["employees:read"], "tools/call", UPDATE))
    await guarded.ask(["employees:write"], "tools/call", UPDATE)  # a completion to wait for

    assert [e["outcome"] for e in events(caplog, AUDIT_LOGGER)] == ["insufficient_scope", "allow"]
    assert [(e["name"], e["status"]) for e in await completions(caplog, 1)] == [("update_salary", "ok")]


@every_transport
async def test_prompts_and_resources_end_with_an_event_too(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(hr(server_kind))

    prompt = await guarded.ask(
        ["hr:review"], "prompts/get", {"name": "performance_review", "arguments": {"employee": "a"}}
    )
    resource = await guarded.ask(["employees:read"], "resources/read", {"uri": "hr://employees/7"})

    assert prompt.result is not None and resource.result is not None, (prompt.whole(), resource.whole())
    found = await completions(caplog, 2)
    assert [(e["method"], e["name"], e["status"]) for e in found] == [
        ("prompts/get", "performance_review", "ok"),
        ("resources/read", "hr://employees/7", "ok"),
    ]
    assert found[0]["arguments"] == {"employee": {"type": "string", "size": 3}}


@pytest.mark.parametrize("transport", ["http"], indirect=True)
async def test_both_events_name_the_mcp_session(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(hr(server_kind), stateless_http=False)
    token = guarded.token(["employees:write"])
    initialize = {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "contract", "version": "1"}}
    opened = await guarded.post(token, "initialize", initialize)
    session = opened.headers["mcp-session-id"]
    await guarded.post(token, "notifications/initialized", {}, id=None, headers={"mcp-session-id": session})

    answer = await guarded.post(token, "tools/call", UPDATE, headers={"mcp-session-id": session}, id=7)

    assert succeeded(answer), answer.whole()
    [completion] = await completions(caplog, 1)
    [decision] = events(caplog, AUDIT_LOGGER)
    assert (decision["session"], completion["session"]) == (session, session)
    assert completion["decision_id"] == decision["id"]
    [opening] = events(caplog, AUDIT_LOGGER, "initialize")
    assert opening["session"] is None  # the session is the answer's to give


@pytest.mark.parametrize("transport", ["http"], indirect=True)
async def test_a_stateless_call_has_no_session(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(hr(server_kind))

    assert succeeded(await guarded.ask(["employees:write"], "tools/call", UPDATE))

    [completion] = await completions(caplog, 1)
    [decision] = events(caplog, AUDIT_LOGGER)
    assert (decision["session"], completion["session"]) == (None, None)
