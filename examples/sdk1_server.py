"""The employees server on the MCP Python SDK 1.x ``FastMCP`` (``pip install "mcp>=1.24,<2" fastmcp-scopes``).

The same decorators and the same ``ScopeGuard().install(mcp)`` as on the 2.x ``MCPServer``
(``examples/decorated_server.py``); only the SDK's import and ``run`` differ. Over HTTP::

    FASTMCP_SCOPES_ISSUER=https://auth.example.com \\
    FASTMCP_SCOPES_JWKS_URI=https://auth.example.com/jwks \\
    FASTMCP_SCOPES_RESOURCE_URL=http://127.0.0.1:8000/mcp \\
    python -m examples.sdk1_server

``fastmcp-scopes server examples.sdk1_server:mcp`` prints what each primitive needs.
"""

from __future__ import annotations

import sys
from typing import Any

from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined,unused-ignore]  # mcp 1.x

from fastmcp_scopes import ScopeGuard, requires_scopes

mcp = FastMCP("employees")

EMPLOYEES: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Ada", "mood": "curious"},
    2: {"id": 2, "name": "Grace", "mood": "calm"},
}


@mcp.tool()
@requires_scopes("employees:read")
def get_employees() -> list[dict[str, Any]]:
    """Every employee with their mood."""
    return list(EMPLOYEES.values())


@requires_scopes("employees:write")  # above or below the SDK's decorator, alike
@mcp.tool()
def update_employee_mood(employee_id: int, mood: str) -> dict[str, Any]:
    """Record how an employee feels."""
    employee = EMPLOYEES[employee_id]
    employee["mood"] = mood
    return employee


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


if __name__ == "__main__":
    report = ScopeGuard().install(mcp)
    if report.undeclared:
        print("undeclared:", ", ".join(report.undeclared), file=sys.stderr)
    mcp.settings.host, mcp.settings.port = "127.0.0.1", 8000  # 1.x takes these as settings
    mcp.run("streamable-http")
