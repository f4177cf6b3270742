"""A guarded ``fastmcp.FastMCP`` server over real HTTP (uvicorn on loopback, the development authorization
server): 401 and 403 answered before dispatch, and the SDK's OAuth client stepping up from a baseline token.

Two deployments: tokens verified by the guard from ``FASTMCP_SCOPES_*`` settings, and by the server's own
fastmcp ``auth`` provider (fastmcp's ``JWTVerifier``), whose verification the guard reuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier as FastMCPJWTVerifier

from fastmcp_scopes import ScopeGuard, parse_www_authenticate, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer

from .conftest import BASELINE, LAYERS, Deployment, Recorder, assert_the_exact_403, connect, granted
from .rpc import post_rpc, tool_call

PROVIDERS = ["guard-verifies", "fastmcp-provider"]


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


@pytest.fixture(params=PROVIDERS)
async def deployment(auth_server: DevAuthorizationServer, request: pytest.FixtureRequest) -> AsyncIterator[Deployment]:
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
        yield Deployment(f"{base}/mcp", base, auth_server, calls)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_client_credentials_steps_up_from_the_baseline(deployment: Deployment, mode: str) -> None:
    recorder = Recorder()
    async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, storage):
        assert granted(storage) == set(BASELINE)
        assert (await mcp.list_tools()).tools == []  # the baseline lists, but sees nothing it could call
        assert (await mcp.call_tool("get_employees", {})).is_error is False
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read"}
        assert (await mcp.call_tool("update_employee_mood", {"employee_id": 1, "mood": "happy"})).is_error is False
        listed = {t.name for t in (await mcp.list_tools()).tools}

    assert listed == {"get_employees", "update_employee_mood"}
    challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
    scopes = [parse_www_authenticate(e.www_authenticate or "")["scope"] for e in challenges]
    if mode == "legacy":  # MCP 2025-11-25: by default (auto) the challenge names what the token holds too
        assert scopes == [
            "employees:read mcp:connect mcp:tools:call mcp:tools:read",
            "employees:read employees:write mcp:connect mcp:tools:call mcp:tools:read",
        ]
    else:  # MCP 2026-07-28: the client adds the challenge's scopes to its own (SEP-2350)
        assert scopes == ["employees:read mcp:connect mcp:tools:call", "employees:write mcp:connect mcp:tools:call"]
    assert deployment.calls == ["get_employees", "update_employee_mood"]


CALL = tool_call("get_employees", id=7)


async def test_the_403_is_exact(deployment: Deployment) -> None:
    token = deployment.auth_server.issue_token(scopes=BASELINE, audience=deployment.url)

    async with httpx2.AsyncClient() as http:
        response = await post_rpc(http, deployment.url, CALL, token)

    assert_the_exact_403(response, deployment)


async def test_no_token_and_a_bad_token_get_separate_401s(deployment: Deployment) -> None:
    foreign = deployment.auth_server.issue_token(scopes=BASELINE, audience="https://elsewhere.example/mcp")

    async with httpx2.AsyncClient() as http:
        missing = await post_rpc(http, deployment.url, CALL, None)
        invalid = await post_rpc(http, deployment.url, CALL, foreign)

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


async def test_the_protected_resource_metadata_names_the_baseline(deployment: Deployment) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(deployment.metadata_url)

    assert response.status_code == 200
    assert response.json() == {
        "resource": deployment.url,
        "authorization_servers": [deployment.auth_server.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": BASELINE,
    }
