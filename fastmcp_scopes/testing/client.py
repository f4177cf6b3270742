"""In-process callers holding given scopes, through the SDK's own ``mcp.Client`` or fastmcp's ``Client``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

if TYPE_CHECKING:
    import fastmcp

__all__ = ["HeadlessBrowser", "MemoryTokenStorage", "acting_as", "scoped_client", "scoped_fastmcp_client"]


class HeadlessBrowser:
    """The ``redirect_handler`` and ``callback_handler`` of the SDK's ``OAuthClientProvider`` for an
    authorization server that consents automatically (the development one): it follows the
    authorize URL without a browser and hands the code back."""

    def __init__(self) -> None:
        self.authorize_urls: list[str] = []
        self._result: AuthorizationCodeResult | None = None

    async def redirect(self, url: str) -> None:
        self.authorize_urls.append(url)
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            response = await http.get(url)
        location = response.headers.get("location")
        if response.status_code not in (302, 303) or location is None:
            raise RuntimeError(f"the authorization server did not redirect back (HTTP {response.status_code})")
        query = parse_qs(urlsplit(location).query)
        if "error" in query:
            raise RuntimeError(f"authorization refused: {query['error'][0]}")
        self._result = AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )

    async def callback(self) -> AuthorizationCodeResult:
        if self._result is None:
            raise RuntimeError("callback before any redirect")
        result, self._result = self._result, None
        return result


class MemoryTokenStorage:
    """An in-memory ``TokenStorage`` for the SDK's OAuth client providers (tests, demos, scripts)."""

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


@contextmanager
def acting_as(
    scopes: Iterable[str],
    *,
    subject: str = "test-user",
    client_id: str = "test-client",
    issuer: str | None = "https://issuer.test",
) -> Iterator[AccessToken]:
    """Make in-process requests started inside the block run as a caller holding ``scopes``.

    Sets the SDK's authenticated-user context, exactly what its bearer middleware sets for an HTTP
    request with a verified token. Enter it *before* ``async with mcp.Client(server)``: the server
    side of an in-process client inherits the context it was started in. fastmcp's
    ``get_access_token()`` falls back to the same context, so it works for ``fastmcp.Client(server)`` too.
    """
    token = AccessToken(
        token="in-process-test-token",  # never verified: the context is trusted in-process
        client_id=client_id,
        scopes=list(scopes),
        subject=subject,
        claims={"iss": issuer} if issuer is not None else None,
    )
    reset = auth_context_var.set(AuthenticatedUser(token))
    try:
        yield token
    finally:
        auth_context_var.reset(reset)


@asynccontextmanager
async def scoped_client(
    server: Any,
    scopes: Iterable[str],
    *,
    subject: str = "test-user",
    client_id: str = "test-client",
    issuer: str | None = "https://issuer.test",
    **client_options: Any,
) -> AsyncIterator[Client]:
    """``async with scoped_client(mcp, ["employees:read"]) as client: ...`` — an ``mcp.Client``
    connected in-process as a caller holding ``scopes`` (``client_options`` go to ``Client``,
    e.g. ``mode="legacy"``). ``server`` is an ``MCPServer``, a low-level ``Server``, or a
    ``fastmcp.FastMCP`` (whose low-level server the SDK client then drives)."""
    if type(server).__module__.split(".")[0] == "fastmcp":
        server = server._mcp_server  # the SDK's low-level Server under fastmcp; mcp.Client takes it directly
    with acting_as(scopes, subject=subject, client_id=client_id, issuer=issuer):
        async with Client(server, **client_options) as client:
            yield client


@asynccontextmanager
async def scoped_fastmcp_client(
    server: Any,
    scopes: Iterable[str],
    *,
    subject: str = "test-user",
    client_id: str = "test-client",
    issuer: str | None = "https://issuer.test",
    **client_options: Any,
) -> AsyncIterator[fastmcp.Client[Any]]:
    """``async with scoped_fastmcp_client(mcp, ["employees:read"]) as client: ...`` — fastmcp's own
    ``Client`` connected in-process to ``server`` as a caller holding ``scopes`` (``client_options``
    go to ``fastmcp.Client``). Needs the ``fastmcp`` package."""
    from fastmcp import Client as FastMCPClient

    with acting_as(scopes, subject=subject, client_id=client_id, issuer=issuer):
        async with FastMCPClient(server, **client_options) as client:
            yield client
