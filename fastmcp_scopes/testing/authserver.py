"""A development OAuth 2.1 authorization server for tests and demos, served on 127.0.0.1.

Built on the MCP SDK's authorization-server routes (``mcp.server.auth.routes.create_auth_routes``)
with an in-memory ``OAuthAuthorizationServerProvider`` (:mod:`~fastmcp_scopes.testing.provider`); what the SDK
does not offer is added thinly:

- RFC 8414 metadata at ``/.well-known/oauth-authorization-server`` (and, harmlessly,
  ``/.well-known/openid-configuration``) that also names ``jwks_uri`` and ``client_credentials``;
- ``/jwks``, the public keys (RFC 7517), counting requests so tests can see the verifier's fetches;
- the ``client_credentials`` grant (RFC 6749 §4.4) in front of the SDK token handler
  (:mod:`~fastmcp_scopes.testing.token_endpoint`).

Access tokens are RFC 9068 JWTs (``typ: at+jwt``, RS256 by default) with ``iss``, ``sub``,
``client_id``, ``aud`` (the RFC 8707 ``resource`` requested), ``scope``, ``exp``, ``iat`` and
``jti``. The authorize endpoint consents automatically and redirects straight back with a code
(PKCE S256 required). Scopes outside those the server (or the client) was configured with are
refused with ``invalid_scope``. Nothing here is fit for production: keys and state live in memory.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import anyio
from mcp.server.auth.provider import RefreshToken, TokenError
from mcp.server.auth.routes import build_metadata, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, AnyUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.testing.keys import Algorithm, SigningKey
from fastmcp_scopes.testing.loopback import LoopbackServer
from fastmcp_scopes.testing.provider import MemoryProvider
from fastmcp_scopes.testing.token_endpoint import TokenEndpoint, client_credentials_grant

__all__ = [
    "OMIT",
    "DevAuthorizationServer",
    "DevClient",
]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()
"""Pass as a claim override to :meth:`DevAuthorizationServer.issue_token` to leave the claim out."""


@dataclass(frozen=True)
class DevClient:
    """A client of the development server. ``scopes=None`` means every scope the server grants."""

    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...] | None = None
    grant_types: tuple[str, ...] = ("client_credentials",)
    redirect_uris: tuple[str, ...] = ()
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = "client_secret_basic"


class DevAuthorizationServer:
    """An in-memory OAuth 2.1 authorization server on 127.0.0.1 issuing RFC 9068 JWT access tokens.

    ``scopes`` are all the scopes it will grant (advertised as ``scopes_supported``); anything else
    is refused with ``invalid_scope``. ``clients`` are registered up front (see :meth:`register_client`
    for more); dynamic registration (RFC 7591) is open, as MCP clients expect. ``resources``, when
    given, limits the RFC 8707 resources (token audiences) it issues for (``invalid_target``
    otherwise); ``audience`` is the ``aud`` used when a request names no resource.

    Start it with ``with``/``async with`` (or :meth:`start`/:meth:`stop`); :attr:`issuer` and
    :attr:`jwks_uri` are known from then on. Tests can mint tokens directly with :meth:`issue_token`,
    rotate keys with :meth:`rotate_key`, count JWKS fetches in :attr:`jwks_requests` and make the
    JWKS endpoint fail by setting :attr:`jwks_status`.
    """

    def __init__(
        self,
        scopes: Iterable[str] = (),
        *,
        clients: Iterable[DevClient] = (),
        default_scopes: Iterable[str] = (),
        audience: str | None = None,
        resources: Iterable[str] | None = None,
        subject: str = "dev-user",
        algorithm: Algorithm = "RS256",
        token_lifetime: int = 3600,
        issue_refresh_tokens: bool = True,
    ) -> None:
        self.scopes: tuple[str, ...] = tuple(
            dict.fromkeys(validate_scope_token(s, where="DevAuthorizationServer scopes") for s in scopes)
        )
        self.default_scopes = tuple(default_scopes)
        if self.ungrantable(self.default_scopes):
            raise ConfigurationError("default_scopes must be among scopes")
        self.audience = audience
        self.resources = None if resources is None else frozenset(resources)
        self.subject = subject
        self.token_lifetime = token_lifetime
        self.issue_refresh_tokens = issue_refresh_tokens
        self.signing_key = SigningKey.generate(algorithm)
        self.published_keys: list[SigningKey] = [self.signing_key]
        """Keys served at :attr:`jwks_uri`; :meth:`rotate_key` appends (or replaces)."""
        self.jwks_requests = 0
        """How many times ``/jwks`` was requested."""
        self.jwks_status = 200
        """Status ``/jwks`` answers with; anything but 200 serves an error body instead of keys."""
        self._provider = MemoryProvider(self)
        self._loopback = LoopbackServer(app_factory=self._app)
        self.issuer = ""
        """``http://127.0.0.1:<port>`` once started (no trailing slash, as in the ``iss`` claim)."""
        self._pending_clients = list(clients)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def jwks_uri(self) -> str:
        """Where the public keys are served."""
        return f"{self.issuer}/jwks"

    @property
    def metadata_url(self) -> str:
        """The RFC 8414 metadata document."""
        return f"{self.issuer}/.well-known/oauth-authorization-server"

    @property
    def token_endpoint(self) -> str:
        """The token endpoint."""
        return f"{self.issuer}/token"

    def start(self) -> DevAuthorizationServer:
        """Serve on 127.0.0.1 and a free port; returns ``self``."""
        self.issuer = self._loopback.start()
        for client in self._pending_clients:
            self._add_client(client)
        self._pending_clients = []
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._loopback.stop()

    def __enter__(self) -> DevAuthorizationServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> DevAuthorizationServer:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.stop)

    # -- clients, keys and tokens ----------------------------------------------------------------

    def register_client(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: Iterable[str] | None = None,
        grant_types: Iterable[str] = ("client_credentials",),
        redirect_uris: Iterable[str] = (),
        token_endpoint_auth_method: Literal[
            "client_secret_basic", "client_secret_post", "none"
        ] = "client_secret_basic",
    ) -> DevClient:
        """Register a client; ids and secrets are generated unless given. Returns its credentials.

        ``scopes=None`` lets it ask for every scope the server grants.
        """
        client = DevClient(
            client_id=client_id or f"client-{secrets.token_hex(8)}",
            client_secret=None if token_endpoint_auth_method == "none" else client_secret or secrets.token_urlsafe(32),
            scopes=None if scopes is None else tuple(scopes),
            grant_types=tuple(grant_types),
            redirect_uris=tuple(redirect_uris),
            token_endpoint_auth_method=token_endpoint_auth_method,
        )
        if self._loopback.base_url:
            self._add_client(client)
        else:
            self._pending_clients.append(client)
        return client

    def _add_client(self, client: DevClient) -> None:
        if client.scopes is not None and self.ungrantable(client.scopes):
            raise ConfigurationError(f"client {client.client_id!r} names scopes the server does not grant")
        self._provider.clients[client.client_id] = OAuthClientInformationFull(
            client_id=client.client_id,
            client_secret=client.client_secret,
            client_secret_expires_at=0 if client.client_secret else None,
            grant_types=list(client.grant_types),
            redirect_uris=[AnyUrl(u) for u in client.redirect_uris] or None,
            token_endpoint_auth_method=client.token_endpoint_auth_method,
            scope=" ".join(self.scopes if client.scopes is None else client.scopes),
        )

    def rotate_key(self, algorithm: Algorithm | None = None, *, keep_old: bool = True) -> SigningKey:
        """Sign with a new key (new ``kid``) from now on; the old one stays published if ``keep_old``."""
        self.signing_key = SigningKey.generate(algorithm or self.signing_key.algorithm)
        self.published_keys = [*self.published_keys, self.signing_key] if keep_old else [self.signing_key]
        return self.signing_key

    def jwks(self) -> dict[str, Any]:
        """The JWKS document served at :attr:`jwks_uri`."""
        return {"keys": [key.public_jwk() for key in self.published_keys]}

    def issue_token(
        self,
        scopes: Iterable[str] = (),
        *,
        audience: str | list[str] | None = None,
        subject: str | _Omit = "dev-user",
        client_id: str | _Omit = "dev-client",
        lifetime: int | None = None,
        key: SigningKey | None = None,
        headers: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """Mint an access token directly, as the token endpoint would, without HTTP.

        ``scopes`` are not checked against the server's: tests may want tokens it would never
        grant. ``key`` signs instead of the current key (forged-token tests); ``headers`` are added
        to the JWS header; ``overrides`` replace claims. ``subject``, ``client_id`` or any override
        given as :data:`OMIT` leaves that claim out.
        """
        aud = audience if audience is not None else self.audience
        if aud is None:
            raise ValueError("no audience: pass audience= or construct the server with audience=")
        claims = self.claims(scopes=list(scopes), audience=aud, subject=subject, client_id=client_id, lifetime=lifetime)
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not OMIT}
        return (key or self.signing_key).sign(claims, headers)

    def claims(
        self,
        *,
        scopes: list[str],
        audience: str | list[str],
        subject: str | _Omit,
        client_id: str | _Omit,
        lifetime: int | None = None,
    ) -> dict[str, Any]:
        """The RFC 9068 claim set this server puts in an access token."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": subject,
            "client_id": client_id,
            "aud": audience,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + (self.token_lifetime if lifetime is None else lifetime),
            "jti": uuid.uuid4().hex,
        }

    # -- policy used by the endpoints ------------------------------------------------------------

    def ungrantable(self, scopes: Iterable[str], client: OAuthClientInformationFull | None = None) -> list[str]:
        """The scopes in ``scopes`` that this server (or ``client``'s registration) does not grant."""
        allowed = set(self.scopes)
        if client is not None:
            allowed &= set((client.scope or "").split())
        return [s for s in scopes if s not in allowed]

    def resource_allowed(self, resource: str | None) -> bool:
        """Whether tokens may be issued for this RFC 8707 resource."""
        if resource is None:
            return True
        return self.resources is None or resource in self.resources

    def grant(
        self, *, client_id: str, scopes: list[str], resource: str | None, subject: str, refresh: bool
    ) -> OAuthToken:
        """Issue an access token (and a refresh token) after a successful grant."""
        audience = resource or self.audience
        if audience is None:
            raise TokenError("invalid_target", "A resource parameter is required")
        if not self.resource_allowed(audience):
            raise TokenError("invalid_target", "The requested resource is not served by this server")
        access_token = self.issue_token(scopes, audience=audience, subject=subject, client_id=client_id)
        refresh_token = None
        if refresh and self.issue_refresh_tokens:
            refresh_token = secrets.token_urlsafe(32)
            self._provider.refresh_tokens[refresh_token] = RefreshToken(
                token=refresh_token, client_id=client_id, scopes=scopes, resource=resource, subject=subject
            )
        return OAuthToken(
            access_token=access_token,
            expires_in=self.token_lifetime,
            scope=" ".join(scopes),
            refresh_token=refresh_token,
        )

    # -- HTTP ------------------------------------------------------------------------------------

    def _app(self, base_url: str) -> Starlette:
        issuer = AnyHttpUrl(base_url)
        registration = ClientRegistrationOptions(
            enabled=True, valid_scopes=list(self.scopes), default_scopes=list(self.default_scopes) or None
        )
        revocation = RevocationOptions(enabled=True)
        sdk_routes = create_auth_routes(self._provider, issuer, None, registration, revocation)
        metadata = build_metadata(issuer, None, registration, revocation).model_dump(mode="json", exclude_none=True)
        metadata.update(
            issuer=base_url,
            jwks_uri=f"{base_url}/jwks",
            grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
            authorization_response_iss_parameter_supported=True,
        )
        token_route = next(r for r in sdk_routes if isinstance(r, Route) and r.path == "/token")
        sdk_token_app = token_route.app

        async def metadata_endpoint(request: Request) -> Response:
            return JSONResponse(metadata)

        async def jwks_endpoint(request: Request) -> Response:
            self.jwks_requests += 1
            if self.jwks_status != 200:
                return JSONResponse({"error": "unavailable"}, status_code=self.jwks_status)
            return JSONResponse(self.jwks())

        routes: list[BaseRoute] = [
            Route("/.well-known/oauth-authorization-server", metadata_endpoint, methods=["GET"]),
            Route("/.well-known/openid-configuration", metadata_endpoint, methods=["GET"]),
            Route("/jwks", jwks_endpoint, methods=["GET"]),
            Route("/token", TokenEndpoint(self, sdk_token_app), methods=["POST", "OPTIONS"]),
            *(r for r in sdk_routes if not (isinstance(r, Route) and r.path in ("/token", _METADATA_PATH))),
        ]
        return Starlette(routes=routes)

    async def client_credentials(self, request: Request) -> Response:
        """RFC 6749 §4.4: the ``client_credentials`` grant, for confidential clients only."""
        return await client_credentials_grant(self, self._provider.clients, request)


_METADATA_PATH: Final = "/.well-known/oauth-authorization-server"
