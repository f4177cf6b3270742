"""ASGI layer: 401 and 403 challenges before dispatch, and RFC 9728 protected resource metadata.

:class:`ScopeChallengeMiddleware` sits in front of the SDK's streamable HTTP endpoint. For each
request it

1. authenticates the bearer token (RFC 6750 §2.1) and answers the three cases apart (§3.1): no
   credentials → 401 with a bare challenge naming the baseline scopes; a bad token → 401
   ``invalid_token``; a malformed ``Authorization`` header → 400 ``invalid_request``;
2. for a POSTed JSON-RPC request, parses the body itself (size-capped, duplicate keys refused,
   batches refused, ``Mcp-Method``/``Mcp-Name`` checked against the body) and asks the guard, so a
   token that cannot satisfy the operation gets ``403`` + ``WWW-Authenticate: Bearer
   error="insufficient_scope", scope="…"`` *before* the SDK commits a status or opens a stream. Standard
   MCP clients step up on that header by themselves;
3. passes everything else (GET, DELETE, notifications, allowed requests) on untouched, with the
   verified identity where the SDK looks for it (``scope["user"]`` and its auth context).

It serves ``/.well-known/oauth-protected-resource{path}`` itself, so ``resource`` is exactly the
configured URL and ``scopes_supported`` exactly the baseline.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp_types import HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmcp_scopes import audit
from fastmcp_scopes._json import loads_unique_names
from fastmcp_scopes.challenge import BearerChallenge
from fastmcp_scopes.errors import ConfigurationError, InvalidTokenError
from fastmcp_scopes.policy import METHODS, NAME_PARAMS, Caller, Decision, ScopeGuard
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind

__all__ = ["ProtectedResource", "Resolver", "ScopeChallengeMiddleware", "caller_from_token", "decided"]

logger = logging.getLogger("fastmcp_scopes")

Resolver = Callable[[Kind, str, Mapping[str, Any]], Awaitable[tuple[bool, Requirement | None]]]
"""``(kind, name, params) -> (known, own requirement)`` for the primitive a call names, given the call's
``params`` (with its ``arguments``); raises ``ConfigurationError`` when they yield no requirement.
Asynchronous, because some servers look their primitives up asynchronously."""


_decided: ContextVar[tuple[Decision, Any] | None] = ContextVar("fastmcp_scopes_decided", default=None)


def decided(method: str, request_id: str | int | None, params: Mapping[str, Any] | None) -> Decision | None:
    """The decision this layer already took for the request being handled, so that a server's own
    middleware need not take it again; ``None`` unless ``method``, ``request_id`` and ``params`` are
    exactly what was decided (a middleware in between may have rewritten them)."""
    handed = _decided.get()
    if handed is None:
        return None
    decision, decided_params = handed
    if decision.method != method or decision.request_id != request_id or decided_params != (params or None):
        return None
    return decision


def caller_from_token(token: AccessToken) -> Caller:
    """The audit identity and scopes of an SDK ``AccessToken``."""
    issuer = (token.claims or {}).get("iss")
    return Caller(
        scopes=frozenset(token.scopes),
        subject=token.subject,
        client_id=token.client_id,
        issuer=str(issuer) if issuer is not None else None,
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


class _Refusal(Exception):
    """An answer decided while reading a request: status, JSON body, extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: Sequence[tuple[str, str]] = ()) -> None:
        self.status = status
        self.body = body
        self.headers = headers


def _jsonrpc_error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


class ScopeChallengeMiddleware:
    """ASGI middleware in front of an MCP streamable HTTP endpoint. See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: ScopeGuard,
        resolve: Resolver,
        verifier: TokenVerifier,
        resource: ProtectedResource,
        mcp_path: str = "/mcp",
        max_body_bytes: int | None = None,
        conceal: Callable[[str], AbstractContextManager[None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.guard = guard
        self.resolve = resolve
        self.verifier = verifier
        self.resource = resource
        self.mcp_path = mcp_path.rstrip("/") or "/"
        self.max_body_bytes = max_body_bytes if max_body_bytes is not None else guard.settings.max_body_bytes
        self.conceal = conceal
        """Hides a primitive from the server's own lookups for the rest of a request answered "not found"."""
        self.clock = clock
        self._metadata = json.dumps(resource.document()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]  # mounted under a prefix: routes match below it
        path = path.rstrip("/") or "/"
        if path == self.resource.metadata_path and scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self._send(send, 200, self._metadata, [("access-control-allow-origin", "*")])
            return
        if path != self.mcp_path:
            await self.app(scope, receive, send)
            return
        try:
            token = await self._authenticate(Headers(scope=scope))
        except _Refusal as refusal:
            await self._refuse(send, refusal)
            return
        user = AuthenticatedUser(token)
        scope = {**scope, "user": user, "auth": AuthCredentials(token.scopes)}
        reset = auth_context_var.set(user)
        try:
            if scope["method"] == "POST":
                await self._post(scope, receive, send, caller_from_token(token))
            else:
                await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(reset)

    # -- authentication -----------------------------------------------------------------------------

    async def _authenticate(self, headers: Headers) -> AccessToken:
        values = headers.getlist("authorization")
        if not values:
            raise self._unauthorized()
        if len(values) > 1:
            raise self._bad_request("Send exactly one Authorization header")
        scheme, _, credentials = values[0].strip().partition(" ")
        if scheme.lower() != "bearer":
            raise self._unauthorized()  # §3.1: no bearer credentials at all, so no error code
        try:
            return await self._verify(credentials)
        except InvalidTokenError as err:
            logger.info("fastmcp-scopes: bearer token refused: %s", err.detail or err.description)
            challenge = BearerChallenge(
                error="invalid_token",
                error_description=err.description,
                resource_metadata=self.resource.metadata_url,
            )
            raise _Refusal(
                401,
                {"error": "invalid_token", "error_description": err.description},
                [("www-authenticate", challenge.render())],
            ) from None

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

    def _unauthorized(self) -> _Refusal:
        challenge = BearerChallenge(
            resource_metadata=self.resource.metadata_url, scope=tuple(self.guard.settings.scopes_supported)
        )
        body = {"error": "unauthorized", "error_description": "An access token is required"}
        return _Refusal(401, body, [("www-authenticate", challenge.render())])

    def _bad_request(self, description: str) -> _Refusal:
        challenge = BearerChallenge(
            error="invalid_request", error_description=description, resource_metadata=self.resource.metadata_url
        )
        body = {"error": "invalid_request", "error_description": description}
        return _Refusal(400, body, [("www-authenticate", challenge.render())])

    # -- the JSON-RPC body --------------------------------------------------------------------------

    async def _post(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> None:
        headers = Headers(scope=scope)
        try:
            body = await self._read_body(headers, receive)
            decided_here = await self._decide(headers, body, caller)
        except _Refusal as refusal:
            await self._refuse(send, refusal)
            return
        decision = decided_here[0] if decided_here is not None else None
        if decision is not None and decision.outcome == "insufficient_scope":
            if self.guard.settings.audit:
                audit.emit(decision, clock=self.clock, transport="streamable-http")
            challenge = decision.challenge(resource_metadata=self.resource.metadata_url)
            answer = {"jsonrpc": "2.0", "id": decision.request_id, "error": decision.jsonrpc_error()}
            await self._refuse(send, _Refusal(403, answer, [("www-authenticate", challenge.render())]))
            return
        # Allowed, or to be answered "not found" by the SDK itself: replay the body we read, handing the
        # decision on so that the server's own middleware does not take it a second time.
        reset = _decided.set(decided_here)
        try:
            if decision is not None and decision.outcome == "not_found" and decision.name and self.conceal:
                # Hidden from the SDK's pre-dispatch checks too (Mcp-Param-* headers are validated against
                # the tool's schema there), so nothing in the answer tells a hidden tool from a missing one.
                with self.conceal(decision.name):
                    await self.app(scope, _replay(body, receive), send)
            else:
                await self.app(scope, _replay(body, receive), send)
        finally:
            _decided.reset(reset)

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes:
        too_large = _Refusal(
            413, _jsonrpc_error(None, INVALID_REQUEST, f"Request body exceeds {self.max_body_bytes} bytes")
        )
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refusal(400, _jsonrpc_error(None, INVALID_REQUEST, "Client disconnected"))
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _decide(self, headers: Headers, body: bytes, caller: Caller) -> tuple[Decision, Any] | None:
        """The decision for a JSON-RPC request, with the ``params`` it was taken on (``None`` for a
        notification or a response, which carry no operation)."""
        try:
            message = loads_unique_names(body)
        except (ValueError, RecursionError):
            raise _Refusal(400, _jsonrpc_error(None, PARSE_ERROR, "Parse error")) from None
        if isinstance(message, list):
            # JSON-RPC batching left MCP in 2025-06-18; one element could hide behind another.
            raise _Refusal(400, _jsonrpc_error(None, INVALID_REQUEST, "Batches are not accepted"))
        if not isinstance(message, dict):
            raise _Refusal(400, _jsonrpc_error(None, INVALID_REQUEST, "Invalid request"))
        method = message.get("method")
        request_id = message.get("id")
        header_method = headers.get("mcp-method")
        if header_method is not None and header_method != method:
            raise _Refusal(400, _jsonrpc_error(request_id, HEADER_MISMATCH, "Mcp-Method does not match the body"))
        if not isinstance(method, str) or "id" not in message:
            return None  # a notification or a response: no operation to authorize
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            raise _Refusal(400, _jsonrpc_error(None, INVALID_REQUEST, "Invalid request id"))
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            raise _Refusal(400, _jsonrpc_error(request_id, INVALID_PARAMS, "Invalid request parameters"))
        entry = METHODS.get(method)
        if entry is None or entry[0] == "list":
            return self.guard.decide(method, caller=caller, request_id=request_id), params or None
        name = (params or {}).get(NAME_PARAMS[method])
        if not isinstance(name, str):
            raise _Refusal(400, _jsonrpc_error(request_id, INVALID_PARAMS, "Invalid request parameters"))
        header_name = headers.get("mcp-name")
        if header_name is not None and header_name != name:
            raise _Refusal(400, _jsonrpc_error(request_id, HEADER_MISMATCH, "Mcp-Name does not match the body"))
        arguments = (params or {}).get("arguments") or {}
        if not isinstance(arguments, dict):
            raise _Refusal(400, _jsonrpc_error(request_id, INVALID_PARAMS, "Invalid request parameters"))
        try:
            known, own = await self.resolve(entry[1], name, params or {})
        except ConfigurationError:
            message = "Invalid arguments: no scope requirement can be computed"
            raise _Refusal(400, _jsonrpc_error(request_id, INVALID_PARAMS, message)) from None
        decision = self.guard.decide(method, caller=caller, name=name, own=own, known=known, request_id=request_id)
        return decision, params or None

    # -- answers ------------------------------------------------------------------------------------

    async def _refuse(self, send: Send, refusal: _Refusal) -> None:
        await self._send(send, refusal.status, json.dumps(refusal.body).encode(), refusal.headers)

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        raw = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


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
