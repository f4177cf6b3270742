"""Issue 14, part 1, end to end with the SDK's own OAuth client: a client that starts without a token uses the
server's public tool, and authorizes (with the development authorization server) only when it calls a protected
one, for exactly the scopes that call's ``401`` names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import ScopeGuard, parse_www_authenticate, public, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, MemoryTokenStorage

from .conftest import Recorder

GRANTABLE = ["mcp:connect", "catalogue:write"]


def build_server(calls: list[str]) -> MCPServer:
    mcp = MCPServer("catalogue")

    @mcp.tool()
    @public
    def search(query: str) -> str:
        calls.append("search")
        return f"found {query}"

    @mcp.tool()
    @requires_scopes("catalogue:write")
    def update(item: str) -> str:
        calls.append("update")
        return f"updated {item}"

    return mcp


@pytest.fixture
async def auth_server() -> AsyncIterator[DevAuthorizationServer]:
    async with DevAuthorizationServer(scopes=GRANTABLE) as server:
        yield server


@asynccontextmanager
async def deployed(auth_server: DevAuthorizationServer, calls: list[str], stateless: bool) -> AsyncIterator[str]:
    """The catalogue server, guarded, on loopback; its MCP endpoint's URL."""
    server = build_server(calls)
    urls: dict[str, str] = {}

    def factory(base: str) -> Any:
        urls["mcp"] = f"{base}/mcp"
        ScopeGuard(
            issuer=auth_server.issuer,
            jwks_uri=auth_server.jwks_uri,
            resource_url=f"{base}/mcp",
            connect_scopes=["mcp:connect"],
        ).install(server)
        return server.streamable_http_app(stateless_http=stateless)

    async with LoopbackServer(app_factory=factory, lifespan="on"):
        yield urls["mcp"]


@asynccontextmanager
async def client(
    auth_server: DevAuthorizationServer, url: str, storage: MemoryTokenStorage, mode: str, recorder: Recorder
) -> AsyncIterator[Client]:
    """The SDK's client with its client-credentials OAuth client, registered with the development server and
    asking for no scope until a challenge names some; every exchange recorded."""
    registered = auth_server.register_client()
    provider = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=storage,
        client_id=registered.client_id,
        client_secret=registered.client_secret or "",
        issuer=auth_server.issuer,
    )
    async with (
        httpx2.AsyncClient(auth=provider, event_hooks={"response": [recorder]}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as mcp,  # type: ignore[arg-type]
    ):
        yield mcp


@pytest.mark.parametrize(
    ("mode", "stateless"),
    [("legacy", True), ("auto", True), ("auto", False)],
    ids=["legacy-stateless", "auto-stateless", "auto-stateful"],
)
async def test_a_client_starts_without_a_token_and_authorizes_for_the_protected_tool(
    auth_server: DevAuthorizationServer, mode: str, stateless: bool
) -> None:
    calls: list[str] = []
    recorder = Recorder()
    storage = MemoryTokenStorage()
    async with deployed(auth_server, calls, stateless) as url, client(auth_server, url, storage, mode, recorder) as mcp:
        listed = await mcp.list_tools()
        searched = await mcp.call_tool("search", {"query": "lamps"})
        assert storage.tokens is None  # no token so far: nothing asked for one
        updated = await mcp.call_tool("update", {"item": "lamp"})
        relisted = await mcp.list_tools()

    assert [tool.name for tool in listed.tools] == ["search"]
    assert searched.is_error is False and searched.content[0].text == "found lamps"  # type: ignore[union-attr]
    assert updated.is_error is False and updated.content[0].text == "updated lamp"  # type: ignore[union-attr]
    assert sorted(tool.name for tool in relisted.tools) == ["search", "update"]
    assert calls == ["search", "update"]
    assert storage.tokens is not None and set((storage.tokens.scope or "").split()) == {
        "catalogue:write",
        "mcp:connect",
    }
    to_server = recorder.to(url)
    challenges = [e for e in to_server if e.status == 401]
    assert [parse_www_authenticate(e.www_authenticate or "") for e in challenges] == [
        {
            "scope": "catalogue:write mcp:connect",
            "resource_metadata": f"{url.removesuffix('/mcp')}/.well-known/oauth-protected-resource/mcp",
        }
    ]
    assert all(e.status < 400 for e in to_server if e.status != 401), [(e.method, e.status) for e in to_server]


async def test_a_handshake_session_opened_without_a_token_is_not_continued_with_one(
    auth_server: DevAuthorizationServer,
) -> None:
    """The limit of a stateful server in the handshake era: the SDK binds a session to the credential that opened
    it, so once the client has authorized, the session it opened without a token answers "Session not found" (as
    another caller's would), and mcp 2.3's client does not open a new one. Stateless servers, and the 2026-07-28
    era, have no such session (the test above)."""
    calls: list[str] = []
    storage = MemoryTokenStorage()
    async with (
        deployed(auth_server, calls, stateless=False) as url,
        client(auth_server, url, storage, "legacy", Recorder()) as mcp,
    ):
        searched = await mcp.call_tool("search", {"query": "lamps"})
        with pytest.raises(MCPError, match="Session not found"):
            await mcp.call_tool("update", {"item": "lamp"})

    assert searched.is_error is False
    assert calls == ["search"]
