"""More ways to reach a primitive's code, beyond issue 8's list: other spellings of its name or URI, a
component version, methods the guard does not know, and another caller's session. Where the server itself
would run a handler for the request (found by asking the same server unguarded), the guard must decide
on that handler's requirement; where it would not, nothing runs."""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes
from fastmcp_scopes.testing import scoped_client

from ..adapters.hr import add_hr_primitives
from .conftest import HANDSHAKE, Install, ServerKind, in_process, skip_unless, succeeded

REQUIREMENT = {"update_salary": "employees:write", "policies": "docs:read", "employee_record": "employees:read"}

SPELLINGS = [
    ("tools/call", {"name": "Update_Salary"}),
    ("tools/call", {"name": "UPDATE_SALARY"}),
    ("tools/call", {"name": "update_salary "}),
    ("tools/call", {"name": " update_salary"}),
    ("tools/call", {"name": "update_s\u0430lary"}),  # Cyrillic a
    ("tools/call", {"name": "update_salary\u200b"}),  # zero-width space
    ("tools/call", {"name": "update\uff3fsalary"}),  # fullwidth low line
    ("tools/call", {"name": "update_salary\x00"}),
    ("resources/read", {"uri": "hr://policies/"}),
    ("resources/read", {"uri": "hr://%70olicies"}),
    ("resources/read", {"uri": "HR://policies"}),
    ("resources/read", {"uri": "hr://POLICIES"}),
    ("resources/read", {"uri": "hr://policies#x"}),
    ("resources/read", {"uri": "hr://policies?x=1"}),
    ("resources/read", {"uri": "hr:/policies"}),
    ("resources/read", {"uri": "hr://employees/7/"}),
    ("resources/read", {"uri": "hr://employees/%37"}),
    ("resources/read", {"uri": "hr://employees/7?x=1"}),
    ("resources/read", {"uri": "hr://employees/7#x"}),
    ("resources/read", {"uri": "hr://employees/../policies"}),
    ("resources/read", {"uri": "hr://employees/"}),
]


def hr(kind: ServerKind, ran: list[str]) -> Any:
    server = kind.new("hr")
    add_hr_primitives(server, ran)
    return server


_unguarded: dict[tuple[str, str], str | None] = {}


async def handler_for(kind: ServerKind, method: str, params: dict[str, Any]) -> str | None:
    """Which protected handler the same server runs unguarded, if any ("update_salary", "policies", ...)."""
    key = (kind.name, repr((method, params)))
    if key not in _unguarded:
        server = kind.new("probe")
        ran: list[str] = []

        @server.tool()
        def update_salary(employee: str = "a", amount: int = 1) -> str:
            ran.append("update_salary")
            return "ok"

        @server.resource("hr://policies")
        def policies() -> str:
            ran.append("policies")
            return "ok"

        @server.resource("hr://employees/{employee_id}")
        def employee_record(employee_id: str) -> str:
            ran.append("employee_record")
            return "ok"

        async with scoped_client(server, []) as client:
            await in_process(client, method, params)
        _unguarded[key] = ran[0] if ran else None
    return _unguarded[key]


@pytest.mark.parametrize(("method", "params"), SPELLINGS, ids=[repr(p) for _, p in SPELLINGS])
async def test_another_spelling_is_decided_like_the_primitive_it_reaches(
    server_kind: ServerKind, install: Install, method: str, params: dict[str, Any]
) -> None:
    reached = await handler_for(server_kind, method, params)
    guarded = await install(hr(server_kind, []))
    if method == "tools/call":
        params = {**params, "arguments": {"employee": "a", "amount": 1}}

    answer = await guarded.ask([], method, params)

    if reached is None:
        assert not succeeded(answer), answer.whole()
    else:
        assert answer.error is not None, answer.whole()
        assert answer.error["data"]["missing"] == [REQUIREMENT[reached]]


@pytest.mark.parametrize(
    ("scopes", "version", "runs"),
    [
        pytest.param(["reports:v2"], None, "v2", id="latest-by-default"),
        pytest.param(["reports:v2"], "1", None, id="an-older-version-needs-its-own-scope"),
        pytest.param(["reports:v1"], "1", "v1", id="the-older-version-with-its-scope"),
        pytest.param(["reports:v1"], None, None, id="the-latest-needs-its-own-scope"),
        pytest.param(["reports:v1"], "3", None, id="a-missing-version"),
    ],
)
async def test_a_tool_version_is_decided_on_the_version_that_runs(
    server_kind: ServerKind, install: Install, scopes: list[str], version: str | None, runs: str | None
) -> None:
    skip_unless(server_kind.tool_versions, f"{server_kind.name} has no tool versions")
    server = server_kind.new("versions")
    ran: list[str] = []

    @server.tool(name="report", version="1")
    @requires_scopes("reports:v1")
    def report_v1() -> str:
        ran.append("v1")
        return "v1"

    @server.tool(name="report", version="2")
    @requires_scopes("reports:v2")
    def report_v2() -> str:
        ran.append("v2")
        return "v2"

    guarded = await install(server)
    params: dict[str, Any] = {"name": "report", "arguments": {}}
    if version is not None:
        params["_meta"] = {"fastmcp": {"version": version}}

    answer = await guarded.ask(scopes, "tools/call", params)

    assert ran == ([runs] if runs else [])
    assert succeeded(answer) == (runs is not None), answer.whole()


@pytest.mark.parametrize(
    "method", ["foo/bar", "tools/call2", "tools/Call", "admin/purge", "tasks/result", "rpc.discover"]
)
async def test_a_method_the_guard_does_not_know_reaches_no_code(
    server_kind: ServerKind, install: Install, method: str
) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran))

    answer = await guarded.ask([], method, {"name": "update_salary", "arguments": {"employee": "a", "amount": 1}})

    assert answer.error is not None, answer.whole()
    assert ran == []


@pytest.mark.parametrize("transport", ["http"], indirect=True)
async def test_another_callers_session_does_not_lend_its_rights(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), stateless_http=False)
    alice = guarded.token(["employees:write"], subject="alice")
    mallory = guarded.token([], subject="mallory")
    initialize = {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "contract", "version": "1"}}
    opened = await guarded.post(alice, "initialize", initialize)
    session = {"mcp-session-id": opened.headers["mcp-session-id"]}
    await guarded.post(alice, "notifications/initialized", {}, id=None, headers=session)
    call = {"name": "update_salary", "arguments": {"employee": "a", "amount": 1}}

    answer = await guarded.post(mallory, "tools/call", call, headers=session)

    assert answer.status in (403, 404), answer.whole()
    assert not succeeded(answer)
    assert ran == []
