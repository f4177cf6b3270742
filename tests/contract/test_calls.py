"""Calls are checked before their handler runs, on every lineage and transport: the exact refusal (code,
message, whole ``data``; over HTTP the 403 and its challenge), the closest alternative, stacked decorators,
both decorator orders for every kind, and requirements computed from the arguments."""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes

from ..adapters.hr import refusal_data
from .conftest import Guarded, Install, ServerKind, every_transport, hr, http_only, listing, refusal_of, succeeded

UPDATE = {"name": "update_salary", "arguments": {"employee": "alice", "amount": 10}}


def challenge(guarded: Guarded, missing: str, scope: str) -> str:
    return (
        f'Bearer error="insufficient_scope", error_description="Missing scopes: {missing}", '
        f'scope="{scope}", resource_metadata="{guarded.metadata_url}"'
    )


@every_transport
async def test_an_allowed_call_runs_the_handler(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran))

    answer = await guarded.ask(["employees:write"], "tools/call", UPDATE)

    assert succeeded(answer), answer.whole()
    assert answer.result is not None and answer.result["structuredContent"] == {"result": "alice: 10"}
    assert ran == ["update_salary"]


@every_transport
async def test_a_refusal_carries_the_exact_data_and_the_handler_does_not_run(
    server_kind: ServerKind, install: Install
) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran))

    answer = await guarded.ask(["employees:read"], "tools/call", UPDATE)

    assert refusal_of(answer) == {
        "code": -32003,
        "message": "insufficient_scope: Missing scopes: employees:write",
        "data": refusal_data(
            ["employees:write"], ["employees:write"], [["employees:write"], ["admin"]], "employees:write"
        ),
    }
    if guarded.transport == "http":
        assert answer.challenge == challenge(guarded, "employees:write", "employees:write")
    assert ran == []


@every_transport
async def test_refusal_happens_before_argument_validation(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind))

    answer = await guarded.ask([], "tools/call", {"name": "update_salary", "arguments": {"amount": "not a number"}})

    assert refusal_of(answer)["code"] == -32003


@pytest.mark.spec("design/closest-alternative")
@every_transport
async def test_the_closest_alternative_is_named_with_ties_to_the_first(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await install(hr(server_kind))

    tie = await guarded.ask(["hr:approve"], "tools/call", {"name": "approve_raise", "arguments": {"employee": "a"}})
    admin = await guarded.ask(["admin"], "tools/call", {"name": "approve_raise", "arguments": {"employee": "a"}})

    alternatives = [["employees:write", "hr:approve"], ["admin", "hr:approve"]]
    assert refusal_of(tie)["data"] == refusal_data(
        ["employees:write", "hr:approve"], ["employees:write"], alternatives, "employees:write hr:approve"
    )
    assert refusal_of(admin)["data"] == refusal_data(
        ["admin", "hr:approve"], ["hr:approve"], alternatives, "admin hr:approve"
    )


@every_transport
async def test_the_closest_alternative_is_the_one_missing_fewest(server_kind: ServerKind, install: Install) -> None:
    server = server_kind.new("closest")

    @server.tool()
    @requires_scopes(any_of=[["reports:read", "reports:export", "reports:sign"], ["auditor"]])
    def export_report() -> str:
        return "report"

    guarded = await install(server)
    call = {"name": "export_report", "arguments": {}}

    near = await guarded.ask(["reports:read", "reports:export"], "tools/call", call)
    far = await guarded.ask(["reports:read"], "tools/call", call)

    alternatives = [["reports:export", "reports:read", "reports:sign"], ["auditor"]]
    assert refusal_of(near)["data"] == refusal_data(
        ["reports:export", "reports:read", "reports:sign"],
        ["reports:sign"],
        alternatives,
        "reports:export reports:read reports:sign",
    )
    assert refusal_of(far)["data"] == refusal_data(["auditor"], ["auditor"], alternatives, "auditor")


@every_transport
async def test_stacked_decorators_are_all_required(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind))
    call = {"name": "approve_raise", "arguments": {"employee": "alice"}}

    refused = await guarded.ask(["employees:write"], "tools/call", call)
    allowed = await guarded.ask(["employees:write", "hr:approve"], "tools/call", call)

    assert refusal_of(refused)["data"]["missing"] == ["hr:approve"]
    assert allowed.result is not None and allowed.result["structuredContent"] == {"result": "approved alice"}


@every_transport
async def test_resources_templates_and_prompts_are_refused_and_allowed(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await install(hr(server_kind))
    review = {"name": "performance_review", "arguments": {"employee": "bob"}}

    static = await guarded.ask([], "resources/read", {"uri": "hr://policies"})
    template = await guarded.ask([], "resources/read", {"uri": "hr://employees/7"})
    prompt = await guarded.ask([], "prompts/get", review)
    scopes = ["docs:read", "employees:read", "hr:review"]
    allowed = [
        await guarded.ask(scopes, "resources/read", {"uri": "hr://policies"}),
        await guarded.ask(scopes, "resources/read", {"uri": "hr://employees/7"}),
        await guarded.ask(scopes, "prompts/get", review),
    ]

    assert refusal_of(static)["data"] == refusal_data(["docs:read"], ["docs:read"], [["docs:read"]], "docs:read")
    assert refusal_of(template)["data"] == refusal_data(
        ["employees:read"], ["employees:read"], [["employees:read"]], "employees:read"
    )
    assert refusal_of(prompt)["data"] == refusal_data(["hr:review"], ["hr:review"], [["hr:review"]], "hr:review")
    texts = [a.result["contents"][0]["text"] for a in allowed[:2] if a.result is not None]
    assert texts == ["be nice", "record 7"]
    assert allowed[2].result is not None
    assert allowed[2].result["messages"][0]["content"]["text"] == "Review bob"


@every_transport
@pytest.mark.parametrize(
    "scope_decorator_first", [True, False], ids=["scope-decorator-outside", "scope-decorator-inside"]
)
async def test_decorator_order_does_not_matter_for_any_kind(
    server_kind: ServerKind, install: Install, scope_decorator_first: bool
) -> None:
    server = server_kind.new("order")

    def both(lineage_decorator: Any, fn: Any) -> None:
        scoped = requires_scopes("k:use")
        if scope_decorator_first:
            scoped(lineage_decorator(fn))
        else:
            lineage_decorator(scoped(fn))

    def tool() -> str:
        return "t"

    def resource() -> str:
        return "r"

    def template(key: str) -> str:
        return f"r{key}"

    def prompt() -> str:
        return "p"

    both(server.tool(), tool)
    both(server.resource("k://static"), resource)
    both(server.resource("k://items/{key}"), template)
    both(server.prompt(), prompt)
    guarded = await install(server)

    assert guarded.report.undeclared == ()
    assert await listing(guarded, []) == {"tools": [], "prompts": [], "resources": [], "templates": []}
    for method, params in [
        ("tools/call", {"name": "tool", "arguments": {}}),
        ("resources/read", {"uri": "k://static"}),
        ("resources/read", {"uri": "k://items/1"}),
        ("prompts/get", {"name": "prompt", "arguments": {}}),
    ]:
        assert refusal_of(await guarded.ask([], method, params))["data"]["missing"] == ["k:use"]
    assert await listing(guarded, ["k:use"]) == {
        "tools": ["tool"],
        "prompts": ["prompt"],
        "resources": ["k://static"],
        "templates": ["k://items/{key}"],
    }
    called = await guarded.ask(["k:use"], "tools/call", {"name": "tool", "arguments": {}})
    assert called.result is not None and called.result["structuredContent"] == {"result": "t"}


@every_transport
async def test_the_arguments_decide_a_per_call_requirement(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran))
    scopes = ["db:query", "employees:read"]

    allowed = await guarded.ask(scopes, "tools/call", {"name": "query", "arguments": {"table": "employees"}})
    refused = await guarded.ask(scopes, "tools/call", {"name": "query", "arguments": {"table": "salaries"}})
    invalid = await guarded.ask(scopes, "tools/call", {"name": "query", "arguments": {"table": "../etc"}})

    assert succeeded(allowed), allowed.whole()
    assert refusal_of(refused)["data"] == refusal_data(
        ["db:query", "salaries:read"], ["salaries:read"], [["db:query", "salaries:read"]], "db:query salaries:read"
    )
    assert invalid.error == {"code": -32602, "message": "Invalid arguments: no scope requirement can be computed"}
    assert invalid.status in (None, 400)
    assert ran == ["query employees"]


@http_only
async def test_over_http_a_per_call_requirement_is_challenged_before_dispatch(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await install(hr(server_kind))

    answer = await guarded.ask(
        ["db:query", "employees:read"], "tools/call", {"name": "query", "arguments": {"table": "salaries"}}
    )

    assert answer.status == 403
    assert answer.challenge == challenge(guarded, "salaries:read", "db:query salaries:read")
