"""The hidden-call and undeclared policies, callers without a token, and settings from the environment,
on every lineage and transport."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ..adapters.hr import HIDDEN_AND_UNKNOWN, refusal_data
from .conftest import Install, ServerKind, every_transport, hr, in_process_only, listing, refusal_of, succeeded

UPDATE = {"name": "update_salary", "arguments": {"employee": "a", "amount": 1}}


@every_transport
async def test_a_hidden_tool_gets_a_step_up_challenge_by_default(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind))

    tools = await listing(guarded, [], "tools")
    answer = await guarded.ask([], "tools/call", UPDATE)

    assert "update_salary" not in tools["tools"]
    assert refusal_of(answer)["code"] == -32003


def request_for(kind: str, name: str) -> tuple[str, dict[str, object]]:
    if kind == "tool":
        return "tools/call", {"name": name, "arguments": {"employee": "a", "amount": 1}}
    if kind == "prompt":
        return "prompts/get", {"name": name, "arguments": {"employee": "a"}}
    return "resources/read", {"uri": name}


@pytest.mark.spec("design/hidden-not-found")
@every_transport
@pytest.mark.parametrize(("kind", "hidden", "unknown"), HIDDEN_AND_UNKNOWN)
@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(["mcp:call"], id="holds-only-the-call-layer"),
        pytest.param([], id="holds-nothing"),
        pytest.param(["docs:read", "employees:read", "employees:write", "hr:review"], id="holds-own-scopes"),
    ],
)
async def test_not_found_answers_exactly_like_a_missing_primitive(
    server_kind: ServerKind, install: Install, kind: str, hidden: str, unknown: str, scopes: list[str]
) -> None:
    """Under a call layer the caller lacks too: nothing tells a hidden primitive from a missing one."""
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), hidden_calls="not_found", undeclared="deny", call_scopes=["mcp:call"])
    if kind == "tool" and hidden == "update_salary" and "employees:write" in scopes:
        hidden = "approve_raise"  # still hidden with these scopes

    hidden_answer = await guarded.ask(scopes, *request_for(kind, hidden))
    missing_answer = await guarded.ask(scopes, *request_for(kind, unknown))

    assert hidden_answer.whole(hidden) == missing_answer.whole(unknown)
    assert ran == []


@every_transport
async def test_undeclared_deny_hides_refuses_and_reports(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastmcp_scopes"):
        guarded = await install(hr(server_kind), undeclared="deny")

    tools = await listing(guarded, ["employees:read"], "tools")
    answer = await guarded.ask(["employees:read"], "tools/call", {"name": "server_time", "arguments": {}})

    assert guarded.report.undeclared == ("tools:server_time",)
    assert "no scopes declared for tools:server_time (refused)" in caplog.text
    assert tools == {"tools": ["list_employees"]}
    assert not succeeded(answer)


@every_transport
async def test_undeclared_allow_is_the_default_and_is_reported(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastmcp_scopes"):
        guarded = await install(hr(server_kind))

    answer = await guarded.ask([], "tools/call", {"name": "server_time", "arguments": {}})

    assert guarded.report.undeclared == ("tools:server_time",)
    assert "no scopes declared for tools:server_time (allowed under the layered scopes)" in caplog.text
    assert answer.result is not None and answer.result["structuredContent"] == {"result": "noon"}


# -- no token (stdio, plain in-process clients) ----------------------------------------------------


@pytest.mark.spec("design/no-token-fails-closed")
@in_process_only
async def test_no_token_fails_closed(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind))

    answer = await guarded.ask(None, "tools/list")

    assert answer.error is not None, answer.whole()
    assert answer.error["code"] == -32004  # unauthenticated
    assert answer.error["message"] == "unauthenticated: An access token is required"
    assert answer.error["data"]["error"] == "unauthenticated"


@in_process_only
async def test_stdio_scopes_are_granted_without_a_token(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), stdio_scopes=["employees:read"])

    tools = await listing(guarded, None, "tools")
    allowed = await guarded.ask(None, "tools/call", {"name": "list_employees", "arguments": {}})
    refused = await guarded.ask(None, "tools/call", UPDATE)

    assert tools == {"tools": ["list_employees", "server_time"]}
    assert allowed.result is not None and allowed.result["structuredContent"] == {"result": "alice, bob"}
    assert refusal_of(refused)["data"] == refusal_data(
        ["employees:write"], ["employees:write"], [["employees:write"], ["admin"]], "employees:write"
    )


@in_process_only
async def test_stdio_scopes_from_the_environment(
    server_kind: ServerKind, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_STDIO_SCOPES", "employees:write, hr:approve")
    guarded = await install(hr(server_kind))

    assert await listing(guarded, None, "tools") == {"tools": ["update_salary", "approve_raise", "server_time"]}


@in_process_only
async def test_an_empty_stdio_grant_allows_only_what_needs_no_scope(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), stdio_scopes=[])

    assert await listing(guarded, None, "tools") == {"tools": ["server_time"]}


# -- settings from the environment, end to end -----------------------------------------------------


@every_transport
async def test_tool_scopes_from_the_environment_join_the_decorators(
    server_kind: ServerKind, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_TOOL_SCOPES", '{"list_employees": "audit:read", "server_time": "clock:read"}')
    guarded = await install(hr(server_kind))

    hidden = await listing(guarded, ["employees:read"], "tools")
    refused = await guarded.ask(["employees:read"], "tools/call", {"name": "list_employees", "arguments": {}})
    shown = await listing(guarded, ["employees:read", "audit:read", "clock:read"], "tools")

    assert guarded.report.undeclared == ()
    assert hidden == {"tools": []}
    assert refusal_of(refused)["data"] == refusal_data(
        ["audit:read", "employees:read"],
        ["audit:read"],
        [["audit:read", "employees:read"]],
        "audit:read employees:read",
    )
    assert shown == {"tools": ["list_employees", "server_time"]}


@every_transport
async def test_policy_from_a_dotenv_file(server_kind: ServerKind, install: Install, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "FASTMCP_SCOPES_HIDE_UNAUTHORIZED=false\nFASTMCP_SCOPES_CONNECT_SCOPES=mcp:connect\n", encoding="utf-8"
    )
    guarded = await install(hr(server_kind))

    assert len((await listing(guarded, ["mcp:connect"], "tools"))["tools"]) == 5
