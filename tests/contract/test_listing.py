"""Listings show a caller only what its token permits, on every lineage and transport; filtered results are
private to the token; with ``hide_unauthorized=False`` everything is listed with its requirement in ``_meta``,
and each tool with the security schemes a client asks for to call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from fastmcp_scopes.testing import scoped_client

from .conftest import (
    SDK_MAJOR,
    Guarded,
    Install,
    ServerKind,
    every_transport,
    hr,
    http_only,
    in_process_only,
    listing,
    skip_unless,
)

META_KEY = "io.github.fastmcp-scopes/requires"
SCHEMES_KEY = "securitySchemes"
PLANNING: dict[str, Any] = {
    "hide_unauthorized": False,
    "connect_scopes": ["mcp:connect"],
    "list_scopes": {"tools": ["mcp:tools:read"]},
    "call_scopes": {"tools": ["mcp:tools:call"]},
    "hierarchy": {"admin": ["hr:approve"]},
}
"""Everything listed, layered scopes, and a hierarchy under which ``admin`` alone stands for ``hr:approve``."""


def oauth2(*scopes: str) -> dict[str, Any]:
    return {"type": "oauth2", "scopes": list(scopes)}


SCHEMES: dict[str, Any] = {
    # The scopes a client asks for to call each tool: the connect and call layers with its own; any one scheme.
    "list_employees": [oauth2("employees:read", "mcp:connect", "mcp:tools:call")],
    "update_salary": [
        oauth2("employees:write", "mcp:connect", "mcp:tools:call"),
        oauth2("admin", "mcp:connect", "mcp:tools:call"),
    ],
    "approve_raise": [
        oauth2("employees:write", "hr:approve", "mcp:connect", "mcp:tools:call"),
        oauth2("admin", "mcp:connect", "mcp:tools:call"),  # admin implies hr:approve: not asked for twice
    ],
    "server_time": [oauth2("mcp:connect", "mcp:tools:call")],  # declares nothing: the layers alone
    "query": [oauth2("db:query", "mcp:connect", "mcp:tools:call")],  # and per call, the table it reads
}
OWN: dict[str, Any] = {
    "list_employees": [["employees:read"]],
    "update_salary": [["employees:write"], ["admin"]],
    "approve_raise": [["employees:write", "hr:approve"], ["admin", "hr:approve"]],
    "server_time": None,
    "query": [["db:query"]],
}


@every_transport
@pytest.mark.parametrize(
    ("scopes", "tools"),
    [
        ([], ["server_time"]),
        (["employees:read"], ["list_employees", "server_time"]),
        (["employees:write"], ["update_salary", "server_time"]),
        (["admin", "hr:approve"], ["update_salary", "approve_raise", "server_time"]),
        (
            ["employees:read", "employees:write", "hr:approve"],
            ["list_employees", "update_salary", "approve_raise", "server_time"],
        ),
        (["db:query"], ["server_time", "query"]),
    ],
)
async def test_tools_list_shows_what_the_token_permits(
    server_kind: ServerKind, install: Install, scopes: list[str], tools: list[str]
) -> None:
    guarded = await install(hr(server_kind))

    assert await listing(guarded, scopes, "tools") == {"tools": tools}


@every_transport
async def test_resources_templates_and_prompts_are_listed_per_token(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind))

    assert await listing(guarded, []) == {"tools": ["server_time"], "prompts": [], "resources": [], "templates": []}
    assert await listing(guarded, ["docs:read", "employees:read", "hr:review"]) == {
        "tools": ["list_employees", "server_time"],
        "prompts": ["performance_review"],
        "resources": ["hr://policies"],
        "templates": ["hr://employees/{employee_id}"],
    }


@every_transport
async def test_listing_everything_carries_each_requirement_in_meta(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(hr(server_kind), hide_unauthorized=False)

    shown: dict[str, dict[str, Any]] = {}
    for kind, method, key, field in [
        ("tools", "tools/list", "tools", "name"),
        ("prompts", "prompts/list", "prompts", "name"),
        ("resources", "resources/list", "resources", "uri"),
        ("templates", "resources/templates/list", "resourceTemplates", "uriTemplate"),
    ]:
        answer = await guarded.ask([], method)
        assert answer.result is not None, answer.whole()
        shown[kind] = {item[field]: (item.get("_meta") or {}).get(META_KEY) for item in answer.result[key]}
    still_refused = await guarded.ask([], "tools/call", {"name": "list_employees", "arguments": {}})

    assert shown == {
        "tools": {
            "list_employees": [["employees:read"]],
            "update_salary": [["employees:write"], ["admin"]],
            "approve_raise": [["employees:write", "hr:approve"], ["admin", "hr:approve"]],
            "server_time": None,
            "query": [["db:query"]],
        },
        "prompts": {"performance_review": [["hr:review"]]},
        "resources": {"hr://policies": [["docs:read"]]},
        "templates": {"hr://employees/{employee_id}": [["employees:read"]]},
    }
    assert still_refused.error is not None and still_refused.error["code"] == -32003


@pytest.mark.spec("mcp/listing-varies")
@in_process_only
async def test_filtered_results_are_private_to_the_token(server_kind: ServerKind, install: Install) -> None:
    skip_unless(server_kind.new_with_cache_hint, f"no public cache hint written for {server_kind.name}")
    assert server_kind.new_with_cache_hint is not None
    guarded = await install(hr(server_kind, server=server_kind.new_with_cache_hint("hr")))

    async with scoped_client(guarded.server, ["employees:read"]) as client:
        results = [
            await client.list_tools(),
            await client.list_prompts(),
            await client.list_resources(),
            await client.list_resource_templates(),
            await client.read_resource("hr://employees/7"),
        ]

    assert [(r.cache_scope, r.ttl_ms) for r in results] == [("private", 60_000)] * 5


async def test_unguarded_the_same_server_answers_publicly(server_kind: ServerKind) -> None:
    """The control for the test above: making the results private is the guard's doing."""
    skip_unless(server_kind.new_with_cache_hint, f"no public cache hint written for {server_kind.name}")
    assert server_kind.new_with_cache_hint is not None
    server = hr(server_kind, server=server_kind.new_with_cache_hint("hr"))

    async with scoped_client(server, []) as client:
        tools = await client.list_tools()

    assert (tools.cache_scope, tools.ttl_ms) == ("public", 60_000)
    assert len(tools.tools) == 5


@every_transport
async def test_listing_everything_gives_each_tool_its_security_schemes(
    server_kind: ServerKind, install: Install
) -> None:
    """The shape of the MCP draft for per-tool security schemes, in ``_meta`` beside our own key: what a caller
    holding only the baseline needs to plan every step-up before calling anything."""
    guarded = await install(hr(server_kind), **PLANNING)

    tools = await guarded.ask(["mcp:connect", "mcp:tools:read"], "tools/list")
    prompts = await guarded.ask(["mcp:connect"], "prompts/list")

    assert tools.result is not None, tools.whole()
    metas = {tool["name"]: tool.get("_meta") or {} for tool in tools.result["tools"]}
    assert {name: meta.get(SCHEMES_KEY) for name, meta in metas.items()} == SCHEMES
    assert {name: meta.get(META_KEY) for name, meta in metas.items()} == OWN
    assert prompts.result is not None, prompts.whole()
    assert [SCHEMES_KEY in (p.get("_meta") or {}) for p in prompts.result["prompts"]] == [False]


@every_transport
async def test_hidden_listings_carry_no_schemes(server_kind: ServerKind, install: Install) -> None:
    """The default lists only what is callable, as the server made it: nothing to plan, nothing added."""
    guarded = await install(hr(server_kind), **{**PLANNING, "hide_unauthorized": True})

    tools = await guarded.ask(["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:read"], "tools/list")

    assert tools.result is not None, tools.whole()
    assert [t["name"] for t in tools.result["tools"]] == ["list_employees", "server_time"]
    assert [{SCHEMES_KEY, META_KEY} & set(t.get("_meta") or {}) for t in tools.result["tools"]] == [set(), set()]


@asynccontextmanager
async def sdk_client_over_http(guarded: Guarded, scopes: list[str], mode: str) -> AsyncIterator[Any]:
    """The MCP SDK's own client (this environment's major) over streamable HTTP, with a bearer token; ``mode``
    on mcp 2.x (1.x has the handshake only)."""
    headers = {"authorization": f"Bearer {guarded.token(scopes)}"}
    if SDK_MAJOR >= 2:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(guarded.url, http_client=http), mode=mode) as client,
        ):
            yield client
        return
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(guarded.url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@http_only
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdks_own_client_reads_the_schemes_over_http(
    server_kind: ServerKind, install: Install, mode: str
) -> None:
    """In both protocol eras where the client has them (``auto``: 2026-07-28 where the server speaks it)."""
    skip_unless(mode == "legacy" or SDK_MAJOR >= 2, "mcp 1.x's client has the handshake only")
    guarded = await install(hr(server_kind), json_response=False, stateless_http=False, **PLANNING)

    async with sdk_client_over_http(guarded, ["mcp:connect", "mcp:tools:read"], mode) as client:
        listed = (await client.list_tools()).tools

    assert {tool.name: (tool.meta or {}).get(SCHEMES_KEY) for tool in listed} == SCHEMES
