"""Issue 14, part 1: the attack table for callers without a token on a server where something is public.

An anonymous caller reaches initialize, ping, notifications, the listings (public items only) and the public
primitives, and nothing else: not a protected primitive under another name (a mounted one, a URI a template or a
concrete resource answers), not through another method (completion, subscription, an extension's or unknown method,
a request disguised as a notification), not another caller's session, not with another verb. A protected and a
missing primitive answer the same bytes when hidden primitives are concealed. Each row runs on every lineage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fastmcp_scopes import ScopeGuard, authorize, parse_www_authenticate, public, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer

from .conftest import (
    HANDSHAKE,
    Answer,
    Guarded,
    Install,
    ServerKind,
    dashboard,
    every_transport,
    http_only,
    request_headers,
    serve,
    skip_unless,
    succeeded,
)
from .test_public import CONNECT, OPTIONS, UNAUTHENTICATED, guarded_catalogue, refused_anonymously

EVERYTHING = [*CONNECT, "mcp:tools:call", "catalogue:write", "prompts:secret", "docs:read"]
INITIALIZE = {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "contract", "version": "1"}}


def unauthenticated(answer: Answer) -> bool:
    return answer.status in (None, 401) and answer.error is not None and answer.error["code"] == UNAUTHENTICATED


# -- other names ------------------------------------------------------------------------------------


async def test_a_mounted_servers_public_and_protected_primitives_keep_their_declarations(
    server_kind: ServerKind, install: Install
) -> None:
    skip_unless(server_kind.mount, f"{server_kind.name} cannot mount servers")
    assert server_kind.mount is not None
    ran: list[str] = []
    parent, child = server_kind.new("parent"), server_kind.new("child")

    @child.tool()
    @public
    def lookup(query: str) -> str:
        ran.append("lookup")
        return query

    @child.tool()
    @requires_scopes("catalogue:write")
    def erase(item: str) -> str:
        ran.append("erase")
        return item

    server_kind.mount(parent, child, "kid")
    guarded = await install(parent, **OPTIONS)
    guarded.ran = ran

    tools = await guarded.ask(None, "tools/list")
    assert tools.result is not None, tools.whole()
    names = [tool["name"] for tool in tools.result["tools"]]
    assert len(names) == 1 and "lookup" in names[0] and "erase" not in str(names)  # the name this lineage mounts as
    erase_name = names[0].replace("lookup", "erase")

    looked = await guarded.ask(None, "tools/call", {"name": names[0], "arguments": {"query": "q"}})
    erased = await guarded.ask(None, "tools/call", {"name": erase_name, "arguments": {"item": "a"}})

    assert succeeded(looked), looked.whole()
    assert guarded.ran == ["lookup"]
    guarded.ran.clear()
    refused_anonymously(guarded, erased, "catalogue:write mcp:connect mcp:tools:call")


async def test_a_uri_is_public_only_where_the_server_dispatches_it_to_a_public_primitive(
    server_kind: ServerKind, install: Install
) -> None:
    ran: list[str] = []
    server = server_kind.new("files")

    @server.resource("files://readme")
    @public
    def readme() -> str:
        ran.append("readme")
        return "readme"

    @server.resource(server_kind.catch_all_template)
    @requires_scopes("docs:read")
    def anything(path: str) -> str:
        ran.append(f"file {path}")
        return path

    @server.resource("pub://{name}")
    @public
    def pub(name: str) -> str:
        ran.append(f"pub {name}")
        return name

    @server.resource("pub://secret")
    @requires_scopes("docs:read")
    def secret() -> str:  # a concrete resource shadows the public template for its own URI
        ran.append("secret")
        return "secret"

    guarded = await install(server, **OPTIONS)
    guarded.ran = ran

    readable = [await guarded.ask(None, "resources/read", {"uri": uri}) for uri in ("files://readme", "pub://open")]
    assert all(answer.result is not None for answer in readable), [a.whole() for a in readable]
    assert ran == ["readme", "pub open"]
    ran.clear()
    for uri in ("files://readme2", "files://other", "pub://secret"):
        refused_anonymously(guarded, await guarded.ask(None, "resources/read", {"uri": uri}), "docs:read mcp:connect")


async def test_every_name_of_an_app_tool_is_decided_as_its_own(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    server = dashboard(server_kind, ran, public_status=True)
    assert server_kind.hashed_name is not None
    guarded = await install(server, **OPTIONS)
    guarded.ran = ran

    for name in ("status", server_kind.hashed_name("Dashboard", "status")):
        answer = await guarded.ask(None, "tools/call", {"name": name, "arguments": {}})
        assert succeeded(answer), answer.whole()
    assert ran == ["status", "status"]
    ran.clear()
    for name in ("purge", server_kind.hashed_name("Dashboard", "purge")):
        answer = await guarded.ask(None, "tools/call", {"name": name, "arguments": {}})
        refused_anonymously(guarded, answer, "admin:purge mcp:connect mcp:tools:call")


@http_only
async def test_scopes_for_local_callers_never_reach_a_caller_over_http(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await guarded_catalogue(server_kind, install, stdio_scopes=EVERYTHING)

    answer = await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}})

    refused_anonymously(guarded, answer, "catalogue:write mcp:connect mcp:tools:call")


# -- other methods ----------------------------------------------------------------------------------


@http_only
@pytest.mark.parametrize(
    ("method", "params", "scope"),
    [
        pytest.param("logging/setLevel", {"level": "debug"}, "mcp:connect", id="logging-setLevel"),
        pytest.param("tasks/get", {"taskId": "t1"}, "mcp:connect", id="tasks-get"),
        pytest.param("tasks/list", {}, "mcp:connect", id="tasks-list"),
        pytest.param("made/up", {}, "mcp:connect", id="unknown-method"),
        pytest.param("resources/subscribe", {"uri": "info://private"}, "docs:read mcp:connect", id="subscribe"),
        pytest.param("resources/unsubscribe", {"uri": "docs://plans"}, "docs:read mcp:connect", id="unsubscribe"),
    ],
)
async def test_other_methods_reach_nothing_protected(
    server_kind: ServerKind, install: Install, method: str, params: dict[str, Any], scope: str
) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    answer = await guarded.ask(None, method, params)

    refused_anonymously(guarded, answer, scope)


@http_only
async def test_a_method_let_through_by_configuration_still_needs_a_token(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await guarded_catalogue(server_kind, install, method_scopes={"tasks/get": ["tasks:read"]})

    answer = await guarded.ask(None, "tasks/get", {"taskId": "t1"})

    refused_anonymously(guarded, answer, "mcp:connect tasks:read")


@http_only
async def test_completion_reaches_only_public_prompts(server_kind: ServerKind, install: Install) -> None:
    skip_unless(server_kind.add_completion, f"{server_kind.name} serves no completion/complete")
    assert server_kind.add_completion is not None
    ran: list[str] = []
    server = server_kind.new("completing")

    @server.prompt()
    @public
    def greeting(name: str) -> str:
        return name

    @server.prompt()
    @requires_scopes("prompts:secret")
    def secret(topic: str) -> str:
        return topic

    async def complete(ref: Any, argument: Any, context: Any = None) -> Any:
        ran.append(getattr(ref, "name", None) or getattr(ref, "uri", ""))
        return None

    server_kind.add_completion(server, complete)
    guarded = await install(server, **OPTIONS)
    guarded.ran = ran

    def params(prompt: str) -> dict[str, Any]:
        return {"ref": {"type": "ref/prompt", "name": prompt}, "argument": {"name": "topic", "value": "x"}}

    refused = await guarded.ask(None, "completion/complete", params("secret"))
    refused_anonymously(guarded, refused, "mcp:connect prompts:secret")
    completed = await guarded.ask(None, "completion/complete", params("greeting"))
    assert completed.result is not None, completed.whole()
    assert ran == ["greeting"]


@http_only
async def test_a_call_disguised_as_a_notification_runs_nothing(server_kind: ServerKind, install: Install) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    answer = await guarded.post(None, "tools/call", {"name": "update", "arguments": {"item": "a"}}, id=None)

    assert answer.status == 401, answer.whole()
    assert guarded.ran == []


@http_only
async def test_listings_of_templates_show_only_public_ones(server_kind: ServerKind, install: Install) -> None:
    server = server_kind.new("templates")

    @server.resource("open://{name}")
    @public
    def opened(name: str) -> str:
        return name

    @server.resource("closed://{name}")
    @requires_scopes("docs:read")
    def closed(name: str) -> str:
        return name

    guarded = await install(server, **OPTIONS)

    answer = await guarded.ask(None, "resources/templates/list")

    assert answer.result is not None, answer.whole()
    assert [t["uriTemplate"] for t in answer.result["resourceTemplates"]] == ["open://{name}"]


@http_only
async def test_with_everything_listed_a_caller_without_a_token_sees_what_each_needs(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await guarded_catalogue(server_kind, install, hide_unauthorized=False)

    answer = await guarded.ask(None, "tools/list")

    assert answer.result is not None, answer.whole()
    assert sorted(tool["name"] for tool in answer.result["tools"]) == ["search", "undeclared", "update"]
    refused_anonymously(
        guarded,
        await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}}),
        "catalogue:write mcp:connect mcp:tools:call",
    )


@every_transport
async def test_with_everything_listed_a_public_tool_says_it_needs_no_token(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await guarded_catalogue(server_kind, install, hide_unauthorized=False)

    anonymous = await guarded.ask(None, "tools/list")
    held = await guarded.ask(EVERYTHING, "tools/list")

    for answer in (anonymous, held):
        assert answer.result is not None, answer.whole()
        schemes = {tool["name"]: tool["_meta"]["securitySchemes"] for tool in answer.result["tools"]}
        assert schemes == {
            "search": [{"type": "noauth"}, {"type": "oauth2", "scopes": ["mcp:connect", "mcp:tools:call"]}],
            "update": [{"type": "oauth2", "scopes": ["catalogue:write", "mcp:connect", "mcp:tools:call"]}],
            "undeclared": [{"type": "oauth2", "scopes": ["mcp:connect", "mcp:tools:call"]}],
        }


async def test_a_public_tool_reading_on_its_anonymous_callers_behalf_is_decided_as_that_caller(
    server_kind: ServerKind, install: Install
) -> None:
    ran: list[str] = []
    server = server_kind.new("on-behalf")

    @server.resource("memo://{name}")
    @requires_scopes("memos:read")
    def memo(name: str) -> str:
        ran.append(name)
        return f"memo {name}"

    @server.resource("note://{name}")
    @public
    def note(name: str) -> str:
        ran.append(name)
        return f"note {name}"

    @server.tool()
    @public
    async def summarise(uri: str) -> str:
        await authorize("resources/read", {"uri": uri})
        return f"summary of {uri}"

    guarded = await install(server, **OPTIONS)

    refused = await guarded.ask(None, "tools/call", {"name": "summarise", "arguments": {"uri": "memo://board"}})
    allowed = await guarded.ask(None, "tools/call", {"name": "summarise", "arguments": {"uri": "note://board"}})

    assert not succeeded(refused), refused.whole()
    assert "An access token is required" in refused.whole()  # the JSON-RPC error, or fastmcp's error result
    if refused.error is not None:
        assert (refused.error["code"], refused.error["data"]["scope"]) == (UNAUTHENTICATED, "mcp:connect memos:read")
    assert succeeded(allowed), allowed.whole()
    assert ran == []  # authorize() decides; the handler itself never read either resource


# -- hidden is missing ------------------------------------------------------------------------------

HIDDEN_AND_MISSING = [
    pytest.param("tools/call", "name", "update", "absent", {"arguments": {"item": "a"}}, id="tool"),
    pytest.param("prompts/get", "name", "secret", "absent", {"arguments": {"topic": "x"}}, id="prompt"),
    pytest.param("resources/read", "uri", "info://private", "info://absent", {}, id="resource"),
    pytest.param("resources/read", "uri", "docs://plans", "nodocs://plans", {}, id="template"),
    pytest.param("resources/subscribe", "uri", "info://private", "info://absent", {}, id="subscription"),
]


@http_only
@pytest.mark.parametrize(("method", "key", "hidden", "missing", "extra"), HIDDEN_AND_MISSING)
async def test_a_protected_primitive_and_a_missing_one_answer_the_same_bytes(
    server_kind: ServerKind, install: Install, method: str, key: str, hidden: str, missing: str, extra: dict[str, Any]
) -> None:
    guarded = await guarded_catalogue(server_kind, install, hidden_calls="not_found")

    protected = await guarded.ask(None, method, {key: hidden, **extra})
    absent = await guarded.ask(None, method, {key: missing, **extra})

    assert protected.whole(hidden) == absent.whole(missing)
    assert protected.status == 401, protected.whole()
    assert guarded.ran == []


# -- verbs and sessions -----------------------------------------------------------------------------


async def exchange(guarded: Guarded, verb: str, token: str | None, session: str | None, body: Any = None) -> int:
    """The status of one request; a stream that opens is closed unread."""
    assert guarded.http is not None
    headers = request_headers(token)
    if session is not None:
        headers["mcp-session-id"] = session
    content = json.dumps(body).encode() if body is not None else None
    async with guarded.http.stream(verb, guarded.url, headers=headers, content=content) as response:
        return response.status_code


async def open_session(guarded: Guarded, token: str | None) -> str:
    """A session opened by ``token`` (``None``: without one) on a stateful server."""
    answer = await guarded.post(token, "initialize", INITIALIZE)
    assert answer.status == 200, answer.whole()
    session = answer.headers.get("mcp-session-id")
    assert session is not None, answer.whole()
    done = await guarded.post(token, "notifications/initialized", {}, id=None, headers={"mcp-session-id": session})
    assert done.status == 202, done.whole()
    return session


def tools_list(id: int = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": "tools/list"}


@http_only
async def test_an_anonymous_session_is_served_like_any_other(server_kind: ServerKind, install: Install) -> None:
    guarded = await guarded_catalogue(server_kind, install, stateless_http=False)
    session = await open_session(guarded, None)

    listed = await exchange(guarded, "POST", None, session, tools_list())
    streamed = await exchange(guarded, "GET", None, session)
    put = await exchange(guarded, "PUT", None, session, {})
    ended = await exchange(guarded, "DELETE", None, session)

    assert listed == 200
    assert streamed == 200
    assert put == 401  # a verb the guard does not know reaches nothing without a token
    assert ended in (200, 204)


@http_only
async def test_an_anonymous_session_is_not_an_authorized_callers_and_the_reverse(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await guarded_catalogue(server_kind, install, stateless_http=False)
    token = guarded.token(EVERYTHING)
    anonymous, authorized = await open_session(guarded, None), await open_session(guarded, token)
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "update", "arguments": {"item": "a"}}}

    # The SDK binds a session to the credential that opened it and answers another's as if it did not exist.
    assert await exchange(guarded, "POST", token, anonymous, call) == 404
    assert await exchange(guarded, "POST", None, authorized, call) == 401  # decided first: no token, protected
    assert await exchange(guarded, "POST", None, authorized, tools_list()) == 404
    assert await exchange(guarded, "GET", None, authorized) == 404
    assert await exchange(guarded, "DELETE", None, authorized) == 404
    assert await exchange(guarded, "POST", token, authorized, tools_list()) == 200  # still there, still its owner's
    assert guarded.ran == []


# -- behind the server's own authentication ---------------------------------------------------------


def _sdk1_with_auth(auth: DevAuthorizationServer, base: str) -> Any:
    """As the harness's ``with_own_auth`` builds the other lineages' servers: an mcp 1.x ``FastMCP`` verifying tokens
    itself, checking they were issued for ``<base>/mcp`` and requiring ``needed`` of every caller."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined,unused-ignore]

    from .kinds import DevTokenVerifier

    url = f"{base}/mcp"
    settings = AuthSettings(
        issuer_url=auth.issuer, resource_server_url=url, validate_token_resource=True, required_scopes=["needed"]
    )
    return FastMCP("own-auth", token_verifier=DevTokenVerifier(auth, url), auth=settings)


async def test_behind_the_servers_own_authentication(server_kind: ServerKind, dev_auth: DevAuthorizationServer) -> None:
    build = server_kind.with_own_auth or (_sdk1_with_auth if server_kind.name == "sdk1" else None)
    skip_unless(build, f"no server with its own authentication written for {server_kind.name} yet")
    assert build is not None
    from contextlib import AsyncExitStack

    import httpx2

    ran: list[str] = []

    def factory(base: str) -> Any:
        server = build(dev_auth, base)

        @server.tool()
        @public
        def search(query: str) -> str:
            ran.append("search")
            return query

        @server.tool()
        @requires_scopes("catalogue:write")
        def update(item: str) -> str:
            ran.append("update")
            return item

        ScopeGuard(authorization_servers=[dev_auth.issuer]).install(server)
        return server_kind.http_app(server, True, True)

    async with AsyncExitStack() as stack:
        base = await serve(stack, factory)
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
        guarded = Guarded(server_kind, None, "http", dev_auth, f"{base}/mcp", http, base, ran)

        listed = await guarded.ask(None, "tools/list")
        searched = await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "q"}})
        updated = await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}})
        forged = await guarded.post("not-a-token", "tools/call", {"name": "search", "arguments": {"query": "q"}})
        other = await guarded.post(
            dev_auth.issue_token(scopes=["needed"], audience="https://elsewhere.example/mcp"),
            "tools/call",
            {"name": "search", "arguments": {"query": "q"}},
        )
        short = await guarded.ask(["catalogue:write"], "tools/call", {"name": "update", "arguments": {"item": "a"}})
        granted = await guarded.ask(
            ["needed", "catalogue:write"], "tools/call", {"name": "update", "arguments": {"item": "a"}}
        )

    assert listed.result is not None and [t["name"] for t in listed.result["tools"]] == ["search"], listed.whole()
    assert succeeded(searched), searched.whole()
    refused = parse_www_authenticate(updated.challenge or "")
    assert updated.status == 401 and refused["scope"] == "catalogue:write needed", updated.whole()
    assert "error" not in refused
    for answer in (forged, other):  # a token that is present is verified by the server, never anonymous
        assert answer.status == 401, answer.whole()
        assert parse_www_authenticate(answer.challenge or "")["error"] == "invalid_token"
    assert short.status in (401, 403), short.whole()  # the server's own required scope still applies
    assert succeeded(granted), granted.whole()
    assert ran == ["search", "update"]
