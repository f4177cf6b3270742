"""A server whose tools declare their scopes with ``@requires_scopes``.

Run it over HTTP against your authorization server::

    FASTMCP_SCOPES_ISSUER=https://auth.example.com \\
    FASTMCP_SCOPES_JWKS_URI=https://auth.example.com/jwks \\
    FASTMCP_SCOPES_RESOURCE_URL=http://127.0.0.1:8000/mcp \\
    FASTMCP_SCOPES_SCOPES_SUPPORTED="employees:read" \\
    python -m examples.decorated_server

or over stdio for local use, granting scopes through configuration::

    FASTMCP_SCOPES_STDIO_SCOPES="employees:read" python -m examples.decorated_server --stdio
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer

from fastmcp_scopes import ScopeGuard, requires_scopes

mcp = MCPServer("employees")

EMPLOYEES: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Ada", "mood": "curious"},
    2: {"id": 2, "name": "Grace", "mood": "calm"},
}


@mcp.tool()
@requires_scopes("employees:read")
def get_employees() -> list[dict[str, Any]]:
    """Every employee with their mood."""
    return list(EMPLOYEES.values())


@mcp.tool()
@requires_scopes("employees:write")
def update_employee_mood(employee_id: int, mood: str) -> dict[str, Any]:
    """Record how an employee feels."""
    employee = EMPLOYEES[employee_id]
    employee["mood"] = mood
    return employee


@mcp.tool()
@requires_scopes(any_of=[["schema:read", "employees:read"], ["admin"]])
def get_schema() -> str:
    """What an employee record holds."""
    return "Employee { id: int, name: str, mood: str }"


@mcp.resource("employees://{employee_id}")
@requires_scopes("employees:read")
def employee(employee_id: str) -> dict[str, Any]:
    """One employee, as a resource."""
    return EMPLOYEES[int(employee_id)]


@mcp.prompt()
@requires_scopes("employees:read")
def check_in(name: str) -> str:
    """A friendly check-in message."""
    return f"Ask {name} how they are feeling today."


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="The employees server, guarded by fastmcp-scopes.")
    parser.add_argument("--stdio", action="store_true", help="serve over stdio instead of streamable HTTP")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port on 127.0.0.1 (default 8000)")
    arguments = parser.parse_args(argv)
    report = ScopeGuard().install(mcp)
    if report.undeclared:
        print("undeclared:", ", ".join(report.undeclared), file=sys.stderr)
    if arguments.stdio:
        mcp.run("stdio")
    else:
        mcp.run("streamable-http", host="127.0.0.1", port=arguments.port)


if __name__ == "__main__":
    main(sys.argv[1:])
