"""``hidden_calls="not_found"`` over HTTP in the 2026-07-28 era: the SDK validates ``Mcp-Param-*`` headers
against the named tool's schema before dispatch, so a hidden tool must be hidden from that check too."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx2
import pytest
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from fastmcp_scopes import ScopeGuard, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer

from .rpc import post_rpc, tool_call

Region = Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]


def server() -> MCPServer:
    mcp = MCPServer("regions")

    @mcp.tool()
    @requires_scopes("payroll:run")
    def run_payroll(region: Region) -> str:
        return region

    return mcp


async def answer(http: httpx2.AsyncClient, url: str, token: str, name: str) -> tuple[int, Any]:
    body = tool_call(name, {"region": "eu"})
    body["params"]["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = {
        "mcp-method": "tools/call",
        "mcp-name": name,
        "mcp-param-region": "us",  # disagrees with the body: the SDK refuses this for a tool it knows
    }
    response = await post_rpc(http, url, body, token, protocol_version="2026-07-28", headers=headers)
    return response.status_code, response.json()


@pytest.mark.spec("design/hidden-not-found")
async def test_a_hidden_tool_answers_like_a_missing_one_even_with_param_headers() -> None:
    mcp = server()
    async with DevAuthorizationServer(scopes=["payroll:run", "other"]) as auth:

        def app(base: str) -> Any:
            guard = ScopeGuard(
                issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp", hidden_calls="not_found"
            )
            guard.install(mcp)
            return mcp.streamable_http_app(json_response=True, stateless_http=True)

        loopback = LoopbackServer(app_factory=app, lifespan="on")
        async with loopback, httpx2.AsyncClient() as http:
            url = f"{loopback.base_url}/mcp"
            outsider = auth.issue_token(scopes=["other"], audience=url)
            insider = auth.issue_token(scopes=["payroll:run"], audience=url)
            visible = await answer(http, url, insider, "run_payroll")
            hidden = await answer(http, url, outsider, "run_payroll")
            missing = await answer(http, url, outsider, "run_payrolx")
    assert visible[0] == 400  # the header check does run for a caller who may see the tool
    assert visible[1]["error"]["code"] == -32020  # HEADER_MISMATCH
    assert hidden[0] == missing[0]
    assert json.dumps(hidden[1]).replace("run_payroll", "NAME") == json.dumps(missing[1]).replace("run_payrolx", "NAME")
