"""Issue 8, item 1: a fastmcp app tool is reached by its listed name and by the hashed name
``__<hash>_<name>`` that fastmcp's dispatcher falls back to; both are decided alike."""

from __future__ import annotations

import pytest

from .conftest import Install, ServerKind, assert_refused_like, dashboard, skip_unless, succeeded


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("plain", id="listed-name"),
        pytest.param("hashed", id="hashed-name"),
    ],
)
async def test_without_the_scope_every_name_of_the_tool_is_refused(
    server_kind: ServerKind, install: Install, name: str
) -> None:
    skip_unless(server_kind.hashed_name, f"{server_kind.name} has no hashed tool names")
    assert server_kind.hashed_name is not None
    ran: list[str] = []
    guarded = await install(dashboard(server_kind, ran))
    called = "purge" if name == "plain" else server_kind.hashed_name("Dashboard", "purge")

    plain = await guarded.ask([], "tools/call", {"name": "purge", "arguments": {}})
    answer = await guarded.ask([], "tools/call", {"name": called, "arguments": {}})

    assert_refused_like(answer, plain)
    assert ran == []


async def test_with_the_scope_the_hashed_name_runs(server_kind: ServerKind, install: Install) -> None:
    skip_unless(server_kind.hashed_name, f"{server_kind.name} has no hashed tool names")
    assert server_kind.hashed_name is not None
    ran: list[str] = []
    guarded = await install(dashboard(server_kind, ran))

    answer = await guarded.ask(
        ["admin:purge"], "tools/call", {"name": server_kind.hashed_name("Dashboard", "purge"), "arguments": {}}
    )

    assert succeeded(answer), answer.whole()
    assert ran == ["purge"]


async def test_not_found_the_hashed_name_of_a_hidden_tool_answers_like_its_plain_name(
    server_kind: ServerKind, install: Install
) -> None:
    skip_unless(server_kind.hashed_name, f"{server_kind.name} has no hashed tool names")
    assert server_kind.hashed_name is not None
    ran: list[str] = []
    guarded = await install(dashboard(server_kind, ran), hidden_calls="not_found")
    hashed = server_kind.hashed_name("Dashboard", "purge")

    plain = await guarded.ask([], "tools/call", {"name": "purge", "arguments": {}})
    answer = await guarded.ask([], "tools/call", {"name": hashed, "arguments": {}})

    assert answer.whole(hashed) == plain.whole("purge")
    assert ran == []
