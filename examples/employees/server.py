"""The employees MCP server: one tool per operation file, scopes derived from the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from examples.employees.api import EmployeesAPI
from fastmcp_scopes import ScopeGuard
from fastmcp_scopes.graphql import GraphQLCoreEndpoint, add_operation_tools

HERE = Path(__file__).parent
SCHEMA = HERE / "schema.graphql"
OPERATIONS = HERE / "operations"
CONFIGURATION = HERE / "demo.env"

GRANTABLE = (
    "mcp:connect",
    "mcp:tools:read",
    "mcp:tools:call",
    "employees:read",
    "employees:write",
    "schema:read",
)
"""What the demo's authorization server will grant (never ``employees:salary:read`` or ``admin``)."""


def guard_for(*, issuer: str, jwks_uri: str, resource_url: str, **options: Any) -> ScopeGuard:
    """A guard configured as a user would: ``FASTMCP_SCOPES_*`` variables and the ``demo.env`` file,
    plus the addresses of the servers the demo started (and ``options`` on top)."""
    return ScopeGuard(
        _env_file=CONFIGURATION,
        issuer=issuer,
        jwks_uri=jwks_uri,
        resource_url=resource_url,
        graphql_schema=str(SCHEMA),
        **options,
    )


def build_app(guard: ScopeGuard) -> tuple[MCPServer, Starlette]:
    """The MCP server (tools from ``operations/``, scopes from the schema) and its HTTP app."""
    server = MCPServer("employees", instructions="Read employees and record their moods.", log_level="WARNING")
    schema = guard.graphql_schema()
    api = EmployeesAPI()
    add_operation_tools(
        server,
        OPERATIONS,
        schema=schema,
        endpoint=GraphQLCoreEndpoint(schema.schema, root_value=api.root_value()),
        get_schema=["schema:read"],
    )
    guard.install(server)
    return server, server.streamable_http_app(json_response=True)
