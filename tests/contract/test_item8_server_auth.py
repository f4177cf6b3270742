"""Issue 8, item 8: installing the guard never weakens the server's own authentication. A server that
verifies tokens itself, checks they were issued for it, and requires scopes of every caller keeps doing
all of that after ``install()``: a token for another resource gets 401 ``invalid_token``, one without a
required scope 403 naming it. Each row is also run on the same server unguarded, which shows the answer
is the server's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest

from fastmcp_scopes import ScopeGuard, parse_www_authenticate
from fastmcp_scopes.testing import DevAuthorizationServer

from .conftest import Guarded, ServerKind, serve

OTHER_RESOURCE = "https://elsewhere.example/mcp"


@pytest.fixture(params=[False, True], ids=["unguarded", "guarded"])
def with_guard(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def deployment(
    server_kind: ServerKind, dev_auth: DevAuthorizationServer, with_guard: bool
) -> AsyncIterator[Guarded]:
    build = server_kind.with_own_auth
    if build is None:
        pytest.skip(f"no server with its own authentication written for {server_kind.name} yet")
    ran: list[str] = []

    def factory(base: str) -> Any:
        server = build(dev_auth, base)

        @server.tool()
        def ping() -> str:
            ran.append("ping")
            return "pong"

        if with_guard:
            ScopeGuard(authorization_servers=[dev_auth.issuer]).install(server)
        return server_kind.http_app(server, True, True)

    async with AsyncExitStack() as stack:
        base = await serve(stack, factory)
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
        yield Guarded(server_kind, None, "http", dev_auth, f"{base}/mcp", http, base, ran)


PING = {"name": "ping", "arguments": {}}


@pytest.mark.parametrize("scopes", [["needed"], []], ids=["with-the-required-scope", "without-it"])
async def test_a_token_for_another_resource_is_invalid(
    deployment: Guarded, with_guard: bool, scopes: list[str]
) -> None:

    answer = await deployment.post(
        deployment.auth.issue_token(scopes=scopes, audience=OTHER_RESOURCE), "tools/call", PING
    )

    assert answer.status == 401, answer.whole()
    assert answer.challenge is not None
    assert parse_www_authenticate(answer.challenge)["error"] == "invalid_token"
    assert deployment.ran == []


async def test_a_token_without_the_required_scope_is_refused_naming_it(deployment: Guarded, with_guard: bool) -> None:

    answer = await deployment.post(deployment.token(["other"]), "tools/call", PING)

    assert deployment.ran == []
    if not with_guard:  # the server's own answer: refused (the SDK's 403 names no scope, fastmcp's is a 401)
        assert answer.status in (401, 403), answer.whole()
        return
    if deployment.kind.name.startswith("fastmcp"):
        # fastmcp's JWTVerifier refuses such a token while verifying it, before any middleware: the answer
        # stays fastmcp's own 401 (README: list the scopes in FASTMCP_SCOPES_CONNECT_SCOPES for a 403).
        assert answer.status == 401, answer.whole()
        assert parse_www_authenticate(answer.challenge or "")["error"] == "invalid_token"
        return
    # Guarded, the server's required scopes join the connect layer: RFC 6750 §3.1's 403, naming them.
    assert answer.status == 403, answer.whole()
    assert answer.challenge is not None
    challenge = parse_www_authenticate(answer.challenge)
    assert challenge["error"] == "insufficient_scope"
    assert "needed" in challenge["scope"].split()


async def test_a_token_for_this_server_with_the_required_scope_is_served(deployment: Guarded) -> None:
    answer = await deployment.post(deployment.token(["needed"]), "tools/call", PING)

    assert answer.status == 200, answer.whole()
    assert deployment.ran == ["ping"]
