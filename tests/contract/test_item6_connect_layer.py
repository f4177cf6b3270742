"""Issue 8, item 6: over HTTP the connect layer applies to every request on the MCP endpoint, not only to
POSTed requests: the SSE stream (GET), ending a session (DELETE), notifications and any other verb. A
valid token of the same principal without ``mcp:connect`` gets 403 ``insufficient_scope`` naming it; no
token gets 401; with it, the server answers as it always did."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fastmcp_scopes import parse_www_authenticate

from ..adapters.hr import add_hr_primitives
from .conftest import HANDSHAKE, Guarded, Install, ServerKind, request_headers

pytestmark = pytest.mark.parametrize("transport", ["http"], indirect=True)

CONNECT = ["mcp:connect"]


async def exchange(
    guarded: Guarded, verb: str, token: str | None, session: str | None, body: Any = None
) -> tuple[int, str | None]:
    """Status and ``WWW-Authenticate`` of one request; a stream that opens is closed unread."""
    assert guarded.http is not None
    headers = request_headers(token)
    if session is not None:
        headers["mcp-session-id"] = session
    content = json.dumps(body).encode() if body is not None else None
    async with guarded.http.stream(verb, guarded.url, headers=headers, content=content) as response:
        return response.status_code, response.headers.get("www-authenticate")


async def open_session(guarded: Guarded) -> str | None:
    """A session opened by a token holding the connect scope (``None`` on a stateless server)."""
    initialize = {
        "protocolVersion": HANDSHAKE,
        "capabilities": {},
        "clientInfo": {"name": "contract", "version": "1"},
    }
    token = guarded.token(CONNECT)
    answer = await guarded.post(token, "initialize", initialize)
    assert answer.status == 200, answer.whole()
    session = answer.headers.get("mcp-session-id")
    if session is not None:
        initialized = await guarded.post(
            token, "notifications/initialized", {}, id=None, headers={"mcp-session-id": session}
        )
        assert initialized.status == 202, initialized.whole()
    return session


NOTIFICATION = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}
REQUESTS = [
    pytest.param("GET", None, id="GET-the-stream"),
    pytest.param("DELETE", None, id="DELETE-the-session"),
    pytest.param("POST", NOTIFICATION, id="POST-a-notification"),
    pytest.param("PUT", {}, id="PUT"),
    pytest.param("PATCH", {}, id="PATCH"),
    pytest.param("HEAD", None, id="HEAD"),
]


@pytest.fixture(params=[False, True], ids=["stateful", "stateless"])
def stateless(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


async def guarded_hr(server_kind: ServerKind, install: Install, stateless: bool) -> Guarded:
    server = server_kind.new("hr")
    add_hr_primitives(server, [])
    return await install(server, stateless_http=stateless, connect_scopes=CONNECT)


@pytest.mark.parametrize(("verb", "body"), REQUESTS)
async def test_without_the_connect_scope_every_request_is_refused(
    server_kind: ServerKind, install: Install, stateless: bool, verb: str, body: Any
) -> None:
    guarded = await guarded_hr(server_kind, install, stateless)
    session = await open_session(guarded)

    status, challenge = await exchange(guarded, verb, guarded.token(["employees:read"]), session, body)

    assert status == 403
    assert challenge is not None
    parsed = parse_www_authenticate(challenge)
    assert parsed["error"] == "insufficient_scope"
    assert parsed["scope"].split() == CONNECT
    assert parsed["resource_metadata"] == guarded.metadata_url


@pytest.mark.parametrize(("verb", "body"), REQUESTS)
async def test_without_a_token_every_request_is_unauthorized(
    server_kind: ServerKind, install: Install, stateless: bool, verb: str, body: Any
) -> None:
    guarded = await guarded_hr(server_kind, install, stateless)
    session = await open_session(guarded)

    status, challenge = await exchange(guarded, verb, None, session, body)

    assert status == 401
    assert challenge is not None
    assert "error" not in parse_www_authenticate(challenge)


@pytest.mark.parametrize(("verb", "body"), REQUESTS)
async def test_with_the_connect_scope_the_server_answers_as_before(
    server_kind: ServerKind, install: Install, stateless: bool, verb: str, body: Any
) -> None:
    guarded = await guarded_hr(server_kind, install, stateless)
    session = await open_session(guarded)

    status, _ = await exchange(guarded, verb, guarded.token(CONNECT), session, body)

    assert status not in (401, 403)
