"""The development server's token endpoint: the MCP SDK's token handler, with the ``client_credentials`` grant
(RFC 6749 §4.4), which the SDK lacks, answered in front of it for confidential clients (RFC 6749 §2.3.1
authentication, HTTP Basic or in the body). Every other grant goes on to the SDK handler unchanged.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, unquote_plus

from mcp.server.auth.provider import TokenError
from mcp.shared.auth import OAuthClientInformationFull
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fastmcp_scopes.http import _replay

if TYPE_CHECKING:
    from fastmcp_scopes.testing.authserver import DevAuthorizationServer

__all__ = [
    "TokenEndpoint",
    "client_credentials_grant",
]

_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenEndpoint:
    """The SDK token handler, with the ``client_credentials`` grant (which it lacks) answered in front of it."""

    def __init__(self, server: DevAuthorizationServer, sdk_app: ASGIApp) -> None:
        self.server = server
        self.sdk_app = sdk_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await self.sdk_app(scope, receive, send)
            return
        body = await Request(scope, receive).body()
        # The body was read to look at grant_type; hand it over again to whoever reads it next.
        replay = _replay(body, receive)
        if parse_qs(body.decode("latin-1")).get("grant_type") == ["client_credentials"]:
            response = await self.server.client_credentials(Request(scope, replay))
            await response(scope, receive, send)
        else:
            await self.sdk_app(scope, replay, send)


async def client_credentials_grant(
    server: DevAuthorizationServer, clients: Mapping[str, OAuthClientInformationFull], request: Request
) -> Response:
    """RFC 6749 §4.4: the ``client_credentials`` grant, for confidential clients only; ``clients`` by id."""
    form = await request.form()
    client = await _authenticate(request, form, clients)
    if client is None:
        return _token_error("invalid_client", "Client authentication failed", 401)
    if "client_credentials" not in client.grant_types:
        return _token_error("unauthorized_client", "This client may not use the client_credentials grant")
    raw_scope = form.get("scope")
    scopes = str(raw_scope).split(" ") if isinstance(raw_scope, str) and raw_scope else (client.scope or "").split()
    if server.ungrantable(scopes, client):
        return _token_error("invalid_scope", "The requested scope is not granted to this client")
    raw_resource = form.get("resource")
    resource = raw_resource if isinstance(raw_resource, str) and raw_resource else None
    try:
        token = server.grant(
            client_id=client.client_id, scopes=scopes, resource=resource, subject=client.client_id, refresh=False
        )
    except TokenError as err:
        return _token_error(err.error, err.error_description or err.error)
    return JSONResponse(token.model_dump(mode="json", exclude_none=True), headers=_NO_STORE)


async def _authenticate(
    request: Request, form: FormData, clients: Mapping[str, OAuthClientInformationFull]
) -> OAuthClientInformationFull | None:
    # RFC 6749 §2.3.1, both methods. The SDK's ClientAuthenticator wants client_id in the body
    # even with HTTP Basic, which the SDK's own client_credentials provider does not send.
    client_id, secret = form.get("client_id"), form.get("client_secret")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if client_id is not None and client_id != unquote_plus(user):
            return None
        client_id, secret = unquote_plus(user), unquote_plus(password)
    if not isinstance(client_id, str) or not isinstance(secret, str):
        return None
    client = clients.get(client_id)
    if client is None or not client.client_secret:
        return None
    return client if hmac.compare_digest(client.client_secret.encode(), secret.encode()) else None


def _token_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=_NO_STORE)
