"""Requirements computed from a call's arguments (what ``execute_graphql`` needs), in-process and over HTTP."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import ScopeGuard, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, scoped_client

from ..http.rpc import post_rpc, tool_call
from .hr import scopes_of_table

executed: list[str] = []


def server() -> MCPServer:
    mcp = MCPServer("per-call")

    @mcp.tool()
    @requires_scopes("db:query", per_call=scopes_of_table)
    def query(table: str) -> str:
        executed.append(table)
        return table

    return mcp


@pytest.fixture(autouse=True)
def _clear() -> None:
    executed.clear()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_arguments_decide_the_scopes(mode: str) -> None:
    mcp = server()
    ScopeGuard().install(mcp)
    async with scoped_client(mcp, ["db:query", "employees:read"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["query"]  # listing: the static part
        assert (await client.call_tool("query", {"table": "employees"})).is_error is False
        with pytest.raises(MCPError) as refused:
            await client.call_tool("query", {"table": "salaries"})
        with pytest.raises(MCPError) as invalid:
            await client.call_tool("query", {"table": "../etc"})
    assert refused.value.error.code == -32003
    assert refused.value.error.data["missing"] == ["salaries:read"]
    assert invalid.value.error.code == -32602
    assert executed == ["employees"]


async def test_over_http_the_arguments_are_challenged_before_dispatch() -> None:
    mcp = server()
    async with DevAuthorizationServer(scopes=["db:query", "employees:read", "salaries:read"]) as auth:

        def factory(base: str) -> Any:
            ScopeGuard(issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp").install(mcp)
            return mcp.streamable_http_app(json_response=True, stateless_http=True)

        loopback = LoopbackServer(app_factory=factory, lifespan="on")
        async with loopback, httpx2.AsyncClient() as http:
            url = f"{loopback.base_url}/mcp"
            metadata_url = f"{loopback.base_url}/.well-known/oauth-protected-resource/mcp"
            token = auth.issue_token(scopes=["db:query", "employees:read"], audience=url)
            refused = await post_rpc(http, url, tool_call("query", {"table": "salaries"}), token)
            invalid = await post_rpc(http, url, tool_call("query", {"table": "../etc"}), token)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Missing scopes: salaries:read", '
        f'scope="db:query salaries:read", resource_metadata="{metadata_url}"'
    )
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == -32602
    assert executed == []


async def test_a_public_cache_hint_on_a_guarded_read_becomes_private() -> None:
    mcp = MCPServer("cached", cache_hints={"resources/read": CacheHint(ttl_ms=60_000, scope="public")})

    @mcp.resource("reports://salaries")
    @requires_scopes("salaries:read")
    def salaries() -> str:
        return "confidential"

    ScopeGuard().install(mcp)
    async with scoped_client(mcp, ["salaries:read"], mode="auto") as client:
        result = await client.read_resource("reports://salaries")
    assert result.cache_scope == "private"
    assert result.ttl_ms == 60_000
