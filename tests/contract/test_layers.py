"""Granted scopes expand through the hierarchy; the layered scopes (connect, list, call) apply to every
request of their kind; challenges name the whole operation, with the token's scopes where asked."""

from __future__ import annotations

from typing import Any

import pytest

from ..adapters.hr import LAYERS, refusal_data
from .conftest import MODERN, Install, ServerKind, every_transport, hr, listing, refusal_of

ALL_TOOLS = ["list_employees", "update_salary", "approve_raise", "server_time"]


@pytest.mark.spec("mcp/scope-hierarchy")
@every_transport
async def test_the_hierarchy_expands_granted_scopes(server_kind: ServerKind, install: Install) -> None:
    hierarchy = {"employees:write": ["employees:read"], "hr:lead": ["employees:write", "hr:approve"]}
    guarded = await install(hr(server_kind), hierarchy=hierarchy)

    writer = await listing(guarded, ["employees:write"], "tools")
    lead = await listing(guarded, ["hr:lead"], "tools")
    called = await guarded.ask(["hr:lead"], "tools/call", {"name": "list_employees", "arguments": {}})

    assert writer == {"tools": ["list_employees", "update_salary", "server_time"]}
    assert lead == {"tools": ALL_TOOLS}
    assert called.result is not None and called.result["structuredContent"] == {"result": "alice, bob"}


@every_transport
async def test_an_admin_wildcard_grants_everything(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), hierarchy={"admin": ["*"]})

    assert await listing(guarded, ["admin"]) == {
        "tools": [*ALL_TOOLS, "query"],
        "prompts": ["performance_review"],
        "resources": ["hr://policies"],
        "templates": ["hr://employees/{employee_id}"],
    }


@every_transport
@pytest.mark.parametrize("method", ["tools/list", "ping", "prompts/list"])
async def test_without_the_connect_scope_nothing_is_served(
    server_kind: ServerKind, install: Install, method: str
) -> None:
    guarded = await install(hr(server_kind), **LAYERS)

    answer = await guarded.ask(["employees:read", "mcp:tools:read"], method)

    data = refusal_of(answer)["data"]
    assert data["missing"] == ["mcp:connect"]
    if method == "ping":  # reaches nothing but the connect layer
        assert data == refusal_data(["mcp:connect"], ["mcp:connect"], [["mcp:connect"]], "mcp:connect")
    else:  # refused at connection (connect layer only), or the whole operation in one challenge (list layer too)
        assert "mcp:connect" in data["scope"].split()


@every_transport
async def test_a_listing_needs_the_list_layer_of_its_kind(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), **LAYERS)

    tools = await guarded.ask(["mcp:connect", "employees:read"], "tools/list")
    prompts = await listing(guarded, ["mcp:connect", "employees:read"], "prompts")

    assert refusal_of(tools)["data"] == refusal_data(
        required=["mcp:connect", "mcp:tools:read"],
        missing=["mcp:tools:read"],
        alternatives=[["mcp:connect", "mcp:tools:read"]],
        scope="mcp:connect mcp:tools:read",
    )
    assert prompts == {"prompts": []}  # the tools layer is not the prompts layer


@every_transport
async def test_without_the_call_layer_tools_are_hidden_and_calls_name_every_scope(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await install(hr(server_kind), **LAYERS)
    scopes = ["mcp:connect", "mcp:tools:read", "employees:read"]

    hidden = await listing(guarded, scopes, "tools")
    refused = await guarded.ask(scopes, "tools/call", {"name": "list_employees", "arguments": {}})
    listed = await listing(guarded, [*scopes, "mcp:tools:call"], "tools")
    called = await guarded.ask([*scopes, "mcp:tools:call"], "tools/call", {"name": "server_time", "arguments": {}})

    assert hidden == {"tools": []}
    assert refusal_of(refused)["data"] == refusal_data(
        required=["employees:read", "mcp:connect", "mcp:tools:call"],
        missing=["mcp:tools:call"],
        alternatives=[["employees:read", "mcp:connect", "mcp:tools:call"]],
        scope="employees:read mcp:connect mcp:tools:call",
    )
    assert listed == {"tools": ["list_employees", "server_time"]}
    assert called.result is not None and called.result["structuredContent"] == {"result": "noon"}


@every_transport
async def test_layers_given_as_a_list_apply_to_every_kind(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), list_scopes=["mcp:read"], call_scopes="mcp:call")

    prompts = await guarded.ask(["hr:review", "docs:read"], "prompts/list")
    resources = await guarded.ask(["hr:review", "docs:read"], "resources/list")
    listed = await listing(guarded, ["hr:review", "docs:read", "mcp:read"], "prompts")
    read = await guarded.ask(["hr:review", "docs:read", "mcp:read"], "resources/read", {"uri": "hr://policies"})

    assert refusal_of(prompts)["data"]["missing"] == refusal_of(resources)["data"]["missing"] == ["mcp:read"]
    assert listed == {"prompts": []}
    assert refusal_of(read)["data"]["scope"] == "docs:read mcp:call"


UPDATE: dict[str, Any] = {"name": "update_salary", "arguments": {"employee": "a", "amount": 1}}


@every_transport
async def test_challenges_can_include_the_token_scopes(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), scope_challenge_include_token_scopes=True, connect_scopes=["mcp:connect"])

    answer = await guarded.ask(["mcp:connect", "employees:read", "calendar:read"], "tools/call", UPDATE)

    assert refusal_of(answer)["data"] == refusal_data(
        required=["employees:write", "mcp:connect"],
        missing=["employees:write"],
        alternatives=[["employees:write", "mcp:connect"], ["admin", "mcp:connect"]],
        scope="calendar:read employees:read employees:write mcp:connect",
    )


@every_transport
async def test_challenges_name_only_the_operation_by_default(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind))

    answer = await guarded.ask(["employees:read", "calendar:read"], "tools/call", UPDATE, protocol_version=MODERN)

    assert refusal_of(answer)["data"]["scope"] == "employees:write"
