"""A guarded ``fastmcp.FastMCP`` server over real HTTP (uvicorn on loopback, the development authorization
server): 401 and 403 answered before dispatch, and the SDK's OAuth client stepping up from a baseline token.

Two deployments: tokens verified by the guard from ``FASTMCP_SCOPES_*`` settings, and by the server's own
fastmcp ``auth`` provider (fastmcp's ``JWTVerifier``), whose verification the guard reuses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier as FastMCPJWTVerifier
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client

from fastmcp_scopes import ScopeGuard, parse_www_authenticate, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, MemoryTokenStorage

from .conftest import BASELINE, LAYERS, Recorder

PROVIDERS = ["guard-verifies", "fastmcp-provider"]


@dataclass
class FastMCPDeployment:
    url: str
    base: str
    auth_server: DevAuthorizationServer
    calls: list[str]

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/.well-known/oauth-protected-resource/mcp"


def build_server(calls: list[str], auth: Any = None) -> FastMCP:
    mcp = FastMCP("employees", auth=auth)

    @mcp.tool()
    @requires_scopes("employees:read")
    def get_employees() -> list[dict[str, Any]]:
        calls.append("get_employees")
        return [{"id": 1, "name": "Ada"}]

    @mcp.tool()
    @requires_scopes("employees:write")
    def update_employee_mood(employee_id: int, mood: str) -> dict[str, Any]:
        calls.append("update_employee_mood")
        return {"id": employee_id, "mood": mood}

    return mcp


@pytest.fixture
async def auth_server() -> AsyncIterator[DevAuthorizationServer]:
    scopes = ["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:read", "employees:write"]
    async with DevAuthorizationServer(scopes=scopes) as server:
        yield server


@pytest.fixture(params=PROVIDERS)
async def deployment(
    auth_server: DevAuthorizationServer, request: pytest.FixtureRequest
) -> AsyncIterator[FastMCPDeployment]:
    calls: list[str] = []

    def factory(base: str) -> Any:
        if request.param == "fastmcp-provider":
            provider = FastMCPJWTVerifier(
                jwks_uri=auth_server.jwks_uri, issuer=auth_server.issuer, audience=f"{base}/mcp", base_url=base
            )
            server = build_server(calls, auth=provider)
            guard = ScopeGuard(authorization_servers=[auth_server.issuer], scopes_supported=BASELINE, **LAYERS)
        else:
            server = build_server(calls)
            guard = ScopeGuard(
                issuer=auth_server.issuer,
                jwks_uri=auth_server.jwks_uri,
                resource_url=f"{base}/mcp",
                scopes_supported=BASELINE,
                **LAYERS,
            )
        guard.install(server)
        return server.http_app(path="/mcp")

    async with LoopbackServer(app_factory=factory, lifespan="on") as base:
        yield FastMCPDeployment(f"{base}/mcp", base, auth_server, calls)


def granted(storage: MemoryTokenStorage) -> set[str]:
    assert storage.tokens is not None
    return set((storage.tokens.scope or "").split())


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_client_credentials_steps_up_from_the_baseline(deployment: FastMCPDeployment, mode: str) -> None:
    client = deployment.auth_server.register_client()
    storage = MemoryTokenStorage()
    recorder = Recorder()
    provider = ClientCredentialsOAuthProvider(
        server_url=deployment.url,
        storage=storage,
        client_id=client.client_id,
        client_secret=client.client_secret or "",
        scope=" ".join(BASELINE),
        issuer=deployment.auth_server.issuer,
    )
    async with (
        httpx2.AsyncClient(auth=provider, event_hooks={"response": [recorder]}, timeout=30) as http,
        Client(streamable_http_client(deployment.url, http_client=http), mode=mode) as mcp,
    ):
        assert granted(storage) == set(BASELINE)
        assert (await mcp.list_tools()).tools == []  # the baseline lists, but sees nothing it could call
        assert (await mcp.call_tool("get_employees", {})).is_error is False
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read"}
        assert (await mcp.call_tool("update_employee_mood", {"employee_id": 1, "mood": "happy"})).is_error is False
        listed = {t.name for t in (await mcp.list_tools()).tools}

    assert listed == {"get_employees", "update_employee_mood"}
    challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
    assert [parse_www_authenticate(e.www_authenticate or "")["scope"] for e in challenges] == [
        "employees:read mcp:connect mcp:tools:call",
        "employees:write mcp:connect mcp:tools:call",
    ]
    assert deployment.calls == ["get_employees", "update_employee_mood"]


async def post(deployment: FastMCPDeployment, body: dict[str, Any], token: str | None) -> httpx2.Response:
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient() as http:
        return await http.post(deployment.url, json=body, headers=headers)


CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "get_employees", "arguments": {}}}


async def test_the_403_is_exact(deployment: FastMCPDeployment) -> None:
    token = deployment.auth_server.issue_token(scopes=BASELINE, audience=deployment.url)

    response = await post(deployment, CALL, token)

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Missing scopes: employees:read mcp:tools:call", '
        f'scope="employees:read mcp:connect mcp:tools:call", resource_metadata="{deployment.metadata_url}"'
    )
    assert json.loads(response.content) == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32003,
            "message": "insufficient_scope: Missing scopes: employees:read mcp:tools:call",
            "data": {
                "error": "insufficient_scope",
                "required": ["employees:read", "mcp:connect", "mcp:tools:call"],
                "missing": ["employees:read", "mcp:tools:call"],
                "alternatives": [["employees:read", "mcp:connect", "mcp:tools:call"]],
                "scope": "employees:read mcp:connect mcp:tools:call",
            },
        },
    }
    assert deployment.calls == []


async def test_no_token_and_a_bad_token_get_separate_401s(deployment: FastMCPDeployment) -> None:
    foreign = deployment.auth_server.issue_token(scopes=BASELINE, audience="https://elsewhere.example/mcp")

    missing = await post(deployment, CALL, None)
    invalid = await post(deployment, CALL, foreign)

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == (
        f'Bearer scope="mcp:connect mcp:tools:read", resource_metadata="{deployment.metadata_url}"'
    )
    # Our answers, with a body, not fastmcp's (empty, or merged): RFC 6750 §3.1 keeps the two cases apart.
    assert missing.json() == {"error": "unauthorized", "error_description": "An access token is required"}
    assert invalid.status_code == 401
    assert parse_www_authenticate(invalid.headers["www-authenticate"]) == {
        "error": "invalid_token",
        "error_description": invalid.json()["error_description"],
        "resource_metadata": deployment.metadata_url,
    }
    assert invalid.json()["error"] == "invalid_token"
    assert deployment.calls == []


async def test_the_protected_resource_metadata_names_the_baseline(deployment: FastMCPDeployment) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(deployment.metadata_url)

    assert response.status_code == 200
    assert response.json() == {
        "resource": deployment.url,
        "authorization_servers": [deployment.auth_server.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": BASELINE,
    }
