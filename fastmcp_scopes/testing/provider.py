"""The in-memory ``OAuthAuthorizationServerProvider`` behind the development server's SDK routes.

It keeps registered clients, authorization codes and refresh tokens in dictionaries and asks its
:class:`~fastmcp_scopes.testing.DevAuthorizationServer` for everything else: which scopes and resources may be
granted, who the subject is, and the tokens themselves (:meth:`~fastmcp_scopes.testing.DevAuthorizationServer.grant`).
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

import jwt
from mcp.server.auth.provider import (
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from fastmcp_scopes._compat import AccessToken  # carries subject and claims on every mcp 1.x too

if TYPE_CHECKING:
    from fastmcp_scopes.testing.authserver import DevAuthorizationServer

__all__ = [
    "MemoryProvider",
]


class MemoryProvider:
    """In-memory ``OAuthAuthorizationServerProvider`` behind the SDK's routes."""

    def __init__(self, server: DevAuthorizationServer) -> None:
        self.server = server
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        # RFC 7591 §3.2.1 lets the server replace requested metadata. A dynamically registered
        # client may ask for any scope this server grants, so a later step-up (which requests more
        # scopes than the first registration named) is not refused at /authorize.
        client_info.scope = " ".join(self.server.scopes)
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        scopes = params.scopes if params.scopes is not None else list(self.server.default_scopes)
        bad = self.server.ungrantable(scopes, client)
        if bad:
            raise AuthorizeError("invalid_scope", "The requested scope is not granted by this server")
        if not self.server.resource_allowed(params.resource):
            raise AuthorizeError("invalid_target", "The requested resource is not served by this server")
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=scopes,
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject=self.server.subject,
        )
        # Automatic consent: straight back to the client, with the RFC 9207 issuer.
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state, iss=self.server.issuer)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)  # single use (RFC 6749 §4.1.2)
        return self.server.grant(
            client_id=client.client_id,
            scopes=authorization_code.scopes,
            resource=authorization_code.resource,
            subject=authorization_code.subject or self.server.subject,
            refresh=True,
        )

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh_tokens.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.refresh_tokens.pop(refresh_token.token, None)  # rotate
        return self.server.grant(
            client_id=client.client_id,
            scopes=scopes,
            resource=refresh_token.resource,
            subject=refresh_token.subject or self.server.subject,
            refresh=True,
        )

    async def load_access_token(self, token: str) -> AccessToken | None:
        try:
            claims = jwt.decode(
                token,
                self.server.signing_key.private_key.public_key(),
                algorithms=[self.server.signing_key.algorithm],
                issuer=self.server.issuer,
                options={"verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        return AccessToken(
            token=token,
            client_id=claims.get("client_id", ""),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=claims.get("exp"),
            subject=claims.get("sub"),
            claims=claims,
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        if isinstance(token, RefreshToken):
            self.refresh_tokens.pop(token.token, None)

    async def exchange_identity_assertion(self, client: OAuthClientInformationFull, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "The JWT bearer grant is not supported by this server")
