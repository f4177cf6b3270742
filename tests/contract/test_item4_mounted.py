"""Issue 8, item 4: a mounted child server's ``@requires_scopes`` applies under the parent's guard: its
primitives are hidden from a token without the scope and refused to it, by their prefixed names."""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes

from ..adapters.hr import refusal_data
from .conftest import Install, ServerKind, skip_unless, succeeded


def parent_with_child(kind: ServerKind, ran: list[str]) -> Any:
    assert kind.mount is not None
    child = kind.new("child")

    @child.tool()
    @requires_scopes("admin:purge")
    def purge() -> str:
        ran.append("purge")
        return "purged"

    @child.prompt()
    @requires_scopes("hr:review")
    def review(employee: str) -> str:
        ran.append("review")
        return f"Review {employee}"

    @child.resource("memo://{name}")
    @requires_scopes("memo:read")
    def memo(name: str) -> str:
        ran.append("memo")
        return f"memo {name}"

    parent = kind.new("parent")

    @parent.tool()
    def ping() -> str:
        return "pong"

    kind.mount(parent, child, "kid")
    return parent


def names(answer: Any, key: str, field: str) -> list[str]:
    assert answer.result is not None, answer.whole()
    return [item[field] for item in answer.result[key]]


@pytest.mark.parametrize(
    ("method", "key", "field", "hidden"),
    [
        ("tools/list", "tools", "name", "kid_purge"),
        ("prompts/list", "prompts", "name", "kid_review"),
        ("resources/templates/list", "resourceTemplates", "uriTemplate", "memo://kid/{name}"),
    ],
)
async def test_the_childs_primitives_are_hidden_without_their_scope(
    server_kind: ServerKind,
    install: Install,
    method: str,
    key: str,
    field: str,
    hidden: str,
) -> None:
    skip_unless(server_kind.mount, f"{server_kind.name} cannot mount servers")
    guarded = await install(parent_with_child(server_kind, []))

    without = names(await guarded.ask([], method), key, field)
    with_all = names(await guarded.ask(["admin:purge", "hr:review", "memo:read"], method), key, field)

    assert hidden in with_all  # the child's primitive, under the name this lineage mounts it as
    assert hidden not in without


CALLS = [
    pytest.param("tools/call", {"name": "kid_purge", "arguments": {}}, "admin:purge", id="tool"),
    pytest.param("prompts/get", {"name": "kid_review", "arguments": {"employee": "a"}}, "hr:review", id="prompt"),
    pytest.param("resources/read", {"uri": "memo://kid/x"}, "memo:read", id="template"),
]


@pytest.mark.parametrize(("method", "params", "scope"), CALLS)
async def test_the_childs_primitives_are_refused_without_their_scope(
    server_kind: ServerKind,
    install: Install,
    method: str,
    params: dict[str, Any],
    scope: str,
) -> None:
    skip_unless(server_kind.mount, f"{server_kind.name} cannot mount servers")
    ran: list[str] = []
    guarded = await install(parent_with_child(server_kind, ran))

    answer = await guarded.ask([], method, params)

    assert answer.error is not None, answer.whole()
    assert answer.error["data"] == refusal_data([scope], [scope], [[scope]], scope)
    assert answer.status in (None, 403)
    assert ran == []


@pytest.mark.parametrize(("method", "params", "scope"), CALLS)
async def test_the_childs_primitives_run_with_their_scope(
    server_kind: ServerKind, install: Install, method: str, params: dict[str, Any], scope: str
) -> None:
    skip_unless(server_kind.mount, f"{server_kind.name} cannot mount servers")
    ran: list[str] = []
    guarded = await install(parent_with_child(server_kind, ran))

    answer = await guarded.ask([scope], method, params)

    assert succeeded(answer), answer.whole()
    assert len(ran) == 1


async def test_the_childs_own_names_reach_nothing_on_the_parent(server_kind: ServerKind, install: Install) -> None:
    skip_unless(server_kind.mount, f"{server_kind.name} cannot mount servers")
    ran: list[str] = []
    guarded = await install(parent_with_child(server_kind, ran))

    answers = [
        await guarded.ask([], "tools/call", {"name": "purge", "arguments": {}}),
        await guarded.ask([], "prompts/get", {"name": "review", "arguments": {"employee": "a"}}),
        await guarded.ask([], "resources/read", {"uri": "memo://x"}),
    ]

    assert [succeeded(a) for a in answers] == [False, False, False]
    assert ran == []
