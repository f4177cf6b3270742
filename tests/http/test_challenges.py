"""The three RFC 6750 answers, protected resource metadata, forged tokens and hostile bodies, over real
HTTP. Whatever is refused must never reach a tool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from fastmcp_scopes import ScopeGuard, parse_www_authenticate
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer
from tests.forgery import forged_tokens

from .conftest import BASELINE, GRANTABLE, Deployment, build_server, deploy
from .rpc import ACCEPT, post_rpc, tool_call

CALL = tool_call("get_employees")


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=30) as client:
        yield client


@pytest.mark.spec("rfc6750/no-credentials")
async def test_no_token_gets_a_bare_challenge_with_the_baseline(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    response = await post_rpc(http, deployment.url, CALL, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="mcp:connect mcp:tools:read", resource_metadata="{deployment.metadata_url}"'
    )
    assert deployment.calls == []


async def test_another_scheme_counts_as_no_bearer_credentials(deployment: Deployment, http: httpx2.AsyncClient) -> None:
    response = await post_rpc(http, deployment.url, CALL, None, headers={"authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="mcp:connect mcp:tools:read", resource_metadata="{deployment.metadata_url}"'
    )
    assert deployment.calls == []


@pytest.mark.spec("rfc6750/invalid-request")
async def test_two_authorization_headers_are_an_invalid_request(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    token = deployment.auth_server.issue_token(scopes=GRANTABLE, audience=deployment.url)
    headers = [*ACCEPT.items(), ("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")]
    response = await http.post(deployment.url, content=json.dumps(CALL).encode(), headers=headers)
    assert response.status_code == 400
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_request"')
    assert deployment.calls == []


@pytest.mark.spec("rfc9728/metadata")
async def test_protected_resource_metadata(deployment: Deployment, http: httpx2.AsyncClient) -> None:
    response = await http.get(deployment.metadata_url)
    assert response.status_code == 200
    assert response.json() == {
        "resource": deployment.url,
        "authorization_servers": [deployment.auth_server.issuer],
        "scopes_supported": BASELINE,
        "bearer_methods_supported": ["header"],
    }


def forged_cases() -> list[str]:
    with DevAuthorizationServer(scopes=["read"]) as server:
        return [case for case, _ in forged_tokens(server, "http://unused/mcp")]


async def raw_post(url: str, body: bytes, authorization: bytes) -> tuple[int, dict[str, str]]:
    """POST over a bare socket: HTTP client libraries refuse to send some forged headers at all."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode()
    writer.write(head + b"Authorization: " + authorization + b"\r\n\r\n" + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    headers = {}
    for line in rest.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


@pytest.fixture(scope="module")
def forgery_target() -> Iterator[tuple[Deployment, dict[str, str]]]:
    """One deployment for the whole catalogue (a sync fixture: module-scoped, loop-independent)."""
    with DevAuthorizationServer(scopes=GRANTABLE) as auth_server:
        loopback, get = deploy(auth_server)
        with loopback:
            deployment = get()
            yield deployment, dict(forged_tokens(auth_server, deployment.url))


@pytest.mark.spec("rfc6750/invalid-token")
@pytest.mark.spec("rfc9068/verification")
@pytest.mark.parametrize("case", forged_cases())
async def test_forged_tokens_get_invalid_token_and_reach_no_tool(
    forgery_target: tuple[Deployment, dict[str, str]], case: str
) -> None:
    deployment, tokens = forgery_target
    status, headers = await raw_post(deployment.url, json.dumps(CALL).encode(), b"Bearer " + tokens[case].encode())
    assert status == 401
    challenge = headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert challenge.endswith(f'resource_metadata="{deployment.metadata_url}"')
    assert deployment.calls == []


async def test_the_forgery_target_accepts_a_genuine_token(forgery_target: tuple[Deployment, dict[str, str]]) -> None:
    deployment, _ = forgery_target
    token = deployment.auth_server.issue_token(scopes=["mcp:connect"], audience=deployment.url)
    status, _headers = await raw_post(deployment.url, json.dumps(CALL).encode(), b"Bearer " + token.encode())
    assert status == 403  # authenticated, then refused for scopes: the forged cases failed for their forgery


HOSTILE: list[tuple[str, bytes, dict[str, str], int]] = [
    ("batch", json.dumps([CALL]).encode(), {}, 400),
    ("batch-of-two", json.dumps([CALL, {**CALL, "id": 2}]).encode(), {}, 400),
    (
        "duplicate-name",
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_employees","name":"update_employee_mood"}}',
        {},
        400,
    ),
    ("duplicate-method", b'{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{}}', {}, 400),
    ("name-not-a-string", json.dumps({**CALL, "params": {"name": ["get_employees"]}}).encode(), {}, 400),
    ("name-missing", json.dumps({**CALL, "params": {}}).encode(), {}, 400),
    ("params-not-an-object", json.dumps({**CALL, "params": ["get_employees"]}).encode(), {}, 400),
    ("id-is-an-object", json.dumps({**CALL, "id": {"x": 1}}).encode(), {}, 400),
    ("not-json", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", ', {}, 400),
    ("deeply-nested", b"[" * 100_000 + b"]" * 100_000, {}, 400),
    ("oversized", json.dumps({**CALL, "pad": "x" * (5 * 1024 * 1024)}).encode(), {}, 413),
    ("method-header-mismatch", json.dumps(CALL).encode(), {"mcp-method": "tools/list"}, 400),
    (
        "name-header-mismatch",
        json.dumps(CALL).encode(),
        {"mcp-method": "tools/call", "mcp-name": "delete_employee"},
        400,
    ),
]


@pytest.mark.spec("design/bodies-refused")
@pytest.mark.parametrize(("body", "extra", "status"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
async def test_hostile_bodies_are_refused_and_never_executed(
    deployment: Deployment, http: httpx2.AsyncClient, body: bytes, extra: dict[str, str], status: int
) -> None:
    # A token that could call everything: the refusals are about the body, not the scopes.
    token = deployment.auth_server.issue_token(scopes=GRANTABLE, audience=deployment.url)
    response = await post_rpc(http, deployment.url, body, token, headers=extra)
    assert response.status_code == status
    assert "error" in response.json()
    assert deployment.calls == []


async def test_the_list_layer_is_challenged_before_dispatch(deployment: Deployment, http: httpx2.AsyncClient) -> None:
    token = deployment.auth_server.issue_token(scopes=["mcp:connect"], audience=deployment.url)
    body = {"jsonrpc": "2.0", "id": "x", "method": "tools/list", "params": {}}
    response = await post_rpc(http, deployment.url, body, token)
    assert response.status_code == 403
    assert 'scope="mcp:connect mcp:tools:read"' in response.headers["www-authenticate"]
    assert response.json()["id"] == "x"


async def test_the_connect_layer_guards_the_handshake(deployment: Deployment, http: httpx2.AsyncClient) -> None:
    token = deployment.auth_server.issue_token(scopes=["employees:read"], audience=deployment.url)
    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    response = await post_rpc(http, deployment.url, body, token)
    assert response.status_code == 403
    assert parse_scope(response) == "employees:read mcp:connect"  # initialize is of the handshake era: auto unions


def parse_scope(response: httpx2.Response) -> str:
    return parse_www_authenticate(response.headers["www-authenticate"])["scope"]


@pytest.mark.spec("mcp/include-token-scopes")
async def test_include_token_scopes_unions_the_challenge(
    auth_server: DevAuthorizationServer, http: httpx2.AsyncClient
) -> None:
    loopback, get = deploy(auth_server, scope_challenge_include_token_scopes=True)
    async with loopback:
        deployment = get()
        token = auth_server.issue_token(scopes=[*BASELINE, "mcp:tools:call", "employees:read"], audience=deployment.url)
        body = {**CALL, "params": {"name": "update_employee_mood", "arguments": {"employee_id": 1, "mood": "ok"}}}
        response = await post_rpc(http, deployment.url, body, token)
        assert response.status_code == 403
        assert parse_scope(response) == "employees:read employees:write mcp:connect mcp:tools:call mcp:tools:read"
        assert response.json()["error"]["data"]["missing"] == ["employees:write"]


@pytest.mark.spec("mcp/include-token-scopes")
@pytest.mark.parametrize(
    ("version", "scope"),
    [
        ("2025-11-25", "employees:read mcp:connect mcp:tools:call mcp:tools:read"),  # and what the token holds
        ("2026-07-28", "employees:read mcp:connect mcp:tools:call"),  # the operation's only: the client unions
    ],
)
async def test_by_default_the_challenge_follows_the_protocol_era(
    deployment: Deployment, http: httpx2.AsyncClient, version: str, scope: str
) -> None:
    """No option set (``auto``): the same baseline token, the same call, in each era, as its clients send it."""
    token = deployment.auth_server.issue_token(scopes=BASELINE, audience=deployment.url)
    body = tool_call("get_employees", id=7)
    headers: dict[str, str] = {}
    if version == "2026-07-28":
        meta = {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}
        body["params"]["_meta"] = meta
        headers = {"mcp-method": "tools/call", "mcp-name": "get_employees"}

    response = await post_rpc(http, deployment.url, body, token, protocol_version=version, headers=headers)

    assert response.status_code == 403
    assert parse_scope(response) == scope
    assert response.json()["error"]["data"]["scope"] == scope
    assert deployment.calls == []


async def test_notifications_pass_untouched(auth_server: DevAuthorizationServer, http: httpx2.AsyncClient) -> None:
    # Stateless: a stateful server would refuse a session-less notification (400) whatever the guard did.
    loopback, get = deploy(auth_server, stateless_http=True, json_response=True)
    async with loopback:
        deployment = get()
        token = auth_server.issue_token(scopes=["mcp:connect"], audience=deployment.url)
        notified = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        notification = await post_rpc(http, deployment.url, notified, token)
        listing = await post_rpc(http, deployment.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token)
    assert notification.status_code == 202  # accepted: the guard let it through to the server
    assert listing.status_code == 403  # the same token is refused for a request the layers guard


async def test_a_mounted_app_still_challenges(auth_server: DevAuthorizationServer, http: httpx2.AsyncClient) -> None:
    server = build_server()

    def factory(base: str) -> Any:
        guard = ScopeGuard(issuer=auth_server.issuer, jwks_uri=auth_server.jwks_uri, resource_url=f"{base}/api/mcp")
        guard.install(server)
        inner = server.streamable_http_app()
        return Starlette(routes=[Mount("/api", app=inner)], lifespan=lambda app: inner.router.lifespan_context(inner))

    loopback = LoopbackServer(app_factory=factory, lifespan="on")
    async with loopback:
        response = await http.post(f"{loopback.base_url}/api/mcp", content=json.dumps(CALL).encode(), headers=ACCEPT)
    assert response.status_code == 401
    metadata_url = f"{loopback.base_url}/.well-known/oauth-protected-resource/api/mcp"
    assert response.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}"'
