"""End to end through the SDK's own ``mcp.Client``, in-process, in both connection modes.

What a caller sees: which tools, prompts and resources a listing shows for a token, the exact
``insufficient_scope`` error (code and whole ``data``) when a call is refused, and that a hidden
primitive can answer exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from fastmcp_scopes import ConfigurationError, RequirementTooComplexError, ScopeGuard, requires_scopes
from fastmcp_scopes.adapters.mcpserver import META_KEY
from fastmcp_scopes.policy import INSUFFICIENT_SCOPE, UNAUTHENTICATED
from fastmcp_scopes.testing import scoped_client

from .hr import HIDDEN_AND_UNKNOWN, LAYERS, add_hr_primitives, leaves, refusal, refusal_data


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one


def hr_server(**cache_hints: CacheHint) -> MCPServer:
    mcp = MCPServer("hr", cache_hints=cache_hints or None)  # type: ignore[arg-type]
    add_hr_primitives(mcp, [])
    return mcp


def guarded(**options: Any) -> MCPServer:
    mcp = hr_server()
    ScopeGuard(**options).install(mcp)
    return mcp


async def listing(client: Client) -> dict[str, list[str]]:
    return {
        "tools": [t.name for t in (await client.list_tools()).tools],
        "prompts": [p.name for p in (await client.list_prompts()).prompts],
        "resources": [str(r.uri) for r in (await client.list_resources()).resources],
        "templates": [t.uri_template for t in (await client.list_resource_templates()).resource_templates],
    }


# -- listings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "tools"),
    [
        ([], ["server_time"]),
        (["employees:read"], ["list_employees", "server_time"]),
        (["employees:write"], ["update_salary", "server_time"]),
        (["admin", "hr:approve"], ["update_salary", "approve_raise", "server_time"]),
        (
            ["employees:read", "employees:write", "hr:approve"],
            ["list_employees", "update_salary", "approve_raise", "server_time"],
        ),
    ],
)
async def test_tools_list_shows_what_the_token_permits(mode: str, scopes: list[str], tools: list[str]) -> None:
    async with scoped_client(guarded(), scopes, mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == tools


async def test_resources_templates_and_prompts_are_listed_per_token(mode: str) -> None:
    server = guarded()

    async with scoped_client(server, [], mode=mode) as client:
        assert await listing(client) == {"tools": ["server_time"], "prompts": [], "resources": [], "templates": []}
    async with scoped_client(server, ["docs:read", "employees:read", "hr:review"], mode=mode) as client:
        assert await listing(client) == {
            "tools": ["list_employees", "server_time"],
            "prompts": ["performance_review"],
            "resources": ["hr://policies"],
            "templates": ["hr://employees/{employee_id}"],
        }


@pytest.mark.spec("mcp/listing-varies")
async def test_filtered_listings_are_private_to_the_token(mode: str) -> None:
    public = CacheHint(ttl_ms=60_000, scope="public")
    server = hr_server(
        **{"tools/list": public, "prompts/list": public, "resources/list": public, "resources/templates/list": public}
    )
    ScopeGuard().install(server)

    async with scoped_client(server, ["employees:read"], mode=mode) as client:
        assert (await client.list_tools()).cache_scope == "private"
        assert (await client.list_prompts()).cache_scope == "private"
        assert (await client.list_resources()).cache_scope == "private"
        assert (await client.list_resource_templates()).cache_scope == "private"


async def test_without_the_guard_the_same_server_lists_publicly() -> None:
    """The control for the test above: the private scope is the guard's doing."""
    server = hr_server(**{"tools/list": CacheHint(ttl_ms=60_000, scope="public")})

    async with scoped_client(server, [], mode="auto") as client:
        result = await client.list_tools()

    assert result.cache_scope == "public"
    assert len(result.tools) == 4


# -- calls -----------------------------------------------------------------------------------------


async def test_an_allowed_call_runs_the_handler(mode: str) -> None:
    async with scoped_client(guarded(), ["employees:write"], mode=mode) as client:
        result = await client.call_tool("update_salary", {"employee": "alice", "amount": 10})

    assert result.is_error is False
    assert result.structured_content == {"result": "alice: 10"}


async def test_a_refusal_carries_the_exact_data(mode: str) -> None:
    async with scoped_client(guarded(), ["employees:read"], mode=mode) as client:
        error = await refusal(client.call_tool("update_salary", {"employee": "alice", "amount": 10}))

    assert error.error.code == INSUFFICIENT_SCOPE == -32003
    assert error.error.message == "insufficient_scope: Missing scopes: employees:write"
    assert error.error.data == refusal_data(
        required=["employees:write"],
        missing=["employees:write"],
        alternatives=[["employees:write"], ["admin"]],
        scope="employees:write",
    )


async def test_the_handler_does_not_run_when_refused(mode: str) -> None:
    ran: list[str] = []
    mcp = MCPServer("side-effects")

    @mcp.tool()
    @requires_scopes("payments:send")
    def send_payment() -> str:
        ran.append("sent")
        return "sent"

    ScopeGuard().install(mcp)
    async with scoped_client(mcp, ["payments:read"], mode=mode) as client:
        await refusal(client.call_tool("send_payment", {}))

    assert ran == []


async def test_refusal_happens_before_argument_validation(mode: str) -> None:
    async with scoped_client(guarded(), [], mode=mode) as client:
        error = await refusal(client.call_tool("update_salary", {"amount": "not a number"}))

    assert error.error.code == INSUFFICIENT_SCOPE


@pytest.mark.spec("design/closest-alternative")
async def test_the_closest_alternative_is_named_with_ties_to_the_first(mode: str) -> None:
    async with scoped_client(guarded(), ["hr:approve"], mode=mode) as client:
        error = await refusal(client.call_tool("approve_raise", {"employee": "alice"}))

    assert error.error.data == refusal_data(
        required=["employees:write", "hr:approve"],
        missing=["employees:write"],
        alternatives=[["employees:write", "hr:approve"], ["admin", "hr:approve"]],
        scope="employees:write hr:approve",
    )


async def test_the_closest_alternative_is_the_one_missing_fewest(mode: str) -> None:
    mcp = MCPServer("closest")

    @mcp.tool()
    @requires_scopes(any_of=[["reports:read", "reports:export", "reports:sign"], ["auditor"]])
    def export_report() -> str:
        return "report"

    ScopeGuard().install(mcp)
    async with scoped_client(mcp, ["reports:read", "reports:export"], mode=mode) as client:
        near = await refusal(client.call_tool("export_report", {}))
    async with scoped_client(mcp, ["reports:read"], mode=mode) as client:
        far = await refusal(client.call_tool("export_report", {}))

    alternatives = [["reports:export", "reports:read", "reports:sign"], ["auditor"]]
    assert near.error.data == refusal_data(
        required=["reports:export", "reports:read", "reports:sign"],
        missing=["reports:sign"],
        alternatives=alternatives,
        scope="reports:export reports:read reports:sign",
    )
    assert far.error.data == refusal_data(
        required=["auditor"], missing=["auditor"], alternatives=alternatives, scope="auditor"
    )


async def test_stacked_decorators_are_all_required(mode: str) -> None:
    server = guarded()

    async with scoped_client(server, ["employees:write"], mode=mode) as client:
        error = await refusal(client.call_tool("approve_raise", {"employee": "alice"}))
    async with scoped_client(server, ["employees:write", "hr:approve"], mode=mode) as client:
        result = await client.call_tool("approve_raise", {"employee": "alice"})

    assert error.error.data["missing"] == ["hr:approve"]
    assert result.structured_content == {"result": "approved alice"}


async def test_resources_templates_and_prompts_are_refused_and_allowed(mode: str) -> None:
    server = guarded()

    async with scoped_client(server, [], mode=mode) as client:
        static = await refusal(client.read_resource("hr://policies"))
        template = await refusal(client.read_resource("hr://employees/7"))
        prompt = await refusal(client.get_prompt("performance_review", {"employee": "bob"}))
    async with scoped_client(server, ["docs:read", "employees:read", "hr:review"], mode=mode) as client:
        assert (await client.read_resource("hr://policies")).contents[0].text == "be nice"  # type: ignore[union-attr]
        assert (await client.read_resource("hr://employees/7")).contents[0].text == "record 7"  # type: ignore[union-attr]
        review = await client.get_prompt("performance_review", {"employee": "bob"})
        assert review.messages[0].content.text == "Review bob"  # type: ignore[union-attr]

    assert static.error.code == template.error.code == prompt.error.code == INSUFFICIENT_SCOPE
    assert static.error.data == refusal_data(["docs:read"], ["docs:read"], [["docs:read"]], "docs:read")
    assert template.error.data == refusal_data(
        ["employees:read"], ["employees:read"], [["employees:read"]], "employees:read"
    )
    assert prompt.error.data == refusal_data(["hr:review"], ["hr:review"], [["hr:review"]], "hr:review")


@pytest.mark.parametrize("scope_decorator_first", [True, False])
async def test_decorator_order_does_not_matter_for_any_kind(mode: str, scope_decorator_first: bool) -> None:
    mcp = MCPServer("order")

    def both(sdk_decorator: Any, fn: Any) -> None:
        scoped = requires_scopes("k:use")
        if scope_decorator_first:
            scoped(sdk_decorator(fn))
        else:
            sdk_decorator(scoped(fn))

    def tool() -> str:
        return "t"

    def resource() -> str:
        return "r"

    def template(key: str) -> str:
        return f"r{key}"

    def prompt() -> str:
        return "p"

    both(mcp.tool(), tool)
    both(mcp.resource("k://static"), resource)
    both(mcp.resource("k://items/{key}"), template)
    both(mcp.prompt(), prompt)
    report = ScopeGuard().install(mcp)

    assert report.undeclared == ()
    async with scoped_client(mcp, [], mode=mode) as client:
        assert await listing(client) == {"tools": [], "prompts": [], "resources": [], "templates": []}
        for call in (
            client.call_tool("tool", {}),
            client.read_resource("k://static"),
            client.read_resource("k://items/1"),
            client.get_prompt("prompt"),
        ):
            assert (await refusal(call)).error.data["missing"] == ["k:use"]
    async with scoped_client(mcp, ["k:use"], mode=mode) as client:
        assert await listing(client) == {
            "tools": ["tool"],
            "prompts": ["prompt"],
            "resources": ["k://static"],
            "templates": ["k://items/{key}"],
        }
        assert (await client.call_tool("tool", {})).structured_content == {"result": "t"}


# -- hierarchy and layered scopes ------------------------------------------------------------------


@pytest.mark.spec("mcp/scope-hierarchy")
async def test_the_hierarchy_expands_granted_scopes(mode: str) -> None:
    server = guarded(hierarchy={"employees:write": ["employees:read"], "hr:lead": ["employees:write", "hr:approve"]})

    async with scoped_client(server, ["employees:write"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list_employees", "update_salary", "server_time"]
    async with scoped_client(server, ["hr:lead"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == [
            "list_employees",
            "update_salary",
            "approve_raise",
            "server_time",
        ]
        assert (await client.call_tool("list_employees", {})).structured_content == {"result": "alice, bob"}


async def test_an_admin_wildcard_grants_everything(mode: str) -> None:
    server = guarded(hierarchy={"admin": ["*"]})

    async with scoped_client(server, ["admin"], mode=mode) as client:
        assert await listing(client) == {
            "tools": ["list_employees", "update_salary", "approve_raise", "server_time"],
            "prompts": ["performance_review"],
            "resources": ["hr://policies"],
            "templates": ["hr://employees/{employee_id}"],
        }


async def test_without_the_connect_scope_nothing_connects(mode: str) -> None:
    with pytest.raises(BaseExceptionGroup) as raised:
        async with scoped_client(guarded(**LAYERS), ["employees:read", "mcp:tools:read"], mode=mode):
            pass

    errors = [e for e in leaves(raised.value) if isinstance(e, MCPError)]
    assert errors
    assert {e.error.code for e in errors} == {INSUFFICIENT_SCOPE}
    assert errors[-1].error.data == refusal_data(["mcp:connect"], ["mcp:connect"], [["mcp:connect"]], "mcp:connect")


async def test_a_listing_needs_the_list_layer(mode: str) -> None:
    async with scoped_client(guarded(**LAYERS), ["mcp:connect", "employees:read"], mode=mode) as client:
        error = await refusal(client.list_tools())
        prompts = await client.list_prompts()  # the tools layer is not the prompts layer

    assert error.error.data == refusal_data(
        required=["mcp:connect", "mcp:tools:read"],
        missing=["mcp:tools:read"],
        alternatives=[["mcp:connect", "mcp:tools:read"]],
        scope="mcp:connect mcp:tools:read",
    )
    assert prompts.prompts == []


async def test_without_the_call_layer_tools_are_hidden_and_calls_name_every_scope(mode: str) -> None:
    async with scoped_client(guarded(**LAYERS), ["mcp:connect", "mcp:tools:read", "employees:read"], mode=mode) as c:
        tools = (await c.list_tools()).tools
        error = await refusal(c.call_tool("list_employees", {}))

    assert tools == []
    assert error.error.data == refusal_data(
        required=["employees:read", "mcp:connect", "mcp:tools:call"],
        missing=["mcp:tools:call"],
        alternatives=[["employees:read", "mcp:connect", "mcp:tools:call"]],
        scope="employees:read mcp:connect mcp:tools:call",
    )


async def test_with_every_layer_the_tool_is_listed_and_callable(mode: str) -> None:
    scopes = ["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:read"]
    async with scoped_client(guarded(**LAYERS), scopes, mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list_employees", "server_time"]
        assert (await client.call_tool("server_time", {})).structured_content == {"result": "noon"}


async def test_layers_given_as_a_list_apply_to_every_kind(mode: str) -> None:
    server = guarded(list_scopes=["mcp:read"], call_scopes="mcp:call")

    async with scoped_client(server, ["hr:review", "docs:read"], mode=mode) as client:
        prompts_error = await refusal(client.list_prompts())
        resources_error = await refusal(client.list_resources())
    async with scoped_client(server, ["hr:review", "docs:read", "mcp:read"], mode=mode) as client:
        assert (await client.list_prompts()).prompts == []
        read_error = await refusal(client.read_resource("hr://policies"))

    assert prompts_error.error.data["missing"] == resources_error.error.data["missing"] == ["mcp:read"]
    assert read_error.error.data["scope"] == "docs:read mcp:call"


# -- listing policy: hide_unauthorized=False -------------------------------------------------------


async def test_listing_everything_carries_each_requirement_in_meta(mode: str) -> None:
    async with scoped_client(guarded(hide_unauthorized=False), [], mode=mode) as client:
        tools = {t.name: (t.meta or {}).get(META_KEY) for t in (await client.list_tools()).tools}
        prompts = {p.name: (p.meta or {}).get(META_KEY) for p in (await client.list_prompts()).prompts}
        resources = {str(r.uri): (r.meta or {}).get(META_KEY) for r in (await client.list_resources()).resources}
        templates = {
            t.uri_template: (t.meta or {}).get(META_KEY)
            for t in (await client.list_resource_templates()).resource_templates
        }
        still_refused = await refusal(client.call_tool("list_employees", {}))

    assert META_KEY == "io.github.fastmcp-scopes/requires"
    assert tools == {
        "list_employees": [["employees:read"]],
        "update_salary": [["employees:write"], ["admin"]],
        "approve_raise": [["employees:write", "hr:approve"], ["admin", "hr:approve"]],
        "server_time": None,
    }
    assert prompts == {"performance_review": [["hr:review"]]}
    assert resources == {"hr://policies": [["docs:read"]]}
    assert templates == {"hr://employees/{employee_id}": [["employees:read"]]}
    assert still_refused.error.code == INSUFFICIENT_SCOPE


# -- hidden calls ----------------------------------------------------------------------------------


async def test_a_hidden_tool_gets_a_step_up_challenge_by_default(mode: str) -> None:
    async with scoped_client(guarded(), [], mode=mode) as client:
        assert "update_salary" not in [t.name for t in (await client.list_tools()).tools]
        error = await refusal(client.call_tool("update_salary", {"employee": "a", "amount": 1}))

    assert error.error.code == INSUFFICIENT_SCOPE


async def answer(call: Awaitable[Any], name: str) -> tuple[str, Any]:
    """What the caller gets, with the requested name replaced, so two names' answers compare whole."""
    try:
        result = await call
    except MCPError as error:
        return "error", repr(error.error.model_dump(mode="json")).replace(name, "NAME")
    return "result", repr(result.model_dump(mode="json", by_alias=True)).replace(name, "NAME")


async def ask(client: Client, kind: str, name: str) -> tuple[str, Any]:
    if kind == "tool":
        return await answer(client.call_tool(name, {"employee": "a", "amount": 1}), name)
    if kind == "prompt":
        return await answer(client.get_prompt(name, {"employee": "a"}), name)
    return await answer(client.read_resource(name), name)


@pytest.mark.spec("design/hidden-not-found")
@pytest.mark.parametrize(("kind", "hidden", "unknown"), HIDDEN_AND_UNKNOWN)
async def test_not_found_answers_exactly_like_a_missing_primitive(
    mode: str, kind: str, hidden: str, unknown: str
) -> None:
    server = guarded(hidden_calls="not_found", undeclared="deny")

    async with scoped_client(server, ["unrelated:scope"], mode=mode) as client:
        hidden_answer = await ask(client, kind, hidden)
        unknown_answer = await ask(client, kind, unknown)

    assert hidden_answer == unknown_answer
    assert "scope" not in repr(hidden_answer)


@pytest.mark.parametrize(("kind", "hidden", "unknown"), HIDDEN_AND_UNKNOWN)
@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(["mcp:call"], id="holds-only-the-call-layer"),
        pytest.param([], id="holds-nothing"),
        pytest.param(["docs:read", "employees:read", "employees:write", "hr:review"], id="holds-own-scopes"),
    ],
)
async def test_not_found_answers_like_a_missing_primitive_under_a_call_layer(
    mode: str, kind: str, hidden: str, unknown: str, scopes: list[str]
) -> None:
    """A call layer the caller lacks must not tell a hidden primitive from a missing one either."""
    server = guarded(hidden_calls="not_found", undeclared="deny", call_scopes=["mcp:call"])
    if kind == "tool" and hidden == "update_salary" and "employees:write" in scopes:
        hidden = "approve_raise"  # still hidden with these scopes

    async with scoped_client(server, scopes, mode=mode) as client:
        hidden_answer = await ask(client, kind, hidden)
        unknown_answer = await ask(client, kind, unknown)

    assert hidden_answer == unknown_answer


async def test_undeclared_deny_hides_and_reports(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    server = hr_server()
    with caplog.at_level("WARNING", logger="fastmcp_scopes"):
        report = ScopeGuard(undeclared="deny").install(server)

    assert report.undeclared == ("tools:server_time",)
    assert "no scopes declared for tools:server_time (refused)" in caplog.text
    async with scoped_client(server, ["employees:read"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list_employees"]
        result = await client.call_tool("server_time", {})
    assert result.is_error is True


async def test_undeclared_allow_is_the_default_and_is_reported(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    server = hr_server()
    with caplog.at_level("WARNING", logger="fastmcp_scopes"):
        report = ScopeGuard().install(server)

    assert report.undeclared == ("tools:server_time",)
    assert "no scopes declared for tools:server_time (allowed under the layered scopes)" in caplog.text
    async with scoped_client(server, [], mode=mode) as client:
        assert (await client.call_tool("server_time", {})).structured_content == {"result": "noon"}


# -- challenges for clients that replace scopes ----------------------------------------------------


async def test_challenges_can_include_the_token_scopes(mode: str) -> None:
    server = guarded(scope_challenge_include_token_scopes=True, connect_scopes=["mcp:connect"])

    async with scoped_client(server, ["mcp:connect", "employees:read", "calendar:read"], mode=mode) as client:
        error = await refusal(client.call_tool("update_salary", {"employee": "a", "amount": 1}))

    assert error.error.data == refusal_data(
        required=["employees:write", "mcp:connect"],
        missing=["employees:write"],
        alternatives=[["employees:write", "mcp:connect"], ["admin", "mcp:connect"]],
        scope="calendar:read employees:read employees:write mcp:connect",
    )


async def test_challenges_name_only_the_operation_by_default(mode: str) -> None:
    async with scoped_client(guarded(), ["employees:read", "calendar:read"], mode=mode) as client:
        error = await refusal(client.call_tool("update_salary", {"employee": "a", "amount": 1}))

    assert error.error.data["scope"] == "employees:write"


# -- no token (stdio, plain in-process clients) ----------------------------------------------------


@pytest.mark.spec("design/no-token-fails-closed")
async def test_no_token_fails_closed(mode: str) -> None:
    with pytest.raises(BaseExceptionGroup) as raised:
        async with Client(guarded(), mode=mode):
            pass

    errors = [e for e in leaves(raised.value) if isinstance(e, MCPError)]
    assert errors
    assert {e.error.code for e in errors} == {UNAUTHENTICATED}
    assert errors[-1].error.message == "unauthenticated: An access token is required"
    assert errors[-1].error.data["error"] == "unauthenticated"


async def test_stdio_scopes_are_granted_without_a_token(mode: str) -> None:
    async with Client(guarded(stdio_scopes=["employees:read"]), mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list_employees", "server_time"]
        assert (await client.call_tool("list_employees", {})).structured_content == {"result": "alice, bob"}
        error = await refusal(client.call_tool("update_salary", {"employee": "a", "amount": 1}))

    assert error.error.data == refusal_data(
        ["employees:write"], ["employees:write"], [["employees:write"], ["admin"]], "employees:write"
    )


async def test_stdio_scopes_from_the_environment(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_STDIO_SCOPES", "employees:write, hr:approve")

    async with Client(guarded(), mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["update_salary", "approve_raise", "server_time"]


async def test_an_empty_stdio_grant_allows_only_what_needs_no_scope(mode: str) -> None:
    async with Client(guarded(stdio_scopes=[]), mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["server_time"]


# -- settings from the environment, end to end -----------------------------------------------------


async def test_tool_scopes_from_the_environment_and_with_decorators(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_TOOL_SCOPES", '{"list_employees": "audit:read", "server_time": "clock:read"}')
    server = hr_server()

    report = ScopeGuard().install(server)

    assert report.undeclared == ()
    async with scoped_client(server, ["employees:read"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == []
        error = await refusal(client.call_tool("list_employees", {}))
    async with scoped_client(server, ["employees:read", "audit:read", "clock:read"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list_employees", "server_time"]

    assert error.error.data == refusal_data(
        ["audit:read", "employees:read"],
        ["audit:read"],
        [["audit:read", "employees:read"]],
        "audit:read employees:read",
    )


async def test_policy_from_a_dotenv_file(mode: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "FASTMCP_SCOPES_HIDE_UNAUTHORIZED=false\nFASTMCP_SCOPES_CONNECT_SCOPES=mcp:connect\n", encoding="utf-8"
    )

    async with scoped_client(guarded(), ["mcp:connect"], mode=mode) as client:
        assert len((await client.list_tools()).tools) == 4


# -- bad configuration stops start-up --------------------------------------------------------------


def test_too_many_alternatives_stop_install() -> None:
    mcp = MCPServer("complex")

    @mcp.tool()
    @requires_scopes(any_of=[["a1"], ["a2"], ["a3"]])
    def wide() -> str:
        return "w"

    guard = ScopeGuard(tool_scopes={"wide": [["b1"], ["b2"], ["b3"]]}, max_alternatives=8)

    with pytest.raises(RequirementTooComplexError, match="requirement for tool 'wide' has 9 alternatives") as raised:
        guard.install(mcp)
    assert raised.value.cap == 8


def test_a_bad_environment_stops_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_TOOL_SCOPES", '{"list_employees": "employees read\\""}')

    with pytest.raises(ConfigurationError, match=r"FASTMCP_SCOPES_TOOL_SCOPES .*invalid scope token 'read\"'"):
        ScopeGuard()


def test_installing_twice_is_refused() -> None:
    server = guarded()

    with pytest.raises(RuntimeError, match="already installed"):
        ScopeGuard().install(server)


def test_only_mcpserver_and_fastmcp_are_supported() -> None:
    with pytest.raises(TypeError, match=r"supports .*mcp\.server\.mcpserver\.MCPServer .*got builtins\.str"):
        ScopeGuard().install("not a server")
