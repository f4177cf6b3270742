"""End to end on a ``fastmcp.FastMCP`` server, in-process, through fastmcp's own ``Client`` and the SDK's
``mcp.Client`` (both connection modes): what each listing shows per token, the exact refusal (code and
whole ``data``), layered scopes, hidden primitives answering exactly like missing ones, and no token."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client as FastMCPClient
from fastmcp import FastMCP
from fastmcp.client.transports import StdioTransport
from mcp import Client
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import ConfigurationError, ScopeGuard, requires_scopes
from fastmcp_scopes.adapters import META_KEY
from fastmcp_scopes.audit import AUDIT_LOGGER
from fastmcp_scopes.policy import INSUFFICIENT_SCOPE, UNAUTHENTICATED
from fastmcp_scopes.testing import scoped_client, scoped_fastmcp_client

from .hr import HIDDEN_AND_UNKNOWN, LAYERS, add_hr_primitives, leaves, refusal, refusal_data, scopes_of_table

CLIENTS = ["fastmcp-auto", "fastmcp-legacy", "sdk-auto", "sdk-legacy"]
ran: list[str] = []


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one
    ran.clear()


@pytest.fixture(params=CLIENTS)
def client_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def hr_server(**options: Any) -> FastMCP:
    mcp = FastMCP("hr", **options)
    add_hr_primitives(mcp, ran)

    @mcp.tool()
    @requires_scopes("db:query", per_call=scopes_of_table)
    def query(table: str) -> str:
        ran.append(f"query {table}")
        return table

    return mcp


def guarded(**options: Any) -> FastMCP:
    mcp = hr_server()
    ScopeGuard(**options).install(mcp)
    return mcp


class Session:
    """The same questions through either client, answered with what that client received."""

    def __init__(self, client: Any, kind: str) -> None:
        self.client = client
        self.fastmcp = kind.startswith("fastmcp")

    async def tools(self) -> list[Any]:
        return list(await self.client.list_tools()) if self.fastmcp else (await self.client.list_tools()).tools

    async def listing(self) -> dict[str, list[str]]:
        c = self.client
        if self.fastmcp:
            prompts, resources = await c.list_prompts(), await c.list_resources()
            templates = await c.list_resource_templates()
        else:
            prompts = (await c.list_prompts()).prompts
            resources = (await c.list_resources()).resources
            templates = (await c.list_resource_templates()).resource_templates
        return {
            "tools": [t.name for t in await self.tools()],
            "prompts": [p.name for p in prompts],
            "resources": [str(r.uri) for r in resources],
            "templates": [t.uri_template for t in templates],
        }

    def call_tool(self, name: str, arguments: dict[str, Any]) -> Awaitable[Any]:
        if self.fastmcp:
            return self.client.call_tool(name, arguments, raise_on_error=False)  # type: ignore[no-any-return]
        return self.client.call_tool(name, arguments)  # type: ignore[no-any-return]

    def get_prompt(self, name: str, arguments: dict[str, Any]) -> Awaitable[Any]:
        return self.client.get_prompt(name, arguments)  # type: ignore[no-any-return]

    def read_resource(self, uri: str) -> Awaitable[Any]:
        return self.client.read_resource(uri)  # type: ignore[no-any-return]


@asynccontextmanager
async def connect(
    server: FastMCP, scopes: list[str] | None, kind: str, mode: str | None = None
) -> AsyncIterator[Session]:
    """A client of ``kind`` (``fastmcp-auto``, ``sdk-legacy``, ...) holding ``scopes`` (``None``: no token)."""
    family, _, kind_mode = kind.partition("-")
    options = {"mode": mode or kind_mode}
    if scopes is None:
        client: Any = FastMCPClient(server, **options) if family == "fastmcp" else Client(server._mcp_server, **options)
        async with client:
            yield Session(client, kind)
    elif family == "fastmcp":
        async with scoped_fastmcp_client(server, scopes, **options) as client:
            yield Session(client, kind)
    else:
        async with scoped_client(server, scopes, **options) as client:
            yield Session(client, kind)


async def connect_refusals(server: FastMCP, scopes: list[str] | None, kind: str) -> list[MCPError]:
    # fastmcp's client in "auto" mode answers a refused server/discover by trying the handshake, which a
    # connection already serving 2026-07-28 refuses in turn, and raises only that last error. Pinned to
    # 2026-07-28 it connects without a probe, and its first request (a ping: connect layer only) is refused.
    mode = "2026-07-28" if kind == "fastmcp-auto" else None
    with pytest.raises(BaseException) as raised:  # the SDK client raises a group, fastmcp's the error itself
        async with connect(server, scopes, kind, mode) as session:
            await session.client.ping()
    return [e for e in leaves(raised.value) if isinstance(e, MCPError)]


# -- listings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "tools"),
    [
        ([], ["server_time"]),
        (["employees:read"], ["list_employees", "server_time"]),
        (["employees:write"], ["update_salary", "server_time"]),
        (["admin", "hr:approve"], ["update_salary", "approve_raise", "server_time"]),
        (["db:query"], ["server_time", "query"]),
    ],
)
async def test_tools_list_shows_what_the_token_permits(client_kind: str, scopes: list[str], tools: list[str]) -> None:
    async with connect(guarded(), scopes, client_kind) as session:
        assert [t.name for t in await session.tools()] == tools


async def test_resources_templates_and_prompts_are_listed_per_token(client_kind: str) -> None:
    server = guarded()

    async with connect(server, [], client_kind) as session:
        assert await session.listing() == {"tools": ["server_time"], "prompts": [], "resources": [], "templates": []}
    async with connect(server, ["docs:read", "employees:read", "hr:review"], client_kind) as session:
        assert await session.listing() == {
            "tools": ["list_employees", "server_time"],
            "prompts": ["performance_review"],
            "resources": ["hr://policies"],
            "templates": ["hr://employees/{employee_id}"],
        }


async def test_a_public_cache_hint_becomes_private_for_guarded_results() -> None:
    plain, server = hr_server(cache_ttl=60, cache_scope="public"), hr_server(cache_ttl=60, cache_scope="public")
    ScopeGuard().install(server)

    async with scoped_client(plain, ["employees:read"]) as client:
        assert (await client.list_tools()).cache_scope == "public"
    async with scoped_client(server, ["employees:read"]) as client:
        tools = await client.list_tools()
        record = await client.read_resource("hr://employees/7")

    assert (tools.cache_scope, tools.ttl_ms) == ("private", 60000)
    assert (record.cache_scope, record.ttl_ms) == ("private", 60000)


async def test_listing_everything_carries_each_requirement_in_meta(client_kind: str) -> None:
    async with connect(guarded(hide_unauthorized=False), [], client_kind) as session:
        tools = {t.name: (t.meta or {}).get(META_KEY) for t in await session.tools()}

    assert tools == {
        "list_employees": [["employees:read"]],
        "update_salary": [["employees:write"], ["admin"]],
        "approve_raise": [["employees:write", "hr:approve"], ["admin", "hr:approve"]],
        "server_time": None,
        "query": [["db:query"]],
    }


# -- calls -----------------------------------------------------------------------------------------


async def test_an_allowed_call_runs_the_handler(client_kind: str) -> None:
    async with connect(guarded(), ["employees:read"], client_kind) as session:
        result = await session.call_tool("list_employees", {})

    assert result.structured_content == {"result": "alice, bob"}
    assert ran == ["list_employees"]


async def test_a_refusal_carries_the_exact_data_and_the_handler_does_not_run(client_kind: str) -> None:
    async with connect(guarded(), ["employees:read"], client_kind) as session:
        error = await refusal(session.call_tool("update_salary", {"employee": "a", "amount": 1}))
        invalid = await refusal(session.call_tool("update_salary", {"amount": "not a number"}))

    assert error.error.code == INSUFFICIENT_SCOPE
    assert error.error.message == "insufficient_scope: Missing scopes: employees:write"
    assert error.error.data == refusal_data(
        ["employees:write"], ["employees:write"], [["employees:write"], ["admin"]], "employees:write"
    )
    assert invalid.error.code == INSUFFICIENT_SCOPE  # refused before the arguments are validated
    assert ran == []


async def test_stacked_decorators_are_all_required_and_the_closest_alternative_is_named(client_kind: str) -> None:
    async with connect(guarded(), ["admin"], client_kind) as session:
        error = await refusal(session.call_tool("approve_raise", {"employee": "a"}))

    assert error.error.data == refusal_data(
        ["admin", "hr:approve"],
        ["hr:approve"],
        [["employees:write", "hr:approve"], ["admin", "hr:approve"]],
        "admin hr:approve",
    )


async def test_resources_templates_and_prompts_are_refused_and_allowed(client_kind: str) -> None:
    async with connect(guarded(), ["employees:read"], client_kind) as session:
        resource = await refusal(session.read_resource("hr://policies"))
        prompt = await refusal(session.get_prompt("performance_review", {"employee": "a"}))
        record = await session.read_resource("hr://employees/7")

    assert resource.error.data == refusal_data(["docs:read"], ["docs:read"], [["docs:read"]], "docs:read")
    assert prompt.error.data == refusal_data(["hr:review"], ["hr:review"], [["hr:review"]], "hr:review")
    contents = record if isinstance(record, list) else record.contents
    assert [c.text for c in contents] == ["record 7"]


async def test_a_template_is_refused_without_its_scope(client_kind: str) -> None:
    async with connect(guarded(), ["docs:read"], client_kind) as session:
        error = await refusal(session.read_resource("hr://employees/7"))

    assert error.error.data == refusal_data(
        ["employees:read"], ["employees:read"], [["employees:read"]], "employees:read"
    )


async def test_the_arguments_decide_a_per_call_requirement(client_kind: str) -> None:
    async with connect(guarded(), ["db:query", "employees:read"], client_kind) as session:
        allowed = await session.call_tool("query", {"table": "employees"})
        refused = await refusal(session.call_tool("query", {"table": "salaries"}))
        invalid = await refusal(session.call_tool("query", {"table": "../etc"}))

    assert allowed.is_error is False
    assert refused.error.data == refusal_data(
        ["db:query", "salaries:read"], ["salaries:read"], [["db:query", "salaries:read"]], "db:query salaries:read"
    )
    assert (invalid.error.code, invalid.error.message) == (
        -32602,
        "Invalid arguments: no scope requirement can be computed",
    )
    assert ran == ["query employees"]


async def test_the_hierarchy_expands_granted_scopes(client_kind: str) -> None:
    server = guarded(hierarchy={"employees:write": ["employees:read"]})

    async with connect(server, ["employees:write"], client_kind) as session:
        assert [t.name for t in await session.tools()] == ["list_employees", "update_salary", "server_time"]
        assert (await session.call_tool("list_employees", {})).is_error is False


# -- layered scopes --------------------------------------------------------------------------------


async def test_without_the_connect_scope_nothing_connects(client_kind: str) -> None:
    errors = await connect_refusals(guarded(**LAYERS), ["employees:read", "mcp:tools:read"], client_kind)

    assert errors
    assert {e.error.code for e in errors} == {INSUFFICIENT_SCOPE}
    assert errors[-1].error.data == refusal_data(["mcp:connect"], ["mcp:connect"], [["mcp:connect"]], "mcp:connect")


async def test_a_listing_needs_the_list_layer(client_kind: str) -> None:
    async with connect(guarded(**LAYERS), ["mcp:connect", "employees:read"], client_kind) as session:
        error = await refusal(session.tools())
        prompts = await session.client.list_prompts()  # the tools layer is not the prompts layer

    assert error.error.data == refusal_data(
        required=["mcp:connect", "mcp:tools:read"],
        missing=["mcp:tools:read"],
        alternatives=[["mcp:connect", "mcp:tools:read"]],
        scope="mcp:connect mcp:tools:read",
    )
    assert list(prompts if isinstance(prompts, list) else prompts.prompts) == []


async def test_without_the_call_layer_tools_are_hidden_and_calls_name_every_scope(client_kind: str) -> None:
    scopes = ["mcp:connect", "mcp:tools:read", "employees:read"]
    async with connect(guarded(**LAYERS), scopes, client_kind) as session:
        tools = await session.tools()
        error = await refusal(session.call_tool("list_employees", {}))
    async with connect(guarded(**LAYERS), [*scopes, "mcp:tools:call"], client_kind) as session:
        listed = [t.name for t in await session.tools()]

    assert tools == []
    assert error.error.data == refusal_data(
        required=["employees:read", "mcp:connect", "mcp:tools:call"],
        missing=["mcp:tools:call"],
        alternatives=[["employees:read", "mcp:connect", "mcp:tools:call"]],
        scope="employees:read mcp:connect mcp:tools:call",
    )
    assert listed == ["list_employees", "server_time"]


# -- hidden calls ----------------------------------------------------------------------------------


async def test_a_hidden_tool_gets_a_step_up_challenge_by_default(client_kind: str) -> None:
    async with connect(guarded(), [], client_kind) as session:
        assert "update_salary" not in [t.name for t in await session.tools()]
        error = await refusal(session.call_tool("update_salary", {"employee": "a", "amount": 1}))

    assert error.error.code == INSUFFICIENT_SCOPE


async def answer(call: Awaitable[Any], name: str) -> tuple[str, str]:
    """What the caller gets, with the requested name replaced, so two names' answers compare whole."""
    try:
        result = await call
    except MCPError as error:
        return "error", repr(error.error.model_dump(mode="json")).replace(name, "NAME")
    return "result", repr(result).replace(name, "NAME")


async def ask(session: Session, kind: str, name: str) -> tuple[str, str]:
    if kind == "tool":
        return await answer(session.call_tool(name, {"employee": "a", "amount": 1}), name)
    if kind == "prompt":
        return await answer(session.get_prompt(name, {"employee": "a"}), name)
    return await answer(session.read_resource(name), name)


@pytest.mark.parametrize(("kind", "hidden", "unknown"), HIDDEN_AND_UNKNOWN)
@pytest.mark.parametrize("call_scopes", [[], ["mcp:call"]], ids=["no-call-layer", "call-layer"])
async def test_not_found_answers_exactly_like_a_missing_primitive(
    client_kind: str, kind: str, hidden: str, unknown: str, call_scopes: list[str]
) -> None:
    server = guarded(hidden_calls="not_found", undeclared="deny", call_scopes=call_scopes)

    async with connect(server, ["unrelated:scope"], client_kind) as session:
        hidden_answer = await ask(session, kind, hidden)
        unknown_answer = await ask(session, kind, unknown)

    assert hidden_answer == unknown_answer
    assert "scope" not in hidden_answer[1]
    assert ran == []


# -- undeclared primitives -------------------------------------------------------------------------


async def test_undeclared_deny_hides_and_reports(client_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    server = hr_server()
    with caplog.at_level("WARNING", logger="fastmcp_scopes"):
        report = ScopeGuard(undeclared="deny").install(server)

    assert report.undeclared == ("tools:server_time",)
    assert "no scopes declared for tools:server_time (refused)" in caplog.text
    async with connect(server, ["employees:read"], client_kind) as session:
        assert [t.name for t in await session.tools()] == ["list_employees"]
        result = await session.call_tool("server_time", {})
    assert result.is_error is True


async def test_undeclared_allow_is_the_default(client_kind: str) -> None:
    server = hr_server()

    assert ScopeGuard().install(server).undeclared == ("tools:server_time",)
    async with connect(server, [], client_kind) as session:
        assert (await session.call_tool("server_time", {})).structured_content == {"result": "noon"}


# -- no token --------------------------------------------------------------------------------------


async def test_no_token_fails_closed(client_kind: str) -> None:
    errors = await connect_refusals(guarded(), None, client_kind)

    assert errors
    assert errors[0].error.code == UNAUTHENTICATED
    assert errors[0].error.message == "unauthenticated: An access token is required"


async def test_stdio_scopes_are_granted_without_a_token(client_kind: str) -> None:
    async with connect(guarded(stdio_scopes=["employees:read"]), None, client_kind) as session:
        assert [t.name for t in await session.tools()] == ["list_employees", "server_time"]
        error = await refusal(session.call_tool("update_salary", {"employee": "a", "amount": 1}))

    assert error.error.data == refusal_data(
        ["employees:write"], ["employees:write"], [["employees:write"], ["admin"]], "employees:write"
    )


STDIO_SERVER = """
from fastmcp import FastMCP
from fastmcp_scopes import ScopeGuard, requires_scopes

mcp = FastMCP("stdio")

@mcp.tool()
@requires_scopes("employees:read")
def list_employees() -> str:
    return "alice, bob"

@mcp.tool()
@requires_scopes("employees:write")
def update_salary(amount: int) -> str:
    return "updated"

ScopeGuard().install(mcp)
mcp.run(transport="stdio", show_banner=False)
"""


@pytest.mark.parametrize("stdio_scopes", [None, "employees:read"])
async def test_over_real_stdio_without_a_token(tmp_path: Path, stdio_scopes: str | None) -> None:
    script = tmp_path / "server.py"
    script.write_text(STDIO_SERVER, encoding="utf-8")
    env = {"FASTMCP_SCOPES_STDIO_SCOPES": stdio_scopes} if stdio_scopes is not None else {}
    transport = StdioTransport(sys.executable, [str(script)], env=env, cwd=str(tmp_path))

    if stdio_scopes is None:
        with pytest.raises(MCPError) as raised:
            async with FastMCPClient(transport, mode="2026-07-28") as client:  # see connect_refusals
                await client.ping()
        assert raised.value.error.code == UNAUTHENTICATED
        return
    async with FastMCPClient(transport) as client:
        tools = [t.name for t in await client.list_tools()]
        error = await refusal(client.call_tool("update_salary", {"amount": 1}))
    assert tools == ["list_employees"]
    assert error.error.data["missing"] == ["employees:write"]


# -- audit -----------------------------------------------------------------------------------------


async def test_every_decision_is_audited_with_the_caller(client_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    async with connect(guarded(), ["employees:read"], client_kind) as session:
        await session.call_tool("list_employees", {})
        await refusal(session.call_tool("update_salary", {"employee": "a", "amount": 1}))

    events = [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]
    calls = [(e["method"], e["name"], e["outcome"], e["missing"]) for e in events if e["method"] == "tools/call"]
    assert calls == [
        ("tools/call", "list_employees", "allow", []),
        ("tools/call", "update_salary", "insufficient_scope", ["employees:write"]),
    ]
    for event in events:
        assert event["caller"] == {"sub": "test-user", "client_id": "test-client", "iss": "https://issuer.test"}
        # every request's event names its id; a notification has none
        assert (event["request_id"] is None) == event["method"].startswith("notifications/")


# -- installation ----------------------------------------------------------------------------------


def test_installing_twice_is_refused() -> None:
    server = guarded()

    with pytest.raises(RuntimeError, match="already installed"):
        ScopeGuard().install(server)


async def test_a_subclass_of_fastmcp_in_the_users_own_module_is_guarded() -> None:
    subclass = type("MyServer", (FastMCP,), {"__module__": "my_app.server"})
    server = subclass("mine")
    add_hr_primitives(server, [])
    ScopeGuard(**LAYERS).install(server)

    async with scoped_fastmcp_client(server, ["mcp:connect", "mcp:tools:read", "mcp:tools:call"]) as client:
        error = await refusal(client.call_tool("list_employees", {}))

    assert error.error.data["missing"] == ["employees:read"]


def test_another_kind_of_server_is_refused_naming_what_is_supported() -> None:
    with pytest.raises(
        TypeError, match=r"supports fastmcp\.FastMCP .*mcp\.server\.mcpserver\.MCPServer .*got builtins\.object"
    ):
        ScopeGuard().install(object())


def test_a_requirement_that_cannot_be_computed_stops_install() -> None:
    mcp = FastMCP("bad")

    @mcp.tool()
    @requires_scopes(graphql="query Q { employees { id } }")
    def employees() -> str:
        return ""

    with pytest.raises(ConfigurationError, match="FASTMCP_SCOPES_GRAPHQL_SCHEMA"):
        ScopeGuard().install(mcp)
