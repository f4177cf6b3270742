"""ASGI layer: 401 and 403 challenges before dispatch, and RFC 9728 protected resource metadata.

:class:`ScopeChallengeMiddleware` wraps a server's own streamable HTTP app (its authentication, resource
validation and ``required_scopes`` stay in place behind it). For each request to the MCP endpoint it

1. authenticates the bearer token (RFC 6750 §2.1) and answers the three cases apart (§3.1): no
   credentials → 401 with a bare challenge naming the baseline scopes; a bad token → 401
   ``invalid_token``; a malformed ``Authorization`` header → 400 ``invalid_request``;
2. reads the operation (for a POST, from the size-capped body: duplicate keys, batches and
   ``Mcp-Method``/``Mcp-Name`` headers that disagree with the body are refused) and has the server's
   :class:`~fastmcp_scopes.pipeline.Pipeline` decide it, so a token that cannot satisfy it gets ``403`` +
   ``WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`` *before* the server commits a
   status or opens a stream. Every request needs the connect layer: GET (the SSE stream), DELETE
   (ending a session) and notifications too;
3. passes allowed requests on with the decision handed to the server's own hook, and the verified
   identity where the SDK looks for it (``scope["user"]`` and its auth context).

It serves ``/.well-known/oauth-protected-resource{path}`` itself, so ``resource`` is exactly the
configured URL and ``scopes_supported`` exactly the baseline.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmcp_scopes._compat import AccessToken, AuthenticatedUser, TokenVerifier, auth_context_var
from fastmcp_scopes._json import loads_unique_names
from fastmcp_scopes.anonymous import ANONYMOUS
from fastmcp_scopes.answer import Answer
from fastmcp_scopes.challenge import BearerChallenge
from fastmcp_scopes.claims import ClaimScopes
from fastmcp_scopes.errors import ConfigurationError, InvalidTokenError
from fastmcp_scopes.introspection import IntrospectionVerifier
from fastmcp_scopes.operation import PARSE_ERROR, InvalidOperationError, Operation, http_version, stated_version
from fastmcp_scopes.pipeline import HANDED_STATE, Pipeline
from fastmcp_scopes.policy import Caller
from fastmcp_scopes.settings import missing_http_settings, missing_http_settings_error
from fastmcp_scopes.tokens import JWTVerifier

__all__ = [
    "ANONYMOUS_STATE",
    "ProtectedResource",
    "ScopeChallengeMiddleware",
    "VerifiedByServer",
    "admit_anonymous",
    "caller_from_token",
    "protect",
]

logger = logging.getLogger("fastmcp_scopes")

ANONYMOUS_STATE = "fastmcp_scopes.anonymous"
"""The key, in an HTTP request's ASGI ``state``, that marks a request without a token the guard let through (something
public: :mod:`fastmcp_scopes.anonymous`); only the guard sets it, and only :func:`admit_anonymous` reads it."""

_TRANSPORT = "streamable-http"


def caller_from_token(token: AccessToken, claim_scopes: ClaimScopes | None = None) -> Caller:
    """The audit identity and granted scopes of an SDK ``AccessToken``: its scopes, and those
    ``claim_scopes`` (the guard's compiled ``FASTMCP_SCOPES_CLAIM_SCOPES``) maps its claims to.

    Works for any ``AccessToken`` that carries its verified claims (``AccessToken.claims``; the SDK's own
    verifiers, ours, fastmcp's): a token without them is granted its scopes only."""
    claims = getattr(token, "claims", None)
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    mapped = claim_scopes.scopes(claims) if claim_scopes else frozenset()
    return Caller(
        scopes=frozenset(token.scopes) | mapped,
        subject=token.subject,
        client_id=token.client_id,
        issuer=str(issuer) if issuer is not None else None,
        claims=claims if isinstance(claims, dict) else None,
    )


@dataclass(frozen=True)
class ProtectedResource:
    """RFC 9728 protected resource metadata for one MCP endpoint.

    Raises:
        ConfigurationError: a resource URL that is not an absolute http(s) URL without a fragment.
    """

    resource_url: str
    authorization_servers: Sequence[str]
    scopes_supported: Sequence[str] = ()
    metadata_path: str = field(init=False)
    metadata_url: str = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.resource_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise ConfigurationError(
                f"FASTMCP_SCOPES_RESOURCE_URL must be an absolute http(s) URL without a fragment, "
                f"got {self.resource_url!r}"
            )
        # RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
        path = parts.path.rstrip("/")
        object.__setattr__(self, "metadata_path", f"/.well-known/oauth-protected-resource{path}")
        object.__setattr__(self, "metadata_url", f"{parts.scheme}://{parts.netloc}{self.metadata_path}")
        BearerChallenge(resource_metadata=self.metadata_url, scope=tuple(self.scopes_supported))

    def document(self) -> dict[str, Any]:
        """The metadata document: ``resource`` identical to the configured URL, the baseline scopes only."""
        document: dict[str, Any] = {
            "resource": self.resource_url,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": ["header"],
        }
        if self.scopes_supported:
            document["scopes_supported"] = list(self.scopes_supported)
        return document


class VerifiedByServer:
    """The token the server's own authentication already verified for this request (its middleware runs
    before ours and records the result in the SDK's auth context), so that a token is verified once."""

    async def verify(self, credentials: str) -> AccessToken:
        user = auth_context_var.get()
        if not isinstance(user, AuthenticatedUser) or user.access_token.token != credentials:
            raise InvalidTokenError()
        return user.access_token

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self.verify(token)
        except InvalidTokenError:
            return None


class _Refused(Exception):
    """An answer decided while reading a request."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class ScopeChallengeMiddleware:
    """ASGI middleware around an MCP streamable HTTP app. See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        pipeline: Pipeline,
        verifier: TokenVerifier,
        resource: ProtectedResource,
        mcp_path: str = "/mcp",
        max_body_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.pipeline = pipeline
        self.verifier = verifier
        self.resource = resource
        self.mcp_path = mcp_path.rstrip("/") or "/"
        settings = pipeline.guard.settings
        self.max_body_bytes = max_body_bytes if max_body_bytes is not None else settings.max_body_bytes
        self.clock = clock
        self._metadata = json.dumps(resource.document()).encode()
        self.anonymous = pipeline.anonymous
        """Whether a request without a token has an anonymous caller (something is public) instead of a ``401``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._starting(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]  # mounted under a prefix: routes match below it
        path = path.rstrip("/") or "/"
        if path == self.resource.metadata_path and scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await _send(send, 200, self._metadata, [("access-control-allow-origin", "*")])
            return
        if path != self.mcp_path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            token = await self._authenticate(headers)
            body = await self._read_body(headers, receive) if scope["method"] == "POST" else None
            operation = _operation(scope["method"], body, headers)
        except _Refused as refused:
            await _answer(send, refused.answer)
            return
        caller = caller_from_token(token, self.pipeline.guard.claim_scopes) if token is not None else ANONYMOUS
        decision = await self.pipeline.decide(
            operation, caller, transport=_TRANSPORT, session=headers.get("mcp-session-id")
        )
        if not decision.allowed and decision.outcome != "not_found":  # the server answers "not found" itself
            await _answer(send, Answer.of(decision, resource_metadata=self.resource.metadata_url))
            return
        state = {**scope.get("state", {}), HANDED_STATE: (decision, operation)}  # for handlers in another task
        if token is None:
            # No identity to hand on: the server's own authentication (if any) left its unauthenticated user, so the
            # SDK binds a session opened here to no credential, and a token's session stays out of reach.
            state[ANONYMOUS_STATE] = True
            scope = {**scope, "user": UnauthenticatedUser(), "auth": AuthCredentials(), "state": state}
            reset = None
        else:
            user = AuthenticatedUser(token)
            scope = {**scope, "user": user, "auth": AuthCredentials(token.scopes), "state": state}
            reset = auth_context_var.set(user)
        try:
            with self.pipeline.handing(decision, operation):
                await self.app(scope, _replay(body, receive) if body is not None else receive, send)
        finally:
            if reset is not None:
                auth_context_var.reset(reset)

    def _starting(self, receive: Receive) -> Receive:
        """``receive`` for the app's lifespan: at start-up, the verifier fetches its signing keys first, so that
        the first request does not wait for them (a failure is logged; requests then fetch them as before)."""
        start = getattr(self.verifier, "start", None)

        async def starting() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and start is not None:
                try:
                    await start()
                except Exception:
                    logger.warning("fastmcp-scopes: signing keys not fetched at start-up", exc_info=True)
            return message

        return starting

    # -- authentication -----------------------------------------------------------------------------

    async def _authenticate(self, headers: Headers) -> AccessToken | None:
        """The verified token; ``None`` for a request without any ``Authorization`` header where something is
        public (an anonymous caller). A token that is present is verified, never taken for anonymous."""
        metadata = self.resource.metadata_url
        values = headers.getlist("authorization")
        if not values and self.anonymous:
            return None
        if not values:
            raise _Refused(Answer.unauthorized(resource_metadata=metadata, scope=self.resource.scopes_supported))
        if len(values) > 1:
            raise _Refused(Answer.invalid_request("Send exactly one Authorization header", resource_metadata=metadata))
        scheme, _, credentials = values[0].strip().partition(" ")
        if scheme.lower() != "bearer":
            # §3.1: no bearer credentials at all, so no error code
            raise _Refused(Answer.unauthorized(resource_metadata=metadata, scope=self.resource.scopes_supported))
        try:
            token = await self._verify(credentials)
        except InvalidTokenError as err:
            logger.info("fastmcp-scopes: bearer token refused: %s", err.detail or err.description)
            raise _Refused(Answer.invalid_token(err.description, resource_metadata=metadata)) from None
        return token

    async def _verify(self, credentials: str) -> AccessToken:
        verify = getattr(self.verifier, "verify", None)
        if verify is not None:
            token: AccessToken = await verify(credentials)
            return token
        found = await self.verifier.verify_token(credentials)
        if found is None:
            raise InvalidTokenError()
        if found.expires_at is not None and found.expires_at < self.clock():
            raise InvalidTokenError("The access token expired")
        return found

    # -- the JSON-RPC body --------------------------------------------------------------------------

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes:
        too_large = _Refused(Answer.too_large(self.max_body_bytes))
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refused(Answer.invalid(InvalidOperationError(-32600, "Client disconnected")))
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _operation(verb: str, body: bytes | None, headers: Headers) -> Operation:
    """The operation of an HTTP request: a POST's JSON-RPC message; for any other verb (GET opens the
    SSE stream, DELETE ends a session), a request that reaches no primitive, named by its verb.

    Raises:
        _Refused: a body that is not one JSON-RPC message, or headers that disagree with it.
    """
    if body is None:
        return Operation(verb, None, None, None, protocol_version=stated_version(http_version(headers)))
    try:
        message = loads_unique_names(body)
    except (ValueError, RecursionError):
        raise _Refused(Answer.invalid(InvalidOperationError(PARSE_ERROR, "Parse error"))) from None
    try:
        return Operation.from_message(message, headers)
    except InvalidOperationError as err:
        raise _Refused(Answer.invalid(err)) from None


async def _answer(send: Send, answer: Answer) -> None:
    await _send(send, answer.status, answer.encoded(), answer.headers)


async def _send(send: Send, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def protect(
    pipeline: Pipeline,
    *,
    mcp_path: str,
    verifier: TokenVerifier | None,
    resource_url: str | None,
    authorization_servers: Sequence[str] = (),
    server_hint: str,
) -> dict[str, Any]:
    """The options of :class:`ScopeChallengeMiddleware` for one server: its own verifier and resource URL
    where it has them, else those ``FASTMCP_SCOPES_*`` describes. ``server_hint`` names the server's own
    way to configure authentication, for the error.

    Raises:
        ConfigurationError: nothing to verify tokens with, or no resource URL (fail closed).
    """
    s = pipeline.guard.settings
    pipeline.refresh_public()  # the app is built now: what is public includes what was registered after install
    introspected = verifier is None and s.introspection_url is not None  # opaque tokens, RFC 7662
    missing = missing_http_settings(
        s, resource_url_known=resource_url is not None, verifier_known=verifier is not None or introspected
    )
    if missing:
        raise missing_http_settings_error(missing, alternatives=server_hint)
    resource_url = s.resource_url or resource_url
    assert resource_url is not None
    if introspected:
        verifier = IntrospectionVerifier.from_settings(s, resource_url=resource_url)
    elif verifier is None:
        verifier = JWTVerifier.from_settings(s, resource_url=resource_url, server_hint=server_hint)
    servers = list(s.authorization_servers or authorization_servers or ([s.issuer] if s.issuer else []))
    return {
        "pipeline": pipeline,
        "verifier": verifier,
        "resource": ProtectedResource(resource_url, servers, s.scopes_supported),
        "mcp_path": mcp_path,
    }


def admit_anonymous(app: Any, mcp_path: str) -> None:
    """Let a request without a token that the guard admitted (``ANONYMOUS_STATE``) pass the server's own
    authentication on the MCP route of ``app`` (a Starlette app): the SDK's ``RequireAuthMiddleware``, which fastmcp
    extends, refuses every request without a verified user. Every other request, and every other route, still meets
    it unchanged. Called when something is public, on the app the guard sits in, so the guard decides each such
    request first.
    """
    path = mcp_path.rstrip("/") or "/"
    for route in getattr(app, "routes", ()):
        protected = getattr(route, "app", None)
        if getattr(route, "path", None) not in (path, mcp_path) or not _requires_auth(protected):
            continue
        route.app = _AdmitAnonymous(protected)


def _requires_auth(app: object) -> bool:
    # Duck-typed, for the SDK's RequireAuthMiddleware of either major and fastmcp's subclass of it.
    return hasattr(app, "required_scopes") and hasattr(app, "app") and not isinstance(app, _AdmitAnonymous)


class _AdmitAnonymous:
    """A server's ``RequireAuthMiddleware``, passed over for the requests the guard admitted without a token."""

    def __init__(self, protected: Any) -> None:
        self.protected = protected
        self.required_scopes = protected.required_scopes
        self.app = protected.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = scope.get("state", {}).get(ANONYMOUS_STATE) is True and not isinstance(
            scope.get("user"), AuthenticatedUser
        )
        await (self.app if admitted else self.protected)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over once, then defers to the real one."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
