"""Issue 8, item 7: ``subscriptions/listen`` (2026-07-28) naming a resource the token cannot read is refused
like ``resources/read`` of it, so none of its update notifications reach the caller. Only on lineages
that serve ``subscriptions/listen``; none serves the 2025 ``resources/subscribe`` out of the box."""

from __future__ import annotations

import json

import pytest

from fastmcp_scopes.testing import scoped_client

from ..adapters.hr import add_hr_primitives
from .conftest import (
    MODERN,
    Answer,
    Guarded,
    Install,
    MCPError,
    ServerKind,
    assert_refused_like,
    error_of,
    http_answer,
    skip_unless,
)


async def listen(guarded: Guarded, scopes: list[str], uris: list[str]) -> Answer:
    """Open a listen stream for ``uris`` and close it at once: the refusal, or an empty result if it opened."""
    if guarded.transport == "in-process":
        async with scoped_client(guarded.server, scopes) as client:
            try:
                async with client.listen(resource_subscriptions=uris):
                    return Answer(None, {}, {"result": {}})
            except MCPError as error:
                return Answer(None, {}, {"error": error_of(error)})
    assert guarded.http is not None
    params = {
        "notifications": {"resourceSubscriptions": uris},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        },
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": params}
    headers = {
        "authorization": f"Bearer {guarded.token(scopes)}",
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": MODERN,
        "mcp-method": "subscriptions/listen",
    }
    async with guarded.http.stream("POST", guarded.url, content=json.dumps(body).encode(), headers=headers) as response:
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/event-stream"):
            return Answer(200, dict(response.headers), {"result": {}})  # the stream opened: close it unread
        await response.aread()
        return http_answer(response)


async def hr(server_kind: ServerKind, install: Install) -> Guarded:
    skip_unless(server_kind.serves_listen, f"{server_kind.name} does not serve subscriptions/listen")
    server = server_kind.new("hr")
    add_hr_primitives(server, [])

    @server.resource("hr://handbook")
    def handbook() -> str:  # needs no scope
        return "welcome"

    return await install(server, json_response=False)


@pytest.mark.parametrize(
    "uris",
    [
        pytest.param(["hr://policies"], id="a-resource"),
        pytest.param(["hr://employees/7"], id="a-templated-resource"),
        pytest.param(["hr://handbook", "hr://policies"], id="among-readable-ones"),
    ],
)
async def test_listening_to_a_resource_the_token_cannot_read_is_refused_like_reading_it(
    server_kind: ServerKind, install: Install, uris: list[str]
) -> None:
    guarded = await hr(server_kind, install)
    forbidden = uris[-1]

    like = await guarded.ask([], "resources/read", {"uri": forbidden})
    answer = await listen(guarded, [], uris)

    assert_refused_like(answer, like)


async def test_listening_to_readable_resources_opens_the_stream(server_kind: ServerKind, install: Install) -> None:
    guarded = await hr(server_kind, install)

    answer = await listen(guarded, ["docs:read"], ["hr://handbook", "hr://policies"])

    assert answer.result == {}, answer.whole()
