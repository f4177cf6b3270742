"""The development authorization server: metadata, grants, refusals, and the MCP SDK's own OAuth clients.

The SDK clients are driven the way an MCP client meets a protected server: a small resource server on
127.0.0.1 answers 401 with an RFC 9728 ``resource_metadata`` challenge, the client discovers the
authorization server, obtains a token, and retries; the resource server verifies that token with
``JWTVerifier`` and echoes what it saw.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.testing import DevAuthorizationServer, HeadlessBrowser, LoopbackServer, MemoryTokenStorage
from fastmcp_scopes.tokens import JWTVerifier

SCOPES = ["files:read", "files:write", "admin"]


@pytest.fixture
def server() -> Iterator[DevAuthorizationServer]:
    with DevAuthorizationServer(SCOPES, audience="https://default.example/mcp") as srv:
        yield srv


def resource_server(issuer: str, challenge_scope: str) -> LoopbackServer:
    """A protected resource at ``/mcp``: 401 + RFC 9728 challenge without a valid token, else the claims."""

    def build(base_url: str) -> Starlette:
        resource = f"{base_url}/mcp"
        metadata_url = f"{base_url}/.well-known/oauth-protected-resource/mcp"
        verifier = JWTVerifier(issuer=issuer, jwks_uri=f"{issuer}/jwks", audience=resource)

        async def prm(request: Request) -> Response:
            return JSONResponse({"resource": resource, "authorization_servers": [issuer]})

        async def protected(request: Request) -> Response:
            scheme, _, raw = request.headers.get("authorization", "").partition(" ")
            token = await verifier.verify_token(raw) if scheme.lower() == "bearer" else None
            if token is None:
                challenge = f'Bearer resource_metadata="{metadata_url}", scope="{challenge_scope}"'
                return Response(status_code=401, headers={"WWW-Authenticate": challenge})
            return JSONResponse({"scopes": token.scopes, "resource": token.resource, "claims": token.claims})

        return Starlette(
            routes=[
                Route("/.well-known/oauth-protected-resource/mcp", prm),
                Route("/mcp", protected, methods=["GET", "POST"]),
            ]
        )

    return LoopbackServer(app_factory=build)


def decode_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    import json

    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return result


# -- metadata and keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"])
async def test_metadata(server: DevAuthorizationServer, path: str) -> None:
    async with httpx2.AsyncClient() as http:
        metadata = (await http.get(server.issuer + path)).json()
    assert metadata["issuer"] == server.issuer
    assert metadata["jwks_uri"] == server.jwks_uri
    assert metadata["token_endpoint"] == server.token_endpoint
    assert metadata["registration_endpoint"] == f"{server.issuer}/register"
    assert metadata["scopes_supported"] == SCOPES
    assert "client_credentials" in metadata["grant_types_supported"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]


async def test_jwks_serves_public_keys_only(server: DevAuthorizationServer) -> None:
    async with httpx2.AsyncClient() as http:
        jwks = (await http.get(server.jwks_uri)).json()
    [key] = jwks["keys"]
    assert key["kid"] == server.signing_key.kid
    assert key["alg"] == "RS256" and key["use"] == "sig"
    assert "d" not in key and "p" not in key
    assert server.jwks_requests == 1


# -- client_credentials over raw HTTP ---------------------------------------------------------------


async def test_client_credentials_basic_and_post(server: DevAuthorizationServer) -> None:
    client = server.register_client(scopes=["files:read", "files:write"])
    assert client.client_secret is not None
    verifier = JWTVerifier(issuer=server.issuer, jwks_uri=server.jwks_uri, audience="https://rs.example/mcp")
    async with httpx2.AsyncClient() as http:
        form = {"grant_type": "client_credentials", "scope": "files:read", "resource": "https://rs.example/mcp"}
        basic = await http.post(server.token_endpoint, data=form, auth=(client.client_id, client.client_secret))
        post = await http.post(
            server.token_endpoint,
            data={**form, "client_id": client.client_id, "client_secret": client.client_secret},
        )
    for response in (basic, post):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "Bearer" and body["scope"] == "files:read"
        assert "refresh_token" not in body
        token = await verifier.verify(body["access_token"])
        assert token.scopes == ["files:read"]
        assert token.client_id == client.client_id
        assert token.resource == "https://rs.example/mcp"


async def test_client_credentials_without_scope_gets_the_clients_scopes(server: DevAuthorizationServer) -> None:
    client = server.register_client(scopes=["files:read"])
    assert client.client_secret is not None
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.token_endpoint,
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        )
    claims = decode_claims(response.json()["access_token"])
    assert claims["scope"] == "files:read"
    assert claims["aud"] == "https://default.example/mcp"


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        pytest.param("admin", "invalid_scope", id="not-granted-to-client"),
        pytest.param("files:delete", "invalid_scope", id="not-granted-by-server"),
        pytest.param("files:read files:delete", "invalid_scope", id="one-of-two-not-granted"),
    ],
)
async def test_client_credentials_refuses_scopes(server: DevAuthorizationServer, scope: str, error: str) -> None:
    client = server.register_client(scopes=["files:read", "files:write"])
    assert client.client_secret is not None
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.token_endpoint,
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client.client_id, client.client_secret),
        )
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_client_credentials_refuses_bad_credentials(server: DevAuthorizationServer) -> None:
    client = server.register_client()
    async with httpx2.AsyncClient() as http:
        wrong = await http.post(
            server.token_endpoint, data={"grant_type": "client_credentials"}, auth=(client.client_id, "wrong")
        )
        unknown = await http.post(
            server.token_endpoint, data={"grant_type": "client_credentials"}, auth=("nobody", "x")
        )
        anonymous = await http.post(server.token_endpoint, data={"grant_type": "client_credentials"})
    for response in (wrong, unknown, anonymous):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


async def test_client_credentials_needs_the_grant(server: DevAuthorizationServer) -> None:
    client = server.register_client(grant_types=["authorization_code"], redirect_uris=["http://127.0.0.1:1/cb"])
    assert client.client_secret is not None
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.token_endpoint,
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_resources_limit_the_audience() -> None:
    with DevAuthorizationServer(["read"], resources=["https://rs.example/mcp"]) as srv:
        client = srv.register_client()
        assert client.client_secret is not None
        async with httpx2.AsyncClient() as http:
            response = await http.post(
                srv.token_endpoint,
                data={"grant_type": "client_credentials", "resource": "https://elsewhere.example"},
                auth=(client.client_id, client.client_secret),
            )
            missing = await http.post(
                srv.token_endpoint,
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, client.client_secret),
            )
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_target"


def test_register_client_refuses_scopes_the_server_does_not_grant(server: DevAuthorizationServer) -> None:
    with pytest.raises(ConfigurationError):
        server.register_client(scopes=["files:delete"])


def test_server_scopes_must_be_scope_tokens() -> None:
    with pytest.raises(ConfigurationError):
        DevAuthorizationServer(['bad"scope'])


# -- authorization code + PKCE over raw HTTP --------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def test_authorization_code_with_pkce_and_refresh(server: DevAuthorizationServer) -> None:
    redirect_uri = "http://127.0.0.1:1/callback"
    client = server.register_client(
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[redirect_uri],
        token_endpoint_auth_method="client_secret_post",
    )
    assert client.client_secret is not None
    code_verifier, code_challenge = pkce()
    async with httpx2.AsyncClient() as http:
        redirect = await http.get(
            f"{server.issuer}/authorize",
            params={
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": redirect_uri,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "scope": "files:read admin",
                "state": "xyz",
                "resource": "https://rs.example/mcp",
            },
        )
        assert redirect.status_code == 302
        query = parse_qs(urlparse(redirect.headers["location"]).query)
        assert query["state"] == ["xyz"] and query["iss"] == [server.issuer]
        exchange = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "resource": "https://rs.example/mcp",
        }
        wrong_verifier = await http.post(server.token_endpoint, data={**exchange, "code_verifier": pkce()[0]})
        tokens = await http.post(server.token_endpoint, data={**exchange, "code_verifier": code_verifier})
        replay = await http.post(server.token_endpoint, data={**exchange, "code_verifier": code_verifier})
        assert wrong_verifier.json()["error"] == "invalid_grant"
        assert tokens.status_code == 200, tokens.text
        assert replay.json()["error"] == "invalid_grant"  # codes are single use
        body = tokens.json()
        claims = decode_claims(body["access_token"])
        assert claims["scope"] == "files:read admin"
        assert claims["aud"] == "https://rs.example/mcp"
        assert claims["sub"] == "dev-user" and claims["client_id"] == client.client_id
        assert {"iat", "exp", "jti", "iss"} <= claims.keys()

        refreshed = await http.post(
            server.token_endpoint,
            data={
                "grant_type": "refresh_token",
                "refresh_token": body["refresh_token"],
                "scope": "files:read",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        refreshed_claims = decode_claims(refreshed.json()["access_token"])
        assert refreshed_claims["scope"] == "files:read"
        assert refreshed_claims["aud"] == "https://rs.example/mcp"


async def test_authorize_refuses_ungranted_scope(server: DevAuthorizationServer) -> None:
    redirect_uri = "http://127.0.0.1:1/callback"
    client = server.register_client(
        scopes=["files:read"], grant_types=["authorization_code"], redirect_uris=[redirect_uri]
    )
    async with httpx2.AsyncClient() as http:
        redirect = await http.get(
            f"{server.issuer}/authorize",
            params={
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": redirect_uri,
                "code_challenge": pkce()[1],
                "scope": "files:read admin",
                "state": "s",
            },
        )
    assert redirect.status_code == 302
    query = parse_qs(urlparse(redirect.headers["location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert "code" not in query


async def test_dynamic_registration_refuses_unknown_scopes(server: DevAuthorizationServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{server.issuer}/register",
            json={"redirect_uris": ["http://127.0.0.1:1/cb"], "scope": "files:read files:delete"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


# -- the MCP SDK's OAuth clients --------------------------------------------------------------------


async def test_sdk_client_credentials_provider(server: DevAuthorizationServer) -> None:
    client = server.register_client(scopes=["files:read", "files:write"])
    assert client.client_secret is not None
    storage = MemoryTokenStorage()
    async with resource_server(server.issuer, "files:read files:write") as base_url:
        provider = ClientCredentialsOAuthProvider(
            server_url=f"{base_url}/mcp",
            storage=storage,
            client_id=client.client_id,
            client_secret=client.client_secret,
            issuer=server.issuer,
        )
        async with httpx2.AsyncClient(auth=provider) as http:
            response = await http.get(f"{base_url}/mcp")
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["scopes"] == ["files:read", "files:write"]
    assert seen["resource"] == f"{base_url}/mcp"
    assert seen["claims"]["client_id"] == client.client_id
    assert storage.tokens is not None and decode_claims(storage.tokens.access_token)["aud"] == f"{base_url}/mcp"


async def test_sdk_client_credentials_provider_is_refused_extra_scopes(server: DevAuthorizationServer) -> None:
    client = server.register_client(scopes=["files:read"])
    assert client.client_secret is not None
    async with resource_server(server.issuer, "files:read admin") as base_url:
        provider = ClientCredentialsOAuthProvider(
            server_url=f"{base_url}/mcp",
            storage=MemoryTokenStorage(),
            client_id=client.client_id,
            client_secret=client.client_secret,
            issuer=server.issuer,
        )
        async with httpx2.AsyncClient(auth=provider) as http:
            with pytest.raises(Exception, match="invalid_scope"):
                await http.get(f"{base_url}/mcp")


async def test_sdk_authorization_code_provider_with_dynamic_registration(server: DevAuthorizationServer) -> None:
    browser = HeadlessBrowser()
    storage = MemoryTokenStorage()
    async with resource_server(server.issuer, "files:read admin") as base_url:
        provider = OAuthClientProvider(
            server_url=f"{base_url}/mcp",
            client_metadata=OAuthClientMetadata(
                redirect_uris=[AnyUrl("http://127.0.0.1:1/callback")],
                client_name="headless test client",
            ),
            storage=storage,
            redirect_handler=browser.redirect,
            callback_handler=browser.callback,
        )
        async with httpx2.AsyncClient(auth=provider) as http:
            response = await http.get(f"{base_url}/mcp")
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["scopes"] == ["files:read", "admin"]
    assert seen["resource"] == f"{base_url}/mcp"
    assert storage.client_info is not None
    assert seen["claims"]["client_id"] == storage.client_info.client_id
    [authorize_url] = browser.authorize_urls
    query = parse_qs(urlparse(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["resource"] == [f"{base_url}/mcp"]
    assert storage.tokens is not None and storage.tokens.refresh_token
