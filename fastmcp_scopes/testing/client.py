"""In-process callers holding given scopes, through the SDK's own client or fastmcp's ``Client``.

On mcp 2.x the SDK's client is ``mcp.Client``; mcp 1.x has none, so :func:`scoped_client` connects the SDK's
``ClientSession`` over in-memory streams instead (the same ``call_tool``, ``list_tools``, ``read_resource`` ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from fastmcp_scopes._compat import SDK_MAJOR, AccessToken, AuthenticatedUser, auth_context_var

if TYPE_CHECKING:
    import fastmcp
    from mcp import Client
    from mcp.client.auth import AuthorizationCodeResult
elif SDK_MAJOR >= 2:
    from mcp import Client
    from mcp.client.auth import AuthorizationCodeResult

__all__ = ["HeadlessBrowser", "MemoryTokenStorage", "acting_as", "scoped_client", "scoped_fastmcp_client"]


class HeadlessBrowser:
    """The ``redirect_handler`` and ``callback_handler`` of the SDK's ``OAuthClientProvider`` for an
    authorization server that consents automatically (the development one): it follows the
    authorize URL without a browser and hands the code back."""

    def __init__(self) -> None:
        self.authorize_urls: list[str] = []
        self._result: tuple[str, str | None, str | None] | None = None  # code, state, iss

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
        self._result = (query["code"][0], query.get("state", [None])[0], query.get("iss", [None])[0])

    async def callback(self) -> AuthorizationCodeResult:
        """The code the redirect carried: an ``AuthorizationCodeResult`` on mcp 2.x, the ``(code, state)``
        pair mcp 1.x's ``OAuthClientProvider`` expects on 1.x (which does not check ``iss``)."""
        if self._result is None:
            raise RuntimeError("callback before any redirect")
        (code, state, iss), self._result = self._result, None
        if SDK_MAJOR < 2:
            return (code, state)  # type: ignore[return-value]
        return AuthorizationCodeResult(code=code, state=state, iss=iss)


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
    claims: Mapping[str, Any] | None = None,
) -> Iterator[AccessToken]:
    """Make in-process requests started inside the block run as a caller holding ``scopes`` (and ``claims``,
    the token's other verified claims, which ``FASTMCP_SCOPES_CLAIM_SCOPES`` maps to scopes).

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
        claims={**(claims or {}), **({"iss": issuer} if issuer is not None else {})} or None,
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
    claims: Mapping[str, Any] | None = None,
    **client_options: Any,
) -> AsyncIterator[Client]:
    """``async with scoped_client(mcp, ["employees:read"]) as client: ...`` — the SDK's client connected
    in-process as a caller holding ``scopes``. ``server`` is an ``MCPServer``, an mcp 1.x ``FastMCP``, a
    low-level ``Server``, or a ``fastmcp.FastMCP`` (whose low-level server the SDK client then drives).

    On mcp 2.x the client is an ``mcp.Client`` (``client_options`` go to it, e.g. ``mode="legacy"``). On
    mcp 1.x it is a ``ClientSession`` over in-memory streams (``client_options`` go to
    ``mcp.shared.memory.create_connected_server_and_client_session``); 1.x speaks only the handshake era, so
    ``mode`` may only be ``"legacy"`` or ``"auto"`` there (both mean the initialize handshake).

    Raises:
        ValueError: ``mode`` asks mcp 1.x for a per-request protocol version it does not have.
    """
    if type(server).__module__.split(".")[0] == "fastmcp" or (SDK_MAJOR < 2 and hasattr(server, "_mcp_server")):
        server = server._mcp_server  # the SDK's low-level Server under fastmcp / 1.x FastMCP
    if SDK_MAJOR < 2:
        mode = client_options.pop("mode", "legacy")
        if mode not in ("legacy", "auto"):
            raise ValueError(
                f"scoped_client(mode={mode!r}): mcp 1.x has only the initialize handshake; "
                "use mode='legacy' (or leave mode out)"
            )
        from mcp.shared.memory import (  # type: ignore[attr-defined]  # 1.x only; type checks see 2.x
            create_connected_server_and_client_session,
        )

        with acting_as(scopes, subject=subject, client_id=client_id, issuer=issuer, claims=claims):
            async with create_connected_server_and_client_session(server, **client_options) as session:
                yield session
        return
    with acting_as(scopes, subject=subject, client_id=client_id, issuer=issuer, claims=claims):
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
    claims: Mapping[str, Any] | None = None,
    **client_options: Any,
) -> AsyncIterator[fastmcp.Client[Any]]:
    """``async with scoped_fastmcp_client(mcp, ["employees:read"]) as client: ...`` — fastmcp's own
    ``Client`` connected in-process to ``server`` as a caller holding ``scopes`` (``client_options``
    go to ``fastmcp.Client``). Needs the ``fastmcp`` package."""
    from fastmcp import Client as FastMCPClient

    with acting_as(scopes, subject=subject, client_id=client_id, issuer=issuer, claims=claims):
        async with FastMCPClient(server, **client_options) as client:
            yield client
