"""Interop with ``oidc-provider`` (npm), a certified OpenID Connect server, run on 127.0.0.1.

It issues RFC 9068 JWT access tokens for our resource (resource indicators, ``client_credentials``);
``JWTVerifier`` must accept them with the keys named by its discovery document, and the MCP SDK's
``ClientCredentialsOAuthProvider`` must obtain one. Skipped only when ``node`` or the npm package is
missing; install it with ``npm ci --prefix tests/interop/oidc``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastmcp_scopes.errors import InvalidTokenError
from fastmcp_scopes.testing.authserver import LoopbackServer
from fastmcp_scopes.tokens import WRONG_AUDIENCE, JWTVerifier

HERE = Path(__file__).parent / "oidc"
CLIENT_ID = "interop-client"
CLIENT_SECRET = "interop-secret-0123456789abcdef0123456789"
SCOPES = "files:read files:write"

NODE = shutil.which("node")
pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed for the oidc-provider interop tests)"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "oidc-provider").is_dir(),
        reason="oidc-provider is not installed: run `npm ci --prefix tests/interop/oidc`",
    ),
]


class OidcProvider:
    """The Node process and what it printed."""

    def __init__(self, process: subprocess.Popen[str], issuer: str) -> None:
        self.process = process
        self.issuer = issuer


@pytest.fixture
def resource() -> Iterator[tuple[str, dict[str, str]]]:
    """A protected resource at ``/mcp`` (started first: oidc-provider must know its URL)."""
    holder: dict[str, str] = {}

    def build(base_url: str) -> Starlette:
        async def prm(request: Request) -> Response:
            return JSONResponse({"resource": f"{base_url}/mcp", "authorization_servers": [holder["issuer"]]})

        async def protected(request: Request) -> Response:
            verifier = JWTVerifier(
                issuer=holder["issuer"], jwks_uri=holder["jwks_uri"], audience=f"{base_url}/mcp", require_typ=True
            )
            scheme, _, raw = request.headers.get("authorization", "").partition(" ")
            token = await verifier.verify_token(raw) if scheme.lower() == "bearer" else None
            if token is None:
                metadata = f"{base_url}/.well-known/oauth-protected-resource/mcp"
                challenge = f'Bearer resource_metadata="{metadata}", scope="{SCOPES}"'
                return Response(status_code=401, headers={"WWW-Authenticate": challenge})
            return JSONResponse({"scopes": token.scopes, "client_id": token.client_id, "resource": token.resource})

        return Starlette(routes=[Route("/.well-known/oauth-protected-resource/mcp", prm), Route("/mcp", protected)])

    with LoopbackServer(app_factory=build) as base_url:
        yield f"{base_url}/mcp", holder


@pytest.fixture
def oidc(resource: tuple[str, dict[str, str]]) -> Iterator[OidcProvider]:
    resource_url, holder = resource
    assert NODE is not None
    env = {**os.environ, "RESOURCE": resource_url, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    env["SCOPES"] = SCOPES
    process = subprocess.Popen(
        [NODE, str(HERE / "server.mjs")], cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"oidc-provider did not start: {process.stderr.read() if process.stderr else ''}")
        issuer = json.loads(line)["issuer"]
        discovery = httpx2.get(f"{issuer}/.well-known/openid-configuration").json()
        holder.update(issuer=issuer, jwks_uri=discovery["jwks_uri"])
        yield OidcProvider(process, issuer)
    finally:
        process.terminate()
        process.communicate(timeout=10)


async def client_credentials_token(oidc: OidcProvider, resource: str, scope: str = SCOPES) -> str:
    async with httpx2.AsyncClient() as http:
        discovery = (await http.get(f"{oidc.issuer}/.well-known/openid-configuration")).json()
        response = await http.post(
            discovery["token_endpoint"],
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_verifier_accepts_oidc_provider_jwt_access_tokens(
    oidc: OidcProvider, resource: tuple[str, dict[str, str]]
) -> None:
    resource_url, holder = resource
    raw = await client_credentials_token(oidc, resource_url, "files:read")
    verifier = JWTVerifier(issuer=oidc.issuer, jwks_uri=holder["jwks_uri"], audience=resource_url, require_typ=True)
    token = await verifier.verify(raw)
    assert token.scopes == ["files:read"]
    assert token.client_id == CLIENT_ID
    assert token.resource == resource_url
    assert token.claims is not None and token.claims["iss"] == oidc.issuer
    assert verifier.keys.fetch_count == 1


async def test_verifier_refuses_oidc_provider_token_for_another_audience(
    oidc: OidcProvider, resource: tuple[str, dict[str, str]]
) -> None:
    resource_url, holder = resource
    raw = await client_credentials_token(oidc, resource_url)
    verifier = JWTVerifier(issuer=oidc.issuer, jwks_uri=holder["jwks_uri"], audience="https://other.example/mcp")
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.description == WRONG_AUDIENCE


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


async def test_sdk_client_credentials_provider_gets_a_token_from_oidc_provider(
    oidc: OidcProvider, resource: tuple[str, dict[str, str]]
) -> None:
    resource_url, _ = resource
    provider = ClientCredentialsOAuthProvider(
        server_url=resource_url,
        storage=MemoryStorage(),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        issuer=oidc.issuer,
    )
    async with httpx2.AsyncClient(auth=provider) as http:
        response = await http.get(resource_url)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "scopes": ["files:read", "files:write"],
        "client_id": CLIENT_ID,
        "resource": resource_url,
    }
