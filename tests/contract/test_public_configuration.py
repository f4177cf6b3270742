"""Issue 14, part 1: declaring primitives public, by decorator and by configuration, and what stops start-up.

Public is never a default and never mixed with scopes: ``@public`` with ``@requires_scopes`` (either order), a
``FASTMCP_SCOPES_PUBLIC_TOOLS`` name that is also in ``FASTMCP_SCOPES_TOOL_SCOPES`` or declares scopes, and a
``PUBLIC_*`` name the server does not have all stop start-up with a message that says what to change."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest

from fastmcp_scopes import ConfigurationError, ScopeGuard, public, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer

from .conftest import Guarded, Install, ServerKind, in_process_only, listing, serve, succeeded
from .test_public import CONNECT, OPTIONS, refused_anonymously


def test_public_with_requires_scopes_stops_the_import_in_either_order() -> None:
    with pytest.raises(ConfigurationError, match=r"declared @public and with @requires_scopes.*remove one"):

        @public
        @requires_scopes("a")
        def above() -> None: ...

    with pytest.raises(ConfigurationError, match=r"declared @public and with @requires_scopes"):

        @requires_scopes("a")
        @public
        def below() -> None: ...


def test_public_twice_is_public() -> None:
    @public
    @public
    def twice() -> None: ...

    assert twice.__fastmcp_scopes__.public is True  # type: ignore[attr-defined]


def configured_server(kind: ServerKind, ran: list[str]) -> Any:
    """Nothing decorated public: the configuration decides."""
    server = kind.new("configured")

    @server.tool()
    def search(query: str) -> str:
        ran.append("search")
        return query

    @server.tool()
    def update(item: str) -> str:
        ran.append("update")
        return item

    @server.prompt()
    def greeting() -> str:
        return "hello"

    @server.resource("info://about")
    def about() -> str:
        return "about"

    @server.resource("docs://{name}")
    def doc(name: str) -> str:
        return name

    return server


@in_process_only
async def test_the_settings_make_primitives_public(
    server_kind: ServerKind, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_TOOLS", "search")
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_PROMPTS", '["greeting"]')
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_RESOURCES", "info://about, docs://{name}")
    ran: list[str] = []
    guarded = await install(configured_server(server_kind, ran), **OPTIONS, undeclared="deny")
    guarded.ran = ran

    shown = await listing(guarded, None)
    searched = await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "q"}})
    read = await guarded.ask(None, "resources/read", {"uri": "docs://plans"})

    assert shown == {
        "tools": ["search"],
        "prompts": ["greeting"],
        "resources": ["info://about"],
        "templates": ["docs://{name}"],
    }
    assert succeeded(searched) and read.result is not None, (searched.whole(), read.whole())
    # With undeclared="deny", a primitive public by configuration is declared: it needs no scope of its own.
    held = await guarded.ask(
        [*CONNECT, "mcp:tools:call"], "tools/call", {"name": "search", "arguments": {"query": "q"}}
    )
    assert succeeded(held), held.whole()
    guarded.ran.clear()
    refused_anonymously(
        guarded, await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}}), "mcp:connect"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"public_tools": ["search"], "tool_scopes": {"search": ["a"]}},
            r"PUBLIC_TOOLS and FASTMCP_SCOPES_TOOL_SCOPES both name \['search'\]",
            id="public-and-tool-scopes",
        ),
        pytest.param(
            {"public_tools": ["serach"]},
            r"PUBLIC_TOOLS names 'serach', which is not a tool; did you mean 'search'\?",
            id="a-typo",
        ),
        pytest.param(
            {"public_prompts": ["search"]},
            r"PUBLIC_PROMPTS names 'search', which is not a prompt",
            id="another-kind",
        ),
        pytest.param(
            {"public_resources": ["docs://other"]},
            r"PUBLIC_RESOURCES names 'docs://other', which is not a resource; did you mean 'docs://\{name\}'\?",
            id="a-uri-not-a-template",
        ),
    ],
)
async def test_configuration_that_cannot_be_meant_stops_start_up(
    server_kind: ServerKind, options: dict[str, Any], message: str
) -> None:
    server = configured_server(server_kind, [])

    with pytest.raises(ConfigurationError, match=message):
        ScopeGuard(**options).install(server)


async def test_a_tool_declaring_scopes_cannot_be_made_public_by_configuration(server_kind: ServerKind) -> None:
    server = server_kind.new("declared")

    @server.tool()
    @requires_scopes("catalogue:write")
    def update(item: str) -> str:
        return item

    with pytest.raises(ConfigurationError, match=r"PUBLIC_TOOLS names 'update', which declares scopes"):
        ScopeGuard(public_tools=["update"]).install(server)


def test_public_settings_take_names_as_json_or_separated_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_TOOLS", "search, about  help")
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_RESOURCES", '["tpl://{a,b}"]')

    settings = ScopeGuard().settings

    assert settings.public_tools == ["search", "about", "help"]
    assert settings.public_resources == ["tpl://{a,b}"]
    assert settings.public_prompts == []


@pytest.mark.parametrize("value", ['{"search": true}', "[1]", '[""]'])
def test_a_public_setting_that_is_not_names_stops_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_TOOLS", value)

    with pytest.raises(ConfigurationError, match=r"FASTMCP_SCOPES_PUBLIC_TOOLS .* expected names"):
        ScopeGuard()


def test_a_misspelt_public_setting_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_PUBLIC_TOOL", "search")

    with pytest.raises(ConfigurationError, match="FASTMCP_SCOPES_PUBLIC_TOOLS"):
        ScopeGuard()


async def test_a_public_tool_cannot_be_given_scopes_by_configuration(server_kind: ServerKind) -> None:
    server = server_kind.new("declared")

    @server.tool()
    @public
    def search(query: str) -> str:
        return query

    with pytest.raises(ConfigurationError, match=r"TOOL_SCOPES names 'search', which is declared @public"):
        ScopeGuard(tool_scopes={"search": ["a"]}).install(server)


async def test_a_tool_made_public_between_install_and_serving_is_public_over_http(
    server_kind: ServerKind, dev_auth: DevAuthorizationServer
) -> None:
    ran: list[str] = []

    def factory(base: str) -> Any:
        server = server_kind.new("late")

        @server.tool()
        @requires_scopes("catalogue:write")
        def update(item: str) -> str:
            return item

        ScopeGuard(issuer=dev_auth.issuer, jwks_uri=dev_auth.jwks_uri, resource_url=f"{base}/mcp").install(server)

        @server.tool()
        @public
        def search(query: str) -> str:
            ran.append("search")
            return query

        return server_kind.http_app(server, True, True)

    async with AsyncExitStack() as stack:
        base = await serve(stack, factory)
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
        guarded = Guarded(server_kind, None, "http", dev_auth, f"{base}/mcp", http, base, ran)

        searched = await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "q"}})
        updated = await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}})

    assert succeeded(searched), searched.whole()
    assert updated.status == 401 and updated.error is not None, updated.whole()
    assert updated.error["data"]["scope"] == "catalogue:write"
    assert ran == ["search"]
