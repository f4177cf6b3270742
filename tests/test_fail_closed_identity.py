"""Tokens that do not say who is calling are refused over real HTTP: RFC 9068 §2.2 requires ``sub`` and
``client_id``, and without them every such token would be the same principal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from fastmcp_scopes import parse_www_authenticate
from fastmcp_scopes.testing import DevAuthorizationServer
from fastmcp_scopes.testing.authserver import OMIT
from tests.http.conftest import GRANTABLE, Deployment, deploy
from tests.http.rpc import post_rpc, tool_call

EVERYTHING = ["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:read"]


@pytest.fixture
async def auth() -> AsyncIterator[DevAuthorizationServer]:
    async with DevAuthorizationServer(scopes=GRANTABLE) as server:
        yield server


async def call_as(deployment: Deployment, **claims: Any) -> httpx2.Response:
    token = deployment.auth_server.issue_token(EVERYTHING, audience=deployment.url, **claims)
    async with httpx2.AsyncClient(timeout=30) as http:
        return await post_rpc(http, deployment.url, tool_call("get_employees", id=3), token)


@pytest.mark.spec("rfc6750/invalid-token")
@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"subject": OMIT, "client_id": OMIT}, id="neither"),
        pytest.param({"subject": OMIT}, id="no-sub"),
        pytest.param({"client_id": OMIT}, id="no-client-id"),
    ],
)
async def test_a_token_without_sub_or_client_id_gets_invalid_token(
    auth: DevAuthorizationServer, claims: dict[str, Any]
) -> None:
    loopback, get = deploy(auth)
    async with loopback:
        deployment = get()
        response = await call_as(deployment, **claims)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", '
        'error_description="The access token does not identify its subject and client (sub, client_id)", '
        f'resource_metadata="{deployment.metadata_url}"'
    )
    assert parse_www_authenticate(response.headers["www-authenticate"])["error"] == "invalid_token"
    assert deployment.calls == []


async def test_the_same_token_with_both_claims_runs_the_tool(auth: DevAuthorizationServer) -> None:
    loopback, get = deploy(auth, json_response=True, stateless_http=True)
    async with loopback:
        deployment = get()
        response = await call_as(deployment, subject="alice", client_id="hr-app")

    assert response.status_code == 200
    assert json.loads(response.content)["result"]["isError"] is False
    assert deployment.calls == ["get_employees"]


async def test_require_identity_claims_false_accepts_them(auth: DevAuthorizationServer) -> None:
    loopback, get = deploy(auth, json_response=True, stateless_http=True, require_identity_claims=False)
    async with loopback:
        deployment = get()
        response = await call_as(deployment, subject=OMIT, client_id=OMIT)

    assert response.status_code == 200
    assert json.loads(response.content)["result"]["isError"] is False
    assert deployment.calls == ["get_employees"]
