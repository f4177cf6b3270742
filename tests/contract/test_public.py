"""Issue 14, part 1: public primitives beside protected ones, on every server lineage.

A caller without a token may initialize, list (seeing only what is public), and call, get or read what is
public; a protected operation answers the ``401`` challenge naming the scopes *that* operation needs, so the
client authorizes for exactly those (the MCP Apps extension's per-tool authorization). With a token everything
is as it was. Public is an explicit choice: with nothing public, a request without a token is refused exactly as
before."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fastmcp_scopes import parse_www_authenticate, public, requires_scopes
from fastmcp_scopes.challenge import BearerChallenge

from .conftest import (
    Answer,
    Guarded,
    Install,
    ServerKind,
    every_transport,
    http_only,
    listing,
    succeeded,
)

UNAUTHENTICATED = -32004
CONNECT = ["mcp:connect"]
OPTIONS: dict[str, Any] = {"connect_scopes": CONNECT, "call_scopes": {"tools": ["mcp:tools:call"]}}


def catalogue(kind: ServerKind, ran: list[str]) -> Any:
    """A server with a public tool, prompt and resource beside protected ones of each kind."""
    server = kind.new("catalogue")

    @server.tool()
    @public
    def search(query: str) -> str:
        ran.append("search")
        return f"found {query}"

    @server.tool()
    @requires_scopes("catalogue:write")
    def update(item: str) -> str:
        ran.append("update")
        return f"updated {item}"

    @server.tool()
    def undeclared() -> str:
        ran.append("undeclared")
        return "undeclared"

    @server.prompt()
    @public
    def greeting() -> str:
        ran.append("greeting")
        return "hello"

    @server.prompt()
    @requires_scopes("prompts:secret")
    def secret(topic: str) -> str:
        ran.append("secret")
        return f"secret {topic}"

    @server.resource("info://about")
    @public
    def about() -> str:
        ran.append("about")
        return "about us"

    @server.resource("info://private")
    @requires_scopes("docs:read")
    def private() -> str:
        ran.append("private")
        return "private"

    @server.resource("docs://{name}")
    @requires_scopes("docs:read")
    def doc(name: str) -> str:
        ran.append(f"doc {name}")
        return f"doc {name}"

    return server


async def guarded_catalogue(server_kind: ServerKind, install: Install, **options: Any) -> Guarded:
    ran: list[str] = []
    guarded = await install(catalogue(server_kind, ran), **{**OPTIONS, **options})
    guarded.ran = ran
    return guarded


def refused_anonymously(guarded: Guarded, answer: Answer, scope: str) -> None:
    """``answer`` is the ``401`` (in-process: the ``-32004`` error) that names ``scope``, and nothing ran."""
    assert answer.error is not None and answer.error["code"] == UNAUTHENTICATED, answer.whole()
    assert answer.error["data"]["scope"] == scope, answer.whole()
    if guarded.transport == "http":
        assert answer.status == 401, answer.whole()
        expected = BearerChallenge(scope=tuple(scope.split()), resource_metadata=guarded.metadata_url)
        assert answer.challenge == expected.render()
        assert "error" not in parse_www_authenticate(answer.challenge)  # RFC 6750 §3.1: no credentials, no code
    assert guarded.ran == []


# -- a caller without a token ---------------------------------------------------------------------


@every_transport
async def test_a_caller_without_a_token_lists_only_what_is_public(server_kind: ServerKind, install: Install) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    shown = await listing(guarded, None)

    assert shown == {"tools": ["search"], "prompts": ["greeting"], "resources": ["info://about"], "templates": []}


@every_transport
async def test_a_caller_without_a_token_calls_gets_and_reads_what_is_public(
    server_kind: ServerKind, install: Install
) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    called = await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "lamps"}})
    got = await guarded.ask(None, "prompts/get", {"name": "greeting"})
    read = await guarded.ask(None, "resources/read", {"uri": "info://about"})

    assert succeeded(called), called.whole()
    assert called.result is not None and called.result["content"][0]["text"] == "found lamps"
    assert got.result is not None and "hello" in str(got.result["messages"]), got.whole()
    assert read.result is not None and read.result["contents"][0]["text"] == "about us", read.whole()
    assert guarded.ran == ["search", "greeting", "about"]


PROTECTED = [
    pytest.param(
        "tools/call",
        {"name": "update", "arguments": {"item": "a"}},
        "catalogue:write mcp:connect mcp:tools:call",
        id="protected-tool",
    ),
    pytest.param(
        "tools/call", {"name": "undeclared", "arguments": {}}, "mcp:connect mcp:tools:call", id="undeclared-tool"
    ),
    pytest.param(
        "prompts/get",
        {"name": "secret", "arguments": {"topic": "x"}},
        "mcp:connect prompts:secret",
        id="protected-prompt",
    ),
    pytest.param("resources/read", {"uri": "info://private"}, "docs:read mcp:connect", id="protected-resource"),
    pytest.param("resources/read", {"uri": "docs://plans"}, "docs:read mcp:connect", id="protected-template"),
]


@every_transport
@pytest.mark.parametrize(("method", "params", "scope"), PROTECTED)
async def test_a_protected_operation_without_a_token_is_challenged_for_its_own_scopes(
    server_kind: ServerKind, install: Install, method: str, params: dict[str, Any], scope: str
) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    answer = await guarded.ask(None, method, params)

    refused_anonymously(guarded, answer, scope)


@http_only
async def test_the_challenge_is_the_whole_answer(server_kind: ServerKind, install: Install) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    answer = await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}})

    assert answer.status == 401
    assert answer.challenge == (
        f'Bearer scope="catalogue:write mcp:connect mcp:tools:call", resource_metadata="{guarded.metadata_url}"'
    )
    assert answer.body == {
        "error": {
            "code": UNAUTHENTICATED,
            "message": "unauthenticated: An access token is required",
            "data": {
                "error": "unauthenticated",
                "required": ["catalogue:write", "mcp:connect", "mcp:tools:call"],
                "missing": ["catalogue:write", "mcp:connect", "mcp:tools:call"],
                "alternatives": [["catalogue:write", "mcp:connect", "mcp:tools:call"]],
                "scope": "catalogue:write mcp:connect mcp:tools:call",
            },
        }
    }


# -- with a token, as before ----------------------------------------------------------------------


@every_transport
async def test_with_a_token_everything_is_as_before(server_kind: ServerKind, install: Install) -> None:
    guarded = await guarded_catalogue(server_kind, install)
    everything = [*CONNECT, "mcp:tools:call", "catalogue:write", "prompts:secret", "docs:read"]

    shown = await listing(guarded, everything)
    updated = await guarded.ask(everything, "tools/call", {"name": "update", "arguments": {"item": "a"}})
    searched = await guarded.ask(everything, "tools/call", {"name": "search", "arguments": {"query": "q"}})
    short = await guarded.ask([*CONNECT, "mcp:tools:call"], "tools/call", {"name": "update", "arguments": {}})

    assert sorted(shown["tools"]) == ["search", "undeclared", "update"]
    assert sorted(shown["prompts"]) == ["greeting", "secret"]
    assert sorted(shown["resources"]) == ["info://about", "info://private"]
    assert shown["templates"] == ["docs://{name}"]
    assert succeeded(updated) and succeeded(searched), (updated.whole(), searched.whole())
    assert short.error is not None and short.error["code"] == -32003, short.whole()
    assert short.status in (None, 403)
    # A token holder calling a public tool is decided as for any tool of no scope of its own: the layers apply.
    layerless = await guarded.ask(CONNECT, "tools/call", {"name": "search", "arguments": {"query": "q"}})
    assert layerless.error is not None and layerless.error["data"]["missing"] == ["mcp:tools:call"], layerless.whole()


@http_only
async def test_nothing_public_leaves_a_request_without_a_token_refused_as_before(
    server_kind: ServerKind, install: Install
) -> None:
    server = server_kind.new("closed")

    @server.tool()
    def search(query: str) -> str:
        return query

    guarded = await install(server, **OPTIONS, scopes_supported=["mcp:connect"])

    listed = await guarded.ask(None, "tools/list")
    called = await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "q"}})

    for answer in (listed, called):
        assert answer.status == 401
        assert answer.challenge == f'Bearer scope="mcp:connect", resource_metadata="{guarded.metadata_url}"'
        assert answer.raw == b'{"error": "unauthorized", "error_description": "An access token is required"}'


# -- a token that is present is never anonymous ---------------------------------------------------


@http_only
@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer", "Basic dXNlcjpwYXNz"],
    ids=["garbage-bearer", "bearer-without-token", "another-scheme"],
)
async def test_credentials_that_are_not_a_valid_token_are_refused_even_for_public_tools(
    server_kind: ServerKind, install: Install, authorization: str
) -> None:
    guarded = await guarded_catalogue(server_kind, install)
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search", "arguments": {}}}'

    answer = await guarded.send("POST", None, body, {"authorization": authorization})

    assert answer.status == 401, answer.whole()
    assert answer.challenge is not None
    expected_error = None if authorization.startswith("Basic") else "invalid_token"
    assert parse_www_authenticate(answer.challenge).get("error") == expected_error
    assert guarded.ran == []


@http_only
async def test_an_expired_token_is_invalid_not_anonymous(server_kind: ServerKind, install: Install) -> None:
    guarded = await guarded_catalogue(server_kind, install)
    expired = guarded.auth.issue_token(scopes=CONNECT, audience=guarded.url, lifetime=-3600)

    answer = await guarded.post(expired, "tools/call", {"name": "search", "arguments": {"query": "q"}})

    assert answer.status == 401 and answer.challenge is not None, answer.whole()
    assert parse_www_authenticate(answer.challenge)["error"] == "invalid_token"
    assert guarded.ran == []


# -- the audit ------------------------------------------------------------------------------------


@every_transport
async def test_the_audit_names_the_anonymous_caller(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    guarded = await guarded_catalogue(server_kind, install)

    with caplog.at_level(logging.INFO, logger="fastmcp_scopes.audit"):
        await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "q"}})
        await guarded.ask(None, "tools/call", {"name": "update", "arguments": {"item": "a"}})

    events = [r.audit for r in caplog.records if getattr(r, "audit", {}).get("event") == "decision"]
    calls = [(e["name"], e["outcome"], e["caller"]) for e in events if e["method"] == "tools/call"]
    anonymous = {"sub": None, "client_id": None, "iss": None, "anonymous": True}
    assert calls == [("search", "allow", anonymous), ("update", "unauthenticated", anonymous)]
