"""The HR server both adapters' end-to-end tests guard, and what they assert refusals with."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Mapping
from typing import Any

import pytest
from mcp.shared import exceptions

from fastmcp_scopes import ConfigurationError, Requirement, requires_scopes

MCPError: type[Exception] = getattr(exceptions, "MCPError", None) or exceptions.McpError  # mcp 1.x's name

LAYERS: dict[str, Any] = {
    "connect_scopes": ["mcp:connect"],
    "list_scopes": {"tools": ["mcp:tools:read"]},
    "call_scopes": {"tools": ["mcp:tools:call"]},
}

# (kind, a primitive hidden from a caller holding only "unrelated:scope", a name no primitive has)
HIDDEN_AND_UNKNOWN = [
    ("tool", "update_salary", "no_such_tool"),
    ("tool", "server_time", "no_such_tool"),  # undeclared, under undeclared="deny"
    ("prompt", "performance_review", "no_such_prompt"),
    ("resource", "hr://policies", "hr://no-such-resource"),
    ("resource", "hr://employees/7", "hr://no-such/7"),
]


def add_hr_primitives(mcp: Any, ran: list[str]) -> None:
    """Tools, a resource, a resource template and a prompt, decorated in both orders, on an ``MCPServer``
    or a ``FastMCP`` (the same decorators); handlers with side effects append their name to ``ran``."""

    @mcp.tool()
    @requires_scopes("employees:read")
    def list_employees() -> str:
        ran.append("list_employees")
        return "alice, bob"

    @requires_scopes(any_of=[["employees:write"], ["admin"]])
    @mcp.tool()
    def update_salary(employee: str, amount: int) -> str:
        ran.append("update_salary")
        return f"{employee}: {amount}"

    @mcp.tool()
    @requires_scopes("hr:approve")
    @requires_scopes(any_of=[["employees:write"], ["admin"]])
    def approve_raise(employee: str) -> str:
        return f"approved {employee}"

    @mcp.tool()
    def server_time() -> str:
        return "noon"

    @requires_scopes("docs:read")
    @mcp.resource("hr://policies")
    def policies() -> str:
        return "be nice"

    @mcp.resource("hr://employees/{employee_id}")
    @requires_scopes("employees:read")
    def employee_record(employee_id: str) -> str:
        return f"record {employee_id}"

    @requires_scopes("hr:review")
    @mcp.prompt()
    def performance_review(employee: str) -> str:
        return f"Review {employee}"


def scopes_of_table(arguments: Mapping[str, Any]) -> Requirement:
    """A per-call requirement: the table named in the arguments."""
    table = arguments.get("table")
    if table not in ("employees", "salaries"):
        raise ConfigurationError("unknown table")
    return Requirement.all_of(f"{table}:read")


async def refusal(call: Awaitable[Any]) -> Any:
    with pytest.raises(MCPError) as raised:
        await call
    return raised.value


def refusal_data(required: list[str], missing: list[str], alternatives: list[list[str]], scope: str) -> dict[str, Any]:
    return {
        "error": "insufficient_scope",
        "required": required,
        "missing": missing,
        "alternatives": alternatives,
        "scope": scope,
    }


def leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves(inner)
    else:
        yield error
