"""Standalone fastmcp 3.x (on mcp 1.x): what the guard relies on in this lineage.

These run in the ``fastmcp3`` lane (``bash scripts/test --lane fastmcp3``) and are skipped elsewhere. They
pin the facts the fastmcp3 adapter is built on, through fastmcp's own in-process ``Client``.
"""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes
from fastmcp_scopes._compat import SDK_MAJOR, MCPError, mcp_error, types
from fastmcp_scopes.decorators import declaration_of

pytestmark = pytest.mark.lineage("fastmcp3")

fastmcp = pytest.importorskip("fastmcp")
if not fastmcp.__version__.startswith("3."):
    pytest.skip(f"fastmcp {fastmcp.__version__} is not 3.x", allow_module_level=True)

from fastmcp import Client, FastMCP  # noqa: E402
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext  # noqa: E402


def employees_server() -> Any:
    server = FastMCP("employees")

    @server.tool
    @requires_scopes("employees:read")
    def get_employees(department: str) -> list[str]:
        return [department]

    @requires_scopes("employees:write")  # above fastmcp's decorator: 3.x returns the function itself
    @server.tool()
    def update_mood(employee_id: int, mood: str) -> str:
        return mood

    return server


def test_fastmcp3_runs_on_mcp_1() -> None:
    assert SDK_MAJOR == 1


async def test_each_registered_tool_carries_its_declaration_in_either_order() -> None:
    server = employees_server()
    declared = {tool.name: declaration_of(getattr(tool, "fn", None)) for tool in await server.list_tools()}
    assert {name: str(d.requirement) if d else None for name, d in declared.items()} == {
        "get_employees": "employees:read",
        "update_mood": "employees:write",
    }
    async with Client(server) as client:
        tools = {tool.name: tool for tool in await client.list_tools()}
    assert tools["get_employees"].inputSchema["required"] == ["department"]


async def test_an_error_raised_in_middleware_on_tools_call_becomes_a_tool_result() -> None:
    # Why the fastmcp3 adapter cannot refuse tools/call from fastmcp's middleware: mcp 1.x's low-level
    # call_tool handler (mcp/server/lowlevel/server.py, Server.call_tool) runs fastmcp's whole chain inside
    # ``except Exception`` and answers any error, MCPError included, as an isError result: code and data lost.
    class Refuse(Middleware):
        async def on_call_tool(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
            raise mcp_error(-32003, "Insufficient scope", {"missing": ["employees:write"]})

    server = employees_server()
    server.add_middleware(Refuse())
    async with Client(server) as client:
        result = await client.call_tool_mcp("update_mood", {"employee_id": 1, "mood": "calm"})
    assert result.isError
    assert [content.text for content in result.content if content.type == "text"] == ["Insufficient scope"]


async def test_an_error_raised_around_the_low_level_handler_reaches_the_client_whole() -> None:
    # What the adapter does instead: wrap the low-level request handler, outside that ``except``.
    server = employees_server()
    handlers = server._mcp_server.request_handlers
    original = handlers[types.CallToolRequest]

    async def refuse(request: types.CallToolRequest) -> Any:
        if request.params.name == "update_mood":
            raise mcp_error(-32003, "Insufficient scope", {"missing": ["employees:write"]})
        return await original(request)

    handlers[types.CallToolRequest] = refuse
    async with Client(server) as client:
        allowed = await client.call_tool("get_employees", {"department": "hr"})
        with pytest.raises(MCPError) as refused:
            await client.call_tool_mcp("update_mood", {"employee_id": 1, "mood": "calm"})
    assert allowed.data == ["hr"]
    assert (refused.value.error.code, refused.value.error.message, refused.value.error.data) == (
        -32003,
        "Insufficient scope",
        {"missing": ["employees:write"]},
    )
