"""Over HTTP a request is decided once: before dispatch. The server's own middleware takes the decision
handed on for that very request instead of working it out again (which, for a requirement computed
from the arguments, such as ``execute_graphql``'s, means analysing the query again)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx2
from mcp.server.mcpserver import MCPServer

from fastmcp_scopes import Requirement, ScopeGuard, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer


async def test_an_allowed_call_computes_its_requirement_once() -> None:
    computed: list[Mapping[str, Any]] = []

    def scopes_of(arguments: Mapping[str, Any]) -> Requirement:
        computed.append(dict(arguments))
        return Requirement.all_of(f"{arguments['table']}:read")

    mcp = MCPServer("once")

    @mcp.tool()
    @requires_scopes(per_call=scopes_of)
    def query(table: str) -> str:
        return table

    async with DevAuthorizationServer(scopes=["employees:read"]) as auth:

        def app(base: str) -> Any:
            ScopeGuard(issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp").install(mcp)
            return mcp.streamable_http_app(json_response=True, stateless_http=True)

        loopback = LoopbackServer(app_factory=app, lifespan="on")
        async with loopback, httpx2.AsyncClient() as http:
            url = f"{loopback.base_url}/mcp"
            token = auth.issue_token(scopes=["employees:read"], audience=url)
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "query", "arguments": {"table": "employees"}},
            }
            response = await http.post(
                url,
                content=json.dumps(body).encode(),
                headers={
                    "authorization": f"Bearer {token}",
                    "accept": "application/json, text/event-stream",
                    "content-type": "application/json",
                    "mcp-protocol-version": "2025-11-25",
                },
            )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["isError"] is False
    assert computed == [{"table": "employees"}]
