"""The employees MCP server on any server lineage, for ``bash scripts/demo --server LINEAGE``.

The same two tools as the demo's own server, written as a user of each lineage writes them: the lineage's
``tool()`` decorator and ``@requires_scopes(graphql=...)`` on the operation file, whose scopes the guard
derives from ``schema.graphql`` at install. Run in that lineage's environment (``.venvs/<lane>``)::

    python -m examples.employees.lineage_server --lineage sdk1 --issuer URL --jwks-uri URL --port 8000

It imports nothing of the demo's MCPServer-only modules, so it runs beside mcp 1.x too.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import uvicorn
from graphql import graphql_sync

from examples.employees.api import EmployeesAPI
from fastmcp_scopes import ScopeGuard, requires_scopes

HERE = Path(__file__).parent
OPERATIONS = HERE / "operations"
LINEAGES = ("sdk1", "sdk2", "fastmcp3", "fastmcp4")


def _server(lineage: str) -> Any:
    if lineage == "sdk1":
        from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined,unused-ignore]

        return FastMCP("employees", json_response=True, log_level="WARNING")
    if lineage == "sdk2":
        from mcp.server.mcpserver import MCPServer

        return MCPServer("employees", log_level="WARNING")
    from fastmcp import FastMCP as StandaloneFastMCP

    return StandaloneFastMCP("employees")


def build(lineage: str, *, issuer: str, jwks_uri: str, resource_url: str) -> Any:
    """The guarded server of ``lineage`` and its streamable-HTTP app at ``/mcp``."""
    guard = ScopeGuard(  # configured as the demo's own server is: demo.env, the schema, the servers' addresses
        _env_file=HERE / "demo.env",
        issuer=issuer,
        jwks_uri=jwks_uri,
        resource_url=resource_url,
        graphql_schema=str(HERE / "schema.graphql"),
    )
    schema = guard.graphql_schema().schema
    api = EmployeesAPI()
    server = _server(lineage)

    def run(operation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        result = graphql_sync(schema, (OPERATIONS / operation).read_text(), api.root_value(), variable_values=variables)
        if result.errors:
            raise ValueError(result.errors[0].message)
        return dict(result.data or {})

    @server.tool()
    @requires_scopes(graphql=str(OPERATIONS / "get_employees.graphql"))
    def get_employees() -> dict[str, Any]:
        """List every employee with their current mood."""
        return run("get_employees.graphql")

    @server.tool()
    @requires_scopes(graphql=str(OPERATIONS / "update_employee_mood.graphql"))
    def update_employee_mood(employeeID: int, mood: str) -> dict[str, Any]:
        """Set an employee's mood."""
        return run("update_employee_mood.graphql", {"employeeID": employeeID, "mood": mood})

    guard.install(server)
    if lineage == "sdk1":
        return server.streamable_http_app()
    if lineage == "sdk2":
        return server.streamable_http_app(json_response=True)
    return server.http_app(path="/mcp", json_response=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lineage", choices=LINEAGES, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--jwks-uri", required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    logging.getLogger("fastmcp_scopes").setLevel(logging.ERROR)  # the agent's trace tells the story
    url = f"http://127.0.0.1:{arguments.port}/mcp"
    app = build(arguments.lineage, issuer=arguments.issuer, jwks_uri=arguments.jwks_uri, resource_url=url)
    uvicorn.run(app, host="127.0.0.1", port=arguments.port, log_level="error")


if __name__ == "__main__":
    main()
