"""mcp 1.x ``FastMCP`` (``from mcp.server.fastmcp import FastMCP``): what the guard relies on in this lineage.

These run in the ``sdk1`` lane (``bash scripts/test --lane sdk1``) and are skipped elsewhere. They pin the
facts the sdk1 adapter is built on, through the SDK's own in-memory client, so that a new 1.x release
that changes one of them fails here first.
"""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes
from fastmcp_scopes._compat import SDK_MAJOR, MCPError, mcp_error, types
from fastmcp_scopes.decorators import declaration_of

pytestmark = pytest.mark.lineage("sdk1")

if SDK_MAJOR != 1:
    pytest.skip("mcp 1.x is not installed", allow_module_level=True)

from mcp.server.fastmcp import FastMCP  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
from mcp.shared.memory import (  # type: ignore[attr-defined,unused-ignore]  # noqa: E402
    create_connected_server_and_client_session as connected,
)


def employees_server() -> Any:
    server = FastMCP("employees")

    @server.tool()
    @requires_scopes("employees:read")
    def get_employees(department: str) -> list[str]:
        return [department]

    @requires_scopes("employees:write")  # above the SDK's decorator: the same function is registered
    @server.tool()
    def update_mood(employee_id: int, mood: str) -> str:
        return mood

    @server.prompt()
    @requires_scopes("prompts:hr")
    def review(name: str) -> str:
        return f"Review {name}"

    @server.resource("files://{name}")
    @requires_scopes("files:read")
    def read_file(name: str) -> str:
        return name

    return server


async def test_the_decorator_leaves_the_listed_schema_alone_in_either_order() -> None:
    async with connected(employees_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        templates = (await client.list_resource_templates()).resourceTemplates
        prompts = (await client.list_prompts()).prompts
    assert sorted(tools) == ["get_employees", "update_mood"]
    assert tools["get_employees"].inputSchema["required"] == ["department"]
    assert sorted(tools["update_mood"].inputSchema["properties"]) == ["employee_id", "mood"]
    assert [template.uriTemplate for template in templates] == ["files://{name}"]
    assert [prompt.name for prompt in prompts] == ["review"]


def test_each_registered_function_carries_its_declaration_in_either_order() -> None:
    server = employees_server()
    tools = {tool.name: tool for tool in server._tool_manager.list_tools()}
    declared = {name: declaration_of(tool.fn) for name, tool in tools.items()}
    assert {name: str(d.requirement) if d else None for name, d in declared.items()} == {
        "get_employees": "employees:read",
        "update_mood": "employees:write",
    }
    template = server._resource_manager._templates["files://{name}"]
    prompt = server._prompt_manager.get_prompt("review")
    assert declaration_of(template.fn) is not None
    assert declaration_of(prompt.fn) is not None


async def test_an_error_raised_before_dispatch_reaches_the_client_whole() -> None:
    # The sdk1 adapter answers refusals by wrapping the low-level request handlers (1.x has no
    # middleware): an MCPError raised there must reach the caller as that JSON-RPC error, unchanged.
    server = employees_server()
    handlers = server._mcp_server.request_handlers
    original = handlers[types.CallToolRequest]

    async def refuse(request: types.CallToolRequest) -> Any:
        if request.params.name == "update_mood":
            raise mcp_error(-32003, "Insufficient scope", {"missing": ["employees:write"]})
        return await original(request)

    handlers[types.CallToolRequest] = refuse
    async with connected(server) as client:
        allowed = await client.call_tool("get_employees", {"department": "hr"})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("update_mood", {"employee_id": 1, "mood": "calm"})
    assert not allowed.isError
    assert (refused.value.error.code, refused.value.error.message, refused.value.error.data) == (
        -32003,
        "Insufficient scope",
        {"missing": ["employees:write"]},
    )
