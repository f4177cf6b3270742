"""Interop: opaque access tokens from ``oidc-provider`` (npm), checked at its RFC 7662 introspection endpoint by
:class:`~fastmcp_scopes.introspection.IntrospectionVerifier`, which authenticates as the resource server (the only
client oidc-provider lets introspect here). Skipped only when ``node`` or the npm package is missing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from fastmcp_scopes.errors import InvalidTokenError
from fastmcp_scopes.introspection import INACTIVE, UNAVAILABLE, IntrospectionVerifier
from fastmcp_scopes.tokens import WRONG_AUDIENCE

from .test_oidc_provider import CLIENT_ID, CLIENT_SECRET, SCOPES, OidcProvider, run_oidc_provider
from .test_oidc_provider import pytestmark as pytestmark  # skipped where node or oidc-provider is missing

RESOURCE = "https://mcp.example/mcp"
RS_ID = "mcp-resource-server"
RS_SECRET = "resource-server-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with run_oidc_provider(
        RESOURCE, ACCESS_TOKEN_FORMAT="opaque", INTROSPECTION_CLIENT_ID=RS_ID, INTROSPECTION_CLIENT_SECRET=RS_SECRET
    ) as provider:
        assert provider.introspection_endpoint is not None
        yield provider


async def opaque_token(oidc: OidcProvider, scope: str = SCOPES) -> str:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            oidc.token_endpoint,
            data={"grant_type": "client_credentials", "scope": scope, "resource": RESOURCE},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    assert token.count(".") != 2, "expected an opaque token, got a JWT"
    return token


def verifier(oidc: OidcProvider, *, audience: str = RESOURCE, secret: str = RS_SECRET) -> IntrospectionVerifier:
    assert oidc.introspection_endpoint is not None
    # A client_credentials token has no end user: oidc-provider's answer carries no `sub`.
    return IntrospectionVerifier(
        introspection_url=oidc.introspection_endpoint,
        client_id=RS_ID,
        client_secret=secret,
        audience=audience,
        issuer=oidc.issuer,
        require_identity_claims=False,
    )


async def refusal(checker: IntrospectionVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await checker.verify(token)
    return caught.value.description


async def test_an_oidc_provider_opaque_token_is_verified_by_introspection(oidc: OidcProvider) -> None:
    token = await opaque_token(oidc, "files:read")
    verified = await verifier(oidc).verify(token)
    assert (verified.scopes, verified.client_id, verified.resource) == (["files:read"], CLIENT_ID, RESOURCE)
    assert verified.claims is not None and verified.claims["iss"] == oidc.issuer


async def test_a_token_for_another_resource_is_refused(oidc: OidcProvider) -> None:
    token = await opaque_token(oidc)
    assert await refusal(verifier(oidc, audience="https://other.example/mcp"), token) == WRONG_AUDIENCE


async def test_a_token_oidc_provider_does_not_know_is_inactive(oidc: OidcProvider) -> None:
    assert await refusal(verifier(oidc), "x" * 43) == INACTIVE


async def test_wrong_resource_server_credentials_are_a_refusal(oidc: OidcProvider) -> None:
    token = await opaque_token(oidc)
    assert await refusal(verifier(oidc, secret="not-the-secret-0123456789abcdef"), token) == UNAVAILABLE
