"""Operation tools behind real HTTP: the caller's bearer token never reaches the upstream GraphQL API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
from graphql import graphql
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from examples.employees.api import EmployeesAPI
from fastmcp_scopes import ScopeGuard
from fastmcp_scopes.graphql import load_schema
from fastmcp_scopes.graphql.operations import add_operation_tools
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer

from .rpc import post_rpc, tool_call

EMPLOYEES = Path(__file__).resolve().parents[2] / "examples" / "employees"


async def test_the_upstream_sees_its_own_credentials_and_never_the_callers_token() -> None:
    schema = load_schema(EMPLOYEES / "schema.graphql")
    api = EmployeesAPI()
    seen: list[dict[str, str]] = []

    async def upstream(request: Request) -> JSONResponse:
        seen.append({k.lower(): v for k, v in request.headers.items()})
        body = await request.json()
        result = await graphql(
            schema.schema,
            body["query"],
            root_value=api.root_value(),
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
        )
        return JSONResponse(
            {"data": result.data, **({"errors": [str(e) for e in result.errors]} if result.errors else {})}
        )

    graphql_api = LoopbackServer(Starlette(routes=[Route("/graphql", upstream, methods=["POST"])]))
    async with graphql_api, DevAuthorizationServer(scopes=["employees:read"]) as auth:
        server = MCPServer("employees")
        add_operation_tools(
            server,
            EMPLOYEES / "operations",
            schema=schema,
            endpoint=f"{graphql_api.base_url}/graphql",
            headers={"x-upstream-key": "upstream-secret"},
        )

        def app(base: str) -> Any:
            ScopeGuard(issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp").install(server)
            return server.streamable_http_app(json_response=True, stateless_http=True)

        mcp = LoopbackServer(app_factory=app, lifespan="on")
        async with mcp, httpx2.AsyncClient() as http:
            url = f"{mcp.base_url}/mcp"
            token = auth.issue_token(scopes=["employees:read"], audience=url)
            response = await post_rpc(http, url, tool_call("get_employees"), token)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["isError"] is False
    [headers] = seen
    assert headers["x-upstream-key"] == "upstream-secret"
    assert "authorization" not in headers
    assert token not in json.dumps(headers)
