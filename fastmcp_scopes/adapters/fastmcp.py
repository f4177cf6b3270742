"""Adapter for the standalone ``fastmcp`` package (4.x): a ``fastmcp`` ``Middleware`` on the server.

Framework request in, core decision out, rendered as fastmcp renders errors. Through fastmcp's own hooks:

- ``on_request``: every request other than a listing or a call (``initialize``, ``server/discover``,
  completions, ...) needs the connect layer;
- ``on_list_tools``, ``on_list_prompts``, ``on_list_resources``, ``on_list_resource_templates``: the
  listing layer, then each component shown per token (``hide_unauthorized``) or annotated in ``_meta``;
- ``on_call_tool``, ``on_get_prompt``, ``check_resource_access`` (which fastmcp runs before every read):
  refused before the component runs with an ``MCPError`` carrying ``Decision.jsonrpc_error()``, which
  fastmcp's handlers let through to the wire unchanged. ``hidden_calls="not_found"`` raises fastmcp's own
  ``NotFoundError``, which its handlers render exactly as for a name that does not exist.

The caller is fastmcp's ``get_access_token()`` (the HTTP request's verified user, else the SDK's auth
context, which ``fastmcp_scopes.testing.acting_as`` sets in-process). No token and no ``stdio_scopes``
refuses (fail closed), stdio included: unlike fastmcp's ``AuthMiddleware``, stdio is not waved through.
Filtered listings are private to the token, so a server's ``cache_scope="public"`` hint is narrowed to
``"private"`` for the guarded methods.

HTTP: ``server.http_app()`` (and so ``server.run(transport="http")``) puts
:class:`fastmcp_scopes.http.ScopeChallengeMiddleware` in front of the endpoint, answering 401 and 403
before dispatch. With an ``auth`` provider on the server, the provider's own middleware verifies the
token once and ours reads its result (no second verification); its routes (OAuth endpoints) stay, its
protected resource metadata is answered by ours first. Without one, tokens are verified with a
``JWTVerifier`` from ``FASTMCP_SCOPES_*``.

Known limits:

- Declarations are read from function components (``@mcp.tool``/``resource``/``prompt`` and tools
  transformed from them). Components of a *mounted* server are proxies without the function: install a
  guard on the mounted server itself (its middleware runs for calls routed through the parent); on the
  parent they count as undeclared.
- Only components registered on the server itself are resolved (and reported) at ``install``;
  others are resolved on first use, and one whose requirement cannot be computed is hidden and refused.
- The provider's ``required_scopes`` are still enforced by fastmcp's ``RequireAuthMiddleware`` after ours,
  with its own 403; put them in ``FASTMCP_SCOPES_CONNECT_SCOPES`` too so that ours answers first.
- The legacy SSE transport (``transport="sse"``) is refused: its bodies cannot be challenged per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

import fastmcp as fastmcp_package
import mcp_types as mt
from fastmcp import FastMCP
from fastmcp.exceptions import NotFoundError
from fastmcp.prompts.base import Prompt, PromptResult
from fastmcp.resources.base import Resource
from fastmcp.resources.template import ResourceTemplate
from fastmcp.server.auth import AuthProvider
from fastmcp.server.dependencies import extract_version_spec, get_access_token
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult
from fastmcp.utilities.components import FastMCPComponent
from fastmcp.utilities.versions import VersionSpec
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from starlette.middleware import Middleware as ASGIMiddleware

from fastmcp_scopes import audit
from fastmcp_scopes.adapters import InstallReport, annotated_meta, report_undeclared, with_per_call
from fastmcp_scopes.decorators import ScopeDeclaration, declaration_of
from fastmcp_scopes.errors import ConfigurationError, InvalidTokenError
from fastmcp_scopes.http import ProtectedResource, ScopeChallengeMiddleware, caller_from_token
from fastmcp_scopes.policy import METHODS, Caller, Decision, ScopeGuard
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind
from fastmcp_scopes.tokens import JWTVerifier

__all__ = ["ScopeMiddleware", "install"]

logger = logging.getLogger("fastmcp_scopes")

_C = TypeVar("_C", bound=FastMCPComponent)
Lookup = tuple[bool, ScopeDeclaration | None, Requirement | None]
"""``(known, declaration, own requirement)`` of the component a call resolves to."""

_CACHE_SIZE = 4096


def _declaration(component: object) -> ScopeDeclaration | None:
    """The declaration on a component's function, or on the tool it was transformed from."""
    current: object | None = component
    while current is not None:
        fn = getattr(current, "fn", None)
        declaration = declaration_of(fn) if fn is not None else None
        if declaration is not None:
            return declaration
        current = getattr(current, "parent_tool", None)
    return None


def _current_caller() -> Caller | None:
    token = get_access_token()
    return caller_from_token(token) if token is not None else None


def _request_id(context: MiddlewareContext[Any]) -> str | None:
    fastmcp_context = context.fastmcp_context
    request = fastmcp_context.request_context if fastmcp_context is not None else None
    return request.request_id if request is not None else None


def _version(meta: Mapping[str, Any] | None) -> VersionSpec | None:
    version = extract_version_spec(dict(meta) if meta else None)
    return VersionSpec(eq=version) if version else None


class ScopeMiddleware(Middleware):
    """The fastmcp ``Middleware`` that enforces a :class:`ScopeGuard` on one ``FastMCP`` server."""

    def __init__(self, guard: ScopeGuard, server: FastMCP[Any], *, clock: Callable[[], float] = time.time) -> None:
        self.guard = guard
        self._server = server
        self._own: dict[tuple[Kind, str, ScopeDeclaration | None], Requirement | None] = {}
        self._clock = clock

    # -- requirements -------------------------------------------------------------------------------

    def requirement(
        self, kind: Kind, name: str, component: object
    ) -> tuple[ScopeDeclaration | None, Requirement | None]:
        """A component's declaration and own requirement, remembered per declaration.

        Raises:
            ConfigurationError: a declaration that cannot be resolved.
        """
        declaration = _declaration(component)
        key = (kind, name, declaration)
        if key in self._own:
            return declaration, self._own[key]
        own = self.guard.own_requirement(kind, name, declaration)
        if len(self._own) >= _CACHE_SIZE:
            self._own.clear()
        self._own[key] = own
        return declaration, own

    async def lookup(self, kind: Kind, name: str, version: VersionSpec | None = None) -> Lookup:
        """What a call naming ``name`` resolves to, as fastmcp itself resolves it (enabled, visible,
        passing the component's own ``auth``); unknown when it would answer "not found"."""
        server = self._server
        component: object | None
        if kind == "tools":
            component = await server.get_tool(name, version=version)
        elif kind == "prompts":
            component = await server.get_prompt(name, version=version)
        else:
            component = await server.get_resource(name, version=version)
            if component is None:
                component = await server.get_resource_template(name, version=version)
        if component is None:
            return False, None, None
        declaration, own = self.requirement(kind, name, component)
        return True, declaration, own

    async def resolve(self, kind: Kind, name: str, params: Mapping[str, Any]) -> tuple[bool, Requirement | None]:
        """:meth:`call_requirement` for the HTTP layer, from the call's whole ``params``."""
        arguments = params.get("arguments") or {}
        meta = params.get("_meta")
        version = _version(meta if isinstance(meta, dict) else None)
        return await self.call_requirement(kind, name, arguments if isinstance(arguments, Mapping) else {}, version)

    async def call_requirement(
        self, kind: Kind, name: str, arguments: Mapping[str, Any], version: VersionSpec | None = None
    ) -> tuple[bool, Requirement | None]:
        """Like :meth:`lookup`, ANDed with what the declaration computes from the call's arguments.

        Raises:
            ConfigurationError: arguments from which no requirement can be computed.
        """
        known, declaration, own = await self.lookup(kind, name, version)
        return known, with_per_call(self.guard, kind, name, declaration, own, arguments)

    # -- requests -----------------------------------------------------------------------------------

    async def on_request(
        self, context: MiddlewareContext[mt.Request[Any, Any]], call_next: CallNext[mt.Request[Any, Any], Any]
    ) -> Any:
        method = context.method or ""
        if method not in METHODS:  # listings and calls are decided in their own hooks
            self._refuse_unless_allowed(self._decide(method, context))
        return await call_next(context)

    async def on_list_tools(
        self, context: MiddlewareContext[mt.ListToolsRequest], call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]]
    ) -> Sequence[Tool]:
        decision = self._decide("tools/list", context)
        self._refuse_unless_allowed(decision)
        return self._filter("tools", decision, await call_next(context), lambda t: t.name)

    async def on_list_prompts(
        self,
        context: MiddlewareContext[mt.ListPromptsRequest],
        call_next: CallNext[mt.ListPromptsRequest, Sequence[Prompt]],
    ) -> Sequence[Prompt]:
        decision = self._decide("prompts/list", context)
        self._refuse_unless_allowed(decision)
        return self._filter("prompts", decision, await call_next(context), lambda p: p.name)

    async def on_list_resources(
        self,
        context: MiddlewareContext[mt.ListResourcesRequest],
        call_next: CallNext[mt.ListResourcesRequest, Sequence[Resource]],
    ) -> Sequence[Resource]:
        decision = self._decide("resources/list", context)
        self._refuse_unless_allowed(decision)
        return self._filter("resources", decision, await call_next(context), lambda r: str(r.uri))

    async def on_list_resource_templates(
        self,
        context: MiddlewareContext[mt.ListResourceTemplatesRequest],
        call_next: CallNext[mt.ListResourceTemplatesRequest, Sequence[ResourceTemplate]],
    ) -> Sequence[ResourceTemplate]:
        decision = self._decide("resources/templates/list", context)
        self._refuse_unless_allowed(decision)
        return self._filter("resources", decision, await call_next(context), lambda t: t.uri_template)

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        message = context.message
        await self._authorize("tools/call", message.name, message.arguments or {}, message.meta, context)
        return await call_next(context)

    async def on_get_prompt(
        self,
        context: MiddlewareContext[mt.GetPromptRequestParams],
        call_next: CallNext[mt.GetPromptRequestParams, PromptResult],
    ) -> PromptResult:
        message = context.message
        await self._authorize("prompts/get", message.name, message.arguments or {}, message.meta, context)
        return await call_next(context)

    async def check_resource_access(self, context: MiddlewareContext[mt.ReadResourceRequestParams]) -> None:
        message = context.message
        await self._authorize("resources/read", str(message.uri), {}, message.meta, context)

    # -- deciding and answering ---------------------------------------------------------------------

    def _decide(self, method: str, context: MiddlewareContext[Any]) -> Decision:
        return self.guard.decide(method, caller=_current_caller(), request_id=_request_id(context))

    async def _authorize(
        self,
        method: str,
        name: str,
        arguments: Mapping[str, Any],
        meta: Mapping[str, Any] | None,
        context: MiddlewareContext[Any],
    ) -> None:
        _, kind = METHODS[method]
        try:
            known, own = await self.call_requirement(kind, name, arguments, _version(meta))
        except ConfigurationError:
            # Fixed text: the reason may describe a schema the caller is not allowed to see.
            raise MCPError(
                code=INVALID_PARAMS, message="Invalid arguments: no scope requirement can be computed"
            ) from None
        decision = self.guard.decide(
            method, caller=_current_caller(), name=name, own=own, known=known, request_id=_request_id(context)
        )
        if decision.outcome == "not_found":
            self._audit(decision)
            # fastmcp's handlers answer this exactly as for a name it does not have.
            raise NotFoundError(f"Unknown {kind[:-1]}: {name!r}")
        self._refuse_unless_allowed(decision)

    def _audit(self, decision: Decision) -> None:
        if self.guard.settings.audit:
            audit.emit(decision, clock=self._clock)

    def _refuse_unless_allowed(self, decision: Decision) -> None:
        self._audit(decision)
        if decision.allowed:
            return
        raise MCPError(**decision.jsonrpc_error())

    def _filter(self, kind: Kind, decision: Decision, items: Sequence[_C], name_of: Callable[[_C], str]) -> list[_C]:
        visible = self.guard.visibility(decision.method, decision.granted)
        annotate = not self.guard.settings.hide_unauthorized
        kept: list[_C] = []
        for item in items:
            name = name_of(item)
            try:
                _, own = self.requirement(kind, name, item)
            except ConfigurationError:
                logger.error("fastmcp-scopes: hiding %s %r: its requirement cannot be computed", kind[:-1], name)
                continue  # fail closed
            if not visible(own):
                continue
            if annotate and own is not None:
                item = item.model_copy(update={"meta": annotated_meta(own, item.meta)})
            kept.append(item)
        return kept


# -- installation ----------------------------------------------------------------------------------


def install(guard: ScopeGuard, server: Any) -> InstallReport:
    """Install ``guard`` on a ``fastmcp.FastMCP`` server. See :meth:`ScopeGuard.install`."""
    if not isinstance(server, FastMCP):
        raise TypeError(f"install() supports fastmcp.FastMCP, got {type(server).__name__}")
    if any(isinstance(m, ScopeMiddleware) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    middleware = ScopeMiddleware(guard, server)
    undeclared: list[str] = []
    for kind, name, component in _registered(server):
        # Resolve every declaration now: a requirement that cannot be computed stops start-up.
        _, own = middleware.requirement(kind, name, component)
        if own is None:
            undeclared.append(f"{kind}:{name}")
    _private_cache_hints(server)
    server.add_middleware(middleware)
    _guard_http(guard, server, middleware)
    return report_undeclared(guard, undeclared)


def _registered(server: FastMCP[Any]) -> list[tuple[Kind, str, FastMCPComponent]]:
    """The components registered on the server itself (its local provider).

    fastmcp only lists them asynchronously; the local provider does no I/O, so the listing runs to
    completion on a private event loop (in a worker thread, as ``install`` may be called inside one).
    """
    provider = server.local_provider

    async def collect() -> list[tuple[Kind, str, FastMCPComponent]]:
        found: list[tuple[Kind, str, FastMCPComponent]] = []
        found += [("tools", t.name, t) for t in await provider.list_tools()]
        found += [("prompts", p.name, p) for p in await provider.list_prompts()]
        found += [("resources", str(r.uri), r) for r in await provider.list_resources()]
        found += [("resources", t.uri_template, t) for t in await provider.list_resource_templates()]
        return found

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastmcp-scopes-install") as pool:
        return pool.submit(asyncio.run, collect()).result()


def _private_cache_hints(server: FastMCP[Any]) -> None:
    """Guarded results vary by token (listings) or by who may see them (reads): never ``public``."""
    hints = server._mcp_server.cache_hints
    for method in METHODS:
        hint = hints.get(method)
        if hint is not None and hint.scope == "public":
            hints[method] = replace(hint, scope="private")
            logger.info("fastmcp-scopes: %s results are cached per token (cache_scope private)", method)


# -- HTTP ------------------------------------------------------------------------------------------


class _ProviderVerified:
    """The token the server's ``auth`` provider already verified for this request (its middleware runs
    first and records it in the SDK's auth context), so that a token is verified once."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def verify(self, credentials: str) -> AccessToken:
        user = auth_context_var.get()
        if not isinstance(user, AuthenticatedUser) or user.access_token.token != credentials:
            raise InvalidTokenError()
        token = user.access_token
        if token.expires_at is not None and token.expires_at < self._clock():
            raise InvalidTokenError("The access token expired")
        return token

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self.verify(token)
        except InvalidTokenError:
            return None


def _guard_http(guard: ScopeGuard, server: FastMCP[Any], scope_middleware: ScopeMiddleware) -> None:
    """Make ``server.http_app()`` (and so ``server.run(transport="http")``) answer 401/403 before dispatch."""
    http_app = server.http_app

    def guarded_http_app(
        path: str | None = None, middleware: list[ASGIMiddleware] | None = None, **options: Any
    ) -> Any:
        if options.get("transport", "http") == "sse":
            raise ConfigurationError("a guarded fastmcp server serves streamable HTTP; the SSE transport is refused")
        mcp_path = path if path is not None else fastmcp_package.settings.streamable_http_path
        verifier, resource = _http_auth(guard, server, mcp_path)
        ours = ASGIMiddleware(
            ScopeChallengeMiddleware,
            resolve=scope_middleware.resolve,
            guard=guard,
            verifier=verifier,
            resource=resource,
            mcp_path=mcp_path,
        )
        # Last in the list: inside the provider's authentication, whose result ours reads.
        return http_app(path=path, middleware=[*(middleware or []), ours], **options)

    # An instance attribute: fastmcp's own run(transport="http") calls self.http_app().
    server.http_app = guarded_http_app  # type: ignore[method-assign,assignment]


def _http_auth(guard: ScopeGuard, server: FastMCP[Any], mcp_path: str) -> tuple[TokenVerifier, ProtectedResource]:
    """The verifier and resource metadata for HTTP, from the server's ``auth`` provider or our settings.

    Raises:
        ConfigurationError: nothing to verify tokens with, or no resource URL (fail closed).
    """
    s = guard.settings
    auth: AuthProvider | None = server.auth
    resource_url = s.resource_url
    if resource_url is None and auth is not None:
        base = auth.resource_base_url or auth.base_url
        if base is not None:
            resource_url = f"{str(base).rstrip('/')}/{mcp_path.lstrip('/')}"
    if resource_url is None:
        raise ConfigurationError(
            "serving over HTTP needs the canonical server URL: set FASTMCP_SCOPES_RESOURCE_URL "
            "(or the auth provider's base_url)"
        )
    verifier: TokenVerifier
    if auth is not None:
        verifier = _ProviderVerified()
    else:
        verifier = JWTVerifier.from_settings(s, resource_url=resource_url, server_hint="give the server auth=")
    servers: Sequence[Any] = s.authorization_servers or getattr(auth, "authorization_servers", None) or []
    if not servers and s.issuer:
        servers = [s.issuer]
    return verifier, ProtectedResource(resource_url, [str(a) for a in servers], s.scopes_supported)
