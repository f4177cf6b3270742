"""Fail closed (issue 11), on every lineage: configuration naming what the server lacks stops install; a
per-call requirement is worked out only for a caller the static requirement lets through, off the event
loop, and any failure there is a refusal; a handler acting on its caller's behalf is decided as the caller."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import pytest

from fastmcp_scopes import ConfigurationError, Requirement, ScopeGuard, authorize, requires_scopes

from .conftest import INSUFFICIENT_SCOPE, Guarded, hr, succeeded
from .kinds import ServerKind

INVALID_PARAMS = -32602
NO_REQUIREMENT = "Invalid arguments: no scope requirement can be computed"
QUERY = {"name": "query", "arguments": {"table": "salaries"}}


@pytest.mark.parametrize(
    ("configured", "suggestion"),
    [("list_employee", "did you mean 'list_employees'"), ("payroll", "the server's tools are")],
)
def test_tool_scopes_for_a_tool_the_server_lacks_stop_install(
    server_kind: ServerKind, configured: str, suggestion: str
) -> None:
    server = hr(server_kind)

    with pytest.raises(ConfigurationError, match=rf"FASTMCP_SCOPES_TOOL_SCOPES names '{configured}'.*{suggestion}"):
        ScopeGuard(tool_scopes={configured: ["employees:read"]}).install(server)
    # Nothing was hooked: the corrected configuration installs.
    ScopeGuard(tool_scopes={"list_employees": ["employees:read"]}).install(server)


def _per_call_server(kind: ServerKind, compute: Callable[[Mapping[str, Any]], Requirement], ran: list[str]) -> Any:
    server = kind.new("per-call")

    @server.tool()
    @requires_scopes("db:query", per_call=compute)
    def query(table: str = "") -> str:
        ran.append(table)
        return table

    return server


@pytest.mark.parametrize("raised", [ZeroDivisionError, KeyError, RecursionError, TypeError])
async def test_a_per_call_function_that_raises_is_a_refusal_not_a_crash(
    install: Any, server_kind: ServerKind, raised: type[Exception]
) -> None:
    ran: list[str] = []

    def compute(arguments: Mapping[str, Any]) -> Requirement:
        raise raised("a bug in the server's per-call function")

    guarded: Guarded = await install(_per_call_server(server_kind, compute, ran))
    answer = await guarded.ask(["db:query"], "tools/call", QUERY)

    assert answer.error is not None, answer.whole()
    assert (answer.error["code"], answer.error["message"]) == (INVALID_PARAMS, NO_REQUIREMENT)
    assert answer.status in (None, 400)  # in-process, or the HTTP refusal before dispatch
    assert ran == []


@pytest.mark.parametrize("hidden_calls", ["challenge", "not_found"])
async def test_a_caller_without_the_static_scopes_costs_no_per_call_work(
    install: Any, server_kind: ServerKind, hidden_calls: str
) -> None:
    computed: list[Mapping[str, Any]] = []

    def compute(arguments: Mapping[str, Any]) -> Requirement:
        computed.append(arguments)
        return Requirement.all_of("table:salaries")

    guarded: Guarded = await install(_per_call_server(server_kind, compute, []), hidden_calls=hidden_calls)
    refused = await guarded.ask(["unrelated:scope"], "tools/call", QUERY)
    assert not succeeded(refused)
    assert computed == []  # the caller's input was not even looked at

    stepped = await guarded.ask(["db:query"], "tools/call", QUERY)
    assert stepped.error is not None and stepped.error["code"] == INSUFFICIENT_SCOPE, stepped.whole()
    assert stepped.error["data"]["missing"] == ["table:salaries"]
    assert computed == [QUERY["arguments"]]


async def test_an_expensive_per_call_requirement_stalls_no_other_request(
    install: Any, server_kind: ServerKind, transport: str
) -> None:
    """Three callers whose per-call analysis blocks for a long time: a concurrent ping answers within a
    small multiple of its own latency measured just before (a ratio in the same test, not a wall time)."""
    if transport != "http":
        pytest.skip("the server and its callers share one event loop in-process: measured over HTTP")
    blocking = 2.0

    def compute(arguments: Mapping[str, Any]) -> Requirement:
        time.sleep(blocking)  # stands for analysing a huge argument; on the event loop it would stop everything
        return Requirement.all_of("db:query")

    guarded: Guarded = await install(_per_call_server(server_kind, compute, []))
    token = guarded.token(["db:query"])

    async def ping() -> float:
        start = time.perf_counter()
        answer = await guarded.post(token, "ping", {})
        assert succeeded(answer), answer.whole()
        return time.perf_counter() - start

    baseline = statistics.median([await ping() for _ in range(5)])
    during: list[float] = []
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(guarded.ask, ["db:query"], "tools/call", QUERY)
        await anyio.sleep(0.2)  # the three analyses are under way
        during = [await ping() for _ in range(3)]

    assert max(during) / baseline < 25, (baseline, during)


@pytest.mark.parametrize("hidden_calls", ["challenge", "not_found"])
async def test_a_handler_reading_on_its_callers_behalf_is_decided_as_the_caller(
    install: Any, server_kind: ServerKind, hidden_calls: str
) -> None:
    ran: list[str] = []
    server = server_kind.new("on-behalf")

    @server.resource("memo://{name}")
    @requires_scopes("memos:read")
    def memo(name: str) -> str:
        ran.append(name)
        return f"memo {name}"

    @server.tool()
    @requires_scopes("summaries:write")
    async def summarise(uri: str) -> str:
        await authorize("resources/read", {"uri": uri})
        return f"summary of {memo(uri.removeprefix('memo://'))}"

    guarded: Guarded = await install(server, hidden_calls=hidden_calls)
    call = {"name": "summarise", "arguments": {"uri": "memo://board"}}
    without = await guarded.ask(["summaries:write"], "tools/call", call)
    with_it = await guarded.ask(["summaries:write", "memos:read"], "tools/call", call)
    missing = await guarded.ask(["summaries:write"], "tools/call", {**call, "arguments": {"uri": "nope://x"}})

    assert not succeeded(without), without.whole()
    if hidden_calls == "challenge":
        # The refusal reaches the caller: as the JSON-RPC error itself where the server passes a handler's
        # error on (the HTTP answer has begun, so no 403); fastmcp turns it into an error result naming it.
        assert "Missing scopes: memos:read" in without.whole()
        if without.error is not None:
            assert (without.error["code"], without.error["data"]["missing"]) == (INSUFFICIENT_SCOPE, ["memos:read"])
    else:
        assert without.whole() == missing.whole()  # hidden and missing answered alike
    assert succeeded(with_it), with_it.whole()
    assert ran == ["board"]


async def test_authorize_outside_a_guarded_request_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="guarded request"):
        await authorize("resources/read", {"uri": "memo://x"})


def _serve_method(kind: ServerKind, method: str, ran: list[str]) -> Any:
    """A server that also serves ``method`` itself, registered on the SDK's low-level server."""
    server = kind.new("custom")
    lowlevel = getattr(server, "_lowlevel_server", None) or getattr(server, "_mcp_server", None)
    if not hasattr(lowlevel, "add_request_handler"):
        pytest.skip(f"{kind.name}: no add_request_handler on its low-level server")
    from mcp_types import RequestParams

    async def handler(ctx: Any, params: Any) -> dict[str, Any]:
        ran.append(method)
        return {"served": method}

    lowlevel.add_request_handler(method, RequestParams, handler)
    return server


@pytest.mark.parametrize("configured", [False, True], ids=["refused-by-default", "let-through-by-configuration"])
async def test_a_method_the_guard_does_not_know_is_refused_unless_configured(
    install: Any, server_kind: ServerKind, transport: str, configured: bool
) -> None:
    if transport != "http" and server_kind.name.startswith("fastmcp"):
        pytest.skip("a handler on fastmcp's low-level server bypasses fastmcp's middleware: decided over HTTP")
    ran: list[str] = []
    options = {"connect_scopes": ["mcp:connect"]}
    if configured:
        options["method_scopes"] = {"tasks/get": ["tasks:read"]}  # type: ignore[assignment]
    guarded: Guarded = await install(_serve_method(server_kind, "tasks/get", ran), **options)

    holding = ["mcp:connect", "tasks:read"]
    answer = await guarded.ask(holding, "tasks/get", {"taskId": "t1"})
    if not configured:
        assert answer.error is not None and answer.error["code"] == -32601, answer.whole()
        assert ran == []
        return
    assert answer.result is not None and answer.result.get("served") == "tasks/get", answer.whole()
    refused = await guarded.ask(["mcp:connect"], "tasks/get", {"taskId": "t1"})
    assert refused.error is not None and refused.error["code"] == INSUFFICIENT_SCOPE, refused.whole()
    assert refused.error["data"]["missing"] == ["tasks:read"]
    assert ran == ["tasks/get"]


def test_method_scopes_for_a_method_the_guard_decides_itself_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"METHOD_SCOPES names \['tools/call'\].*layers"):
        ScopeGuard(method_scopes={"tools/call": ["x"]})


@pytest.mark.parametrize("declared", [False, True], ids=["refused", "declared-free-of-scope-directives"])
def test_an_introspection_schema_stops_install_unless_declared_free_of_scope_directives(
    server_kind: ServerKind, tmp_path: Any, declared: bool
) -> None:
    from graphql import build_schema, introspection_from_schema

    schema = tmp_path / "introspection.json"
    schema.write_text(json.dumps({"data": introspection_from_schema(build_schema("type Query { a: String }"))}))
    server = server_kind.new("graphql")

    @server.tool()
    @requires_scopes(graphql="query A { a }")
    def read_a() -> str:
        return "a"

    guard = ScopeGuard(graphql_schema=str(schema), graphql_no_scope_directives=declared)
    if not declared:
        with pytest.raises(ConfigurationError, match="carries no applied directives"):
            guard.install(server)
        return
    report = guard.install(server)
    assert report.undeclared == ()


async def test_in_process_callers_get_their_mapped_claim_scopes(
    install: Any, server_kind: ServerKind, transport: str
) -> None:
    """``FASTMCP_SCOPES_CLAIM_SCOPES`` applies to a caller the server's own auth context names, not only to
    tokens the HTTP layer verified (and so to ``authorize`` on a caller's behalf)."""
    if transport == "http":
        pytest.skip("over HTTP: tests/contract/test_claims.py, with tokens shaped as each server issues them")
    server = server_kind.new("docs")

    @server.tool()
    @requires_scopes("docs:read")
    def read_doc() -> str:
        return "doc"

    guarded: Guarded = await install(server, claim_scopes={"roles": {"reader": ["docs:read"]}})
    call = {"name": "read_doc", "arguments": {}}
    mapped = await guarded.ask([], "tools/call", call, claims={"roles": ["reader"]})
    other = await guarded.ask([], "tools/call", call, claims={"roles": ["writer"]})

    assert succeeded(mapped), mapped.whole()
    assert other.error is not None and other.error["data"]["missing"] == ["docs:read"], other.whole()


async def test_signing_keys_are_fetched_at_start_up(server_kind: ServerKind) -> None:
    """The first request does not wait for the JWKS: served over HTTP, the guard fetched the keys while the app
    started, so a valid token is honoured even once the authorization server has gone away."""
    from contextlib import AsyncExitStack

    import httpx2

    from fastmcp_scopes.testing import DevAuthorizationServer

    from .conftest import http_answer, serve

    server = server_kind.new("warm")

    @server.tool()
    @requires_scopes("docs:read")
    def read_doc() -> str:
        return "doc"

    auth = DevAuthorizationServer(scopes=["docs:read"]).start()
    try:
        async with AsyncExitStack() as stack:

            def factory(base: str) -> Any:
                ScopeGuard(issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp").install(server)
                return server_kind.http_app(server, True, True)

            base = await serve(stack, factory)
            token = auth.issue_token(scopes=["docs:read"], audience=f"{base}/mcp")
            auth.stop()  # the keys can no longer be fetched
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
            headers = {
                "authorization": f"Bearer {token}",
                "accept": "application/json, text/event-stream",
                "content-type": "application/json",
                "mcp-protocol-version": "2025-11-25",
            }
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read_doc", "arguments": {}}}
            answer = http_answer(await http.post(f"{base}/mcp", json=body, headers=headers))
    finally:
        auth.stop()

    assert answer.status == 200 and succeeded(answer), answer.whole()
