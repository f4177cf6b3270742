"""The employees server on standalone fastmcp, 3.x or 4.x (``pip install "fastmcp-scopes[fastmcp3]"`` or
``"fastmcp-scopes[fastmcp4]"``): both lines spell servers alike.

The same decorators and the same ``ScopeGuard().install(mcp)`` as on every other lineage. Over HTTP,
``mcp.run(transport="http")`` (or ``mcp.http_app()``) answers 401/403 before dispatch; give the server a
fastmcp ``auth=`` provider, or set ``FASTMCP_SCOPES_ISSUER``, ``FASTMCP_SCOPES_JWKS_URI`` and
``FASTMCP_SCOPES_RESOURCE_URL``.

``fastmcp-scopes server examples.fastmcp_server:mcp`` prints what each primitive needs.
"""

from __future__ import annotations

import sys
from typing import Any

from fastmcp import FastMCP

from fastmcp_scopes import ScopeGuard, requires_scopes

mcp: FastMCP[Any] = FastMCP("employees")

EMPLOYEES: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Ada", "mood": "curious"},
    2: {"id": 2, "name": "Grace", "mood": "calm"},
}


@mcp.tool
@requires_scopes("employees:read")
def get_employees() -> list[dict[str, Any]]:
    """Every employee with their mood."""
    return list(EMPLOYEES.values())


@requires_scopes("employees:write")  # above or below fastmcp's decorator, alike
@mcp.tool
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


@mcp.prompt
@requires_scopes("employees:read")
def check_in(name: str) -> str:
    """A friendly check-in message."""
    return f"Ask {name} how they are feeling today."


if __name__ == "__main__":
    report = ScopeGuard().install(mcp)
    if report.undeclared:
        print("undeclared:", ", ".join(report.undeclared), file=sys.stderr)
    mcp.run(transport="http", host="127.0.0.1", port=8000)
