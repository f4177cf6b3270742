"""Listings show a caller only what its token permits, on every lineage and transport; filtered results are
private to the token; with ``hide_unauthorized=False`` everything is listed with its requirement in ``_meta``."""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes.testing import scoped_client

from .conftest import Install, ServerKind, every_transport, hr, in_process_only, listing, skip_unless

META_KEY = "io.github.fastmcp-scopes/requires"


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
