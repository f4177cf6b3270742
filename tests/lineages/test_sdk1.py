"""mcp 1.x ``FastMCP`` (``from mcp.server.fastmcp import FastMCP``): what the guard relies on in this lineage.

These run in the ``sdk1`` lane (``bash scripts/test --lane sdk1``) and are skipped elsewhere. They pin the
facts the sdk1 adapter is built on, through the SDK's own in-memory client, so that a new 1.x release
that changes one of them fails here first.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest

from fastmcp_scopes import ScopeGuard, requires_scopes
from fastmcp_scopes._compat import SDK_MAJOR, MCPError, mcp_error, types
from fastmcp_scopes.decorators import declaration_of
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, scoped_client

pytestmark = pytest.mark.lineage("sdk1")

if SDK_MAJOR != 1:
    pytest.skip("mcp 1.x is not installed", allow_module_level=True)

from mcp.server.fastmcp import Context, FastMCP  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
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


# -- the guard installed ------------------------------------------------------------------------------

INSUFFICIENT_SCOPE = -32003
EVERYTHING = ["employees:read", "employees:write", "prompts:hr", "files:read"]


def guarded(**options: Any) -> Any:
    server = employees_server()
    ScopeGuard(audit=False, **options).install(server)
    return server


async def test_listings_show_what_the_token_can_call() -> None:
    server = guarded()
    async with scoped_client(server, ["employees:read"]) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        templates = (await client.list_resource_templates()).resourceTemplates
        prompts = (await client.list_prompts()).prompts
    async with scoped_client(server, EVERYTHING) as client:
        every_tool = [tool.name for tool in (await client.list_tools()).tools]
    assert (tools, templates, prompts) == (["get_employees"], [], [])
    assert every_tool == ["get_employees", "update_mood"]


async def test_a_refusal_is_a_json_rpc_error_naming_the_missing_scopes_for_every_kind() -> None:
    server = guarded()
    refused = []
    async with scoped_client(server, ["employees:read"]) as client:
        for call in (
            lambda: client.call_tool("update_mood", {"employee_id": 1, "mood": "calm"}),
            lambda: client.get_prompt("review", {"name": "Ada"}),
            lambda: client.read_resource("files://notes"),
        ):
            with pytest.raises(MCPError) as error:
                await call()
            refused.append((error.value.error.code, error.value.error.data["missing"]))
    assert refused == [
        (INSUFFICIENT_SCOPE, ["employees:write"]),
        (INSUFFICIENT_SCOPE, ["prompts:hr"]),
        (INSUFFICIENT_SCOPE, ["files:read"]),
    ]


async def test_an_allowed_call_runs_and_an_unknown_tool_gets_the_sdks_own_answer() -> None:
    server = guarded()
    async with scoped_client(server, EVERYTHING) as client:
        allowed = await client.call_tool("update_mood", {"employee_id": 1, "mood": "calm"})
        unknown = await client.call_tool("no_such_tool", {})
        read = await client.read_resource("files://notes")
    assert (allowed.isError, allowed.content[0].text) == (False, "calm")
    assert (unknown.isError, unknown.content[0].text) == (True, "Unknown tool: no_such_tool")
    assert read.contents[0].text == "notes"


async def test_a_hidden_tool_answers_exactly_as_a_missing_one_with_hidden_calls_not_found() -> None:
    server = guarded(hidden_calls="not_found")
    async with scoped_client(server, ["employees:read"]) as client:
        hidden = await client.call_tool("update_mood", {"employee_id": 1, "mood": "calm"})
        missing = await client.call_tool("update_moods", {"employee_id": 1, "mood": "calm"})
    assert hidden.isError and missing.isError
    assert hidden.content[0].text.replace("update_mood", "X") == missing.content[0].text.replace("update_moods", "X")


async def test_a_handler_registered_after_install_is_guarded_too() -> None:
    server = guarded()

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Any:
        return types.Completion(values=["leaked"])

    async with scoped_client(server, ["employees:read"]) as client:
        with pytest.raises(MCPError) as refused:
            await client.complete(
                types.PromptReference(type="ref/prompt", name="review"), {"name": "name", "value": ""}
            )
    assert refused.value.error.code == INSUFFICIENT_SCOPE


def test_installing_twice_is_refused() -> None:
    server = guarded()
    with pytest.raises(RuntimeError, match="already installed"):
        ScopeGuard(audit=False).install(server)


# -- over HTTP: the SDK's own streamable-HTTP app, guarded before dispatch ---------------------------


async def _post(
    http: httpx2.AsyncClient, url: str, token: str, message: dict[str, Any], session: str | None = None
) -> httpx2.Response:
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-11-25",
    }
    if session is not None:
        headers["mcp-session-id"] = session
    return await http.post(url, content=json.dumps(message).encode(), headers=headers)


@pytest.mark.parametrize("stateless", [True, False], ids=["stateless", "stateful"])
async def test_over_http_a_missing_scope_is_a_403_challenge_before_the_tool_runs(stateless: bool) -> None:
    ran: list[str] = []
    server = FastMCP("employees", json_response=True, stateless_http=stateless)

    @server.tool()
    @requires_scopes("employees:write")
    def update_mood(mood: str, ctx: Context) -> str:  # type: ignore[type-arg]
        ran.append(mood)
        return mood

    with DevAuthorizationServer(scopes=["mcp:connect"]) as auth:

        def app(base: str) -> Any:
            ScopeGuard(audit=False, issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp").install(
                server
            )
            return server.streamable_http_app()

        loopback = LoopbackServer(app_factory=app, lifespan="on")
        base = await anyio.to_thread.run_sync(loopback.start)
        try:
            url = f"{base}/mcp"
            reader = auth.issue_token(scopes=["employees:read"], audience=url)
            writer = auth.issue_token(scopes=["employees:write"], audience=url)
            async with httpx2.AsyncClient(timeout=30) as http:
                initialize = {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"},
                    },
                }
                # A stateful session opened by a token that may write: the next request's token decides.
                opened = await _post(http, url, writer, initialize)
                session = opened.headers.get("mcp-session-id")
                call = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "update_mood", "arguments": {"mood": "calm"}},
                }
                refused = await _post(http, url, reader, call, session)
                allowed = await _post(http, url, writer, call, session)
        finally:
            await anyio.to_thread.run_sync(loopback.stop)
    assert opened.status_code == 200
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert (
        'scope="employees:write"' in refused.headers["www-authenticate"]
        or "employees:write" in refused.headers["www-authenticate"]
    )
    assert refused.json()["error"]["code"] == INSUFFICIENT_SCOPE
    assert allowed.status_code == 200 and ran == ["calm"]


async def test_over_http_a_stateful_session_decides_each_request_once(caplog: pytest.LogCaptureFixture) -> None:
    server = FastMCP("employees", json_response=True, stateless_http=False)

    @server.tool()
    @requires_scopes("employees:read")
    def get_employees() -> list[str]:
        return ["Ada"]

    with DevAuthorizationServer(scopes=["employees:read"]) as auth:

        def app(base: str) -> Any:
            guard = ScopeGuard(issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp")
            guard.install(server)
            return server.streamable_http_app()

        loopback = LoopbackServer(app_factory=app, lifespan="on")
        base = await anyio.to_thread.run_sync(loopback.start)
        try:
            url = f"{base}/mcp"
            token = auth.issue_token(scopes=["employees:read"], audience=url)
            async with httpx2.AsyncClient(timeout=30) as http:
                initialize = {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"},
                    },
                }
                session = (await _post(http, url, token, initialize)).headers.get("mcp-session-id")
                caplog.clear()
                with caplog.at_level("INFO", logger="fastmcp_scopes.audit"):
                    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_employees"}}
                    answered = await _post(http, url, token, call, session)
        finally:
            await anyio.to_thread.run_sync(loopback.stop)
    assert answered.status_code == 200
    decisions = [r for r in caplog.records if r.name == "fastmcp_scopes.audit" and "tools/call" in r.getMessage()]
    assert len(decisions) == 1, [r.getMessage() for r in decisions]
