"""Adapter for the MCP Python SDK 2.x ``MCPServer``: a ``ServerMiddleware`` around every request.

Framework request in, core decision out, rendered as the SDK would render an error. Listings are
filtered after the SDK builds them (results keep ``cacheScope: "private"``: they vary by token);
calls are refused before params validation, lookup or the handler run.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import TokenVerifier
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.resources.templates import ResourceSecurityError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from starlette.applications import Starlette

from fastmcp_scopes import audit
from fastmcp_scopes.adapters import META_KEY, InstallReport, annotated_meta, report_undeclared, with_per_call
from fastmcp_scopes.decorators import ScopeDeclaration, declaration_of
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.http import ProtectedResource, ScopeChallengeMiddleware, caller_from_token, decided
from fastmcp_scopes.policy import METHODS, NAME_PARAMS, Caller, Decision, ScopeGuard
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind
from fastmcp_scopes.tokens import JWTVerifier

__all__ = ["META_KEY", "InstallReport", "ScopeMiddleware", "install"]

logger = logging.getLogger("fastmcp_scopes")

_LIST_KEYS: Mapping[str, str] = {
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
}

# Names hidden from the SDK's own lookups for the current request only, so that a hidden primitive
# gets the SDK's own "unknown" answer, envelope and all, instead of an imitation of it.
_masked: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("fastmcp_scopes_masked", default=frozenset())


def _current_caller(ctx: ServerRequestContext[Any, Any]) -> Caller | None:
    token = get_access_token()
    if token is None:
        user = getattr(ctx.request, "user", None) if ctx.request is not None else None
        if isinstance(user, AuthenticatedUser):
            token = user.access_token
    return caller_from_token(token) if token is not None else None


class _Registry:
    """Reads what the server has registered: the one place that knows the SDK's managers."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._tools = server._tool_manager
        self._prompts = server._prompt_manager
        self._resources = server._resource_manager

    def function(self, kind: Kind, name: str) -> object | None:
        if kind == "tools":
            tool = self._tools.get_tool(name)
            return tool.fn if tool is not None else None
        if kind == "prompts":
            prompt = self._prompts.get_prompt(name)
            return prompt.fn if prompt is not None else None
        resource = self._resources._resources.get(name)
        if resource is not None:
            return getattr(resource, "fn", None) or resource
        template = self._resources._templates.get(name)
        if template is not None:
            return template.fn
        for template in self._resources._templates.values():
            try:
                matched = template.matches(name)
            except ResourceSecurityError:
                return None
            if matched is not None:
                return template.fn
        return None

    def names(self) -> Iterator[tuple[Kind, str]]:
        for tool in self._tools.list_tools():
            yield "tools", tool.name
        for prompt in self._prompts.list_prompts():
            yield "prompts", prompt.name
        for resource in self._resources.list_resources():
            yield "resources", str(resource.uri)
        for template in self._resources.list_templates():
            yield "resources", template.uri_template

    def mask(self) -> None:
        """Make the SDK's lookups honour ``_masked`` (see its comment)."""
        tools, prompts, resources = self._tools, self._prompts, self._resources
        get_tool, get_prompt, get_resource = tools.get_tool, prompts.get_prompt, resources.get_resource

        def masked_tool(name: str) -> Any:
            return None if name in _masked.get() else get_tool(name)

        def masked_prompt(name: str) -> Any:
            return None if name in _masked.get() else get_prompt(name)

        async def masked_resource(uri: Any, context: Any) -> Any:
            if str(uri) in _masked.get():
                raise ResourceNotFoundError(f"Unknown resource: {uri}")
            return await get_resource(uri, context)

        tools.get_tool = masked_tool  # type: ignore[method-assign]
        prompts.get_prompt = masked_prompt  # type: ignore[method-assign]
        resources.get_resource = masked_resource  # type: ignore[method-assign]


@contextmanager
def _masking(name: str) -> Iterator[None]:
    reset = _masked.set(_masked.get() | {name})
    try:
        yield
    finally:
        _masked.reset(reset)


class ScopeMiddleware:
    """The ``ServerMiddleware`` that enforces a :class:`ScopeGuard` on one ``MCPServer``."""

    def __init__(self, guard: ScopeGuard, server: MCPServer[Any], *, clock: Callable[[], float] = time.time) -> None:
        self.guard = guard
        self._registry = _Registry(server)
        self._cache: dict[tuple[Kind, str], tuple[ScopeDeclaration | None, Requirement | None]] = {}
        self._clock = clock

    def primitives(self) -> Iterator[tuple[Kind, str, Requirement | None]]:
        """Every registered primitive with its own requirement (``None``: undeclared), resolving each
        declaration: a requirement that cannot be computed raises here, at start-up."""
        for kind, name in self._registry.names():
            yield kind, name, self.requirement(kind, name)[1]

    def requirement(self, kind: Kind, name: str) -> tuple[bool, Requirement | None]:
        """``(known, own requirement)`` of a registered primitive, cached per declaration object."""
        known, _, own = self._lookup(kind, name)
        return known, own

    def call_requirement(self, kind: Kind, name: str, arguments: Mapping[str, Any]) -> tuple[bool, Requirement | None]:
        """Like :meth:`requirement`, ANDed with what the declaration computes from the call's arguments.

        Raises:
            ConfigurationError: arguments from which no requirement can be computed.
        """
        known, declaration, own = self._lookup(kind, name)
        return known, with_per_call(self.guard, kind, name, declaration, own, arguments)

    async def resolve(self, kind: Kind, name: str, params: Mapping[str, Any]) -> tuple[bool, Requirement | None]:
        """:meth:`call_requirement` for the HTTP layer, which hands over the call's whole ``params``."""
        arguments = params.get("arguments") or {}
        return self.call_requirement(kind, name, arguments if isinstance(arguments, Mapping) else {})

    def _lookup(self, kind: Kind, name: str) -> tuple[bool, ScopeDeclaration | None, Requirement | None]:
        fn = self._registry.function(kind, name)
        if fn is None:
            return False, None, None
        declaration = declaration_of(fn)
        cached = self._cache.get((kind, name))
        if cached is not None and cached[0] is declaration:
            return True, declaration, cached[1]
        own = self.guard.own_requirement(kind, name, declaration)
        self._cache[(kind, name)] = (declaration, own)
        return True, declaration, own

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:
            return await call_next(ctx)  # notifications carry no operation to authorize
        method = ctx.method
        entry = METHODS.get(method)
        decision = decided(method, ctx.request_id, ctx.params)  # taken already, before dispatch, over HTTP
        if entry is None or entry[0] == "list":
            if decision is None:
                decision = self.guard.decide(method, caller=_current_caller(ctx), request_id=ctx.request_id)
            self._refuse_unless_allowed(decision)
            result = await call_next(ctx)
            return self._filter(method, result, decision) if entry is not None else result
        if decision is None:
            decision = self._decide_call(ctx, entry[1])
        if decision.outcome == "not_found" and decision.name is not None:
            self._audit(decision)
            with _masking(decision.name):
                return await call_next(ctx)
        self._refuse_unless_allowed(decision)
        return _private(await call_next(ctx))

    def _decide_call(self, ctx: ServerRequestContext[Any, Any], kind: Kind) -> Decision:
        method = ctx.method
        params = ctx.params or {}
        name = params.get(NAME_PARAMS[method])
        arguments = params.get("arguments") or {}
        if not isinstance(name, str) or not isinstance(arguments, Mapping):
            raise MCPError(code=INVALID_PARAMS, message="Invalid request parameters", data="")
        try:
            known, own = self.call_requirement(kind, name, arguments)
        except ConfigurationError:
            # Fixed text: the reason may describe a schema the caller is not allowed to see.
            raise MCPError(
                code=INVALID_PARAMS, message="Invalid arguments: no scope requirement can be computed"
            ) from None
        caller = _current_caller(ctx)
        return self.guard.decide(method, caller=caller, name=name, own=own, known=known, request_id=ctx.request_id)

    def _audit(self, decision: Decision) -> None:
        if self.guard.settings.audit:
            audit.emit(decision, clock=self._clock)

    def _refuse_unless_allowed(self, decision: Decision) -> None:
        self._audit(decision)
        if decision.allowed:
            return
        raise MCPError(**decision.jsonrpc_error())

    def _filter(self, method: str, result: HandlerResult, decision: Decision) -> HandlerResult:
        if not isinstance(result, dict):
            return result
        key = _LIST_KEYS[method]
        items = result.get(key)
        if not isinstance(items, list):
            return result
        _, kind = METHODS[method]
        id_key = "name" if kind != "resources" else ("uriTemplate" if key == "resourceTemplates" else "uri")
        kept: list[Any] = []
        annotate = not self.guard.settings.hide_unauthorized
        visible = self.guard.visibility(method, decision.granted)
        for item in items:
            name = item.get(id_key) if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue  # fail closed on anything we cannot identify
            known, own = self.requirement(kind, name)
            if not known or not visible(own):
                continue
            if annotate and own is not None:
                item = {**item, "_meta": annotated_meta(own, item.get("_meta"))}
            kept.append(item)
        return _private({**result, key: kept})


def _private(result: HandlerResult) -> HandlerResult:
    """A guarded result varies by token: a cache may reuse it only within the same authorization."""
    if isinstance(result, dict) and result.get("cacheScope", "private") != "private":
        return {**result, "cacheScope": "private"}
    return result


def install(guard: ScopeGuard, server: Any) -> InstallReport:
    """Install ``guard`` on an ``MCPServer``. See :meth:`ScopeGuard.install`."""
    if not isinstance(server, MCPServer):
        raise TypeError(
            "install() supports mcp.server.mcpserver.MCPServer and fastmcp.FastMCP servers, "
            f"got {type(server).__name__}"
        )
    if any(isinstance(m, ScopeMiddleware) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    middleware = ScopeMiddleware(guard, server)
    undeclared = [f"{kind}:{name}" for kind, name, own in middleware.primitives() if own is None]
    middleware._registry.mask()
    server.middleware.append(middleware)
    _guard_http(guard, server, middleware)
    return report_undeclared(guard, undeclared)


def _guard_http(guard: ScopeGuard, server: MCPServer[Any], middleware: ScopeMiddleware) -> None:
    """Make ``server.streamable_http_app()`` (and so ``server.run("streamable-http")``) answer 401/403
    before dispatch. The SDK app is built without its own bearer middleware, whose answers merge the
    three RFC 6750 cases; ours authenticates with the same verifier (the server's, or one from
    ``FASTMCP_SCOPES_*``) and hands the SDK the same identity."""
    lowlevel = server._lowlevel_server

    def streamable_http_app(*, streamable_http_path: str = "/mcp", **options: Any) -> Starlette:
        verifier, resource = _http_auth(guard, server)
        app = lowlevel.streamable_http_app(
            streamable_http_path=streamable_http_path,
            auth=server.settings.auth,
            token_verifier=None,
            auth_server_provider=server._auth_server_provider,
            custom_starlette_routes=server._custom_starlette_routes,
            debug=server.settings.debug,
            **options,
        )
        app.add_middleware(
            ScopeChallengeMiddleware,
            guard=guard,
            resolve=middleware.resolve,
            verifier=verifier,
            resource=resource,
            mcp_path=streamable_http_path,
            conceal=_masking,
        )
        return app

    # An instance attribute: the SDK's own run("streamable-http") calls self.streamable_http_app().
    server.streamable_http_app = streamable_http_app  # type: ignore[method-assign]


def _http_auth(guard: ScopeGuard, server: MCPServer[Any]) -> tuple[TokenVerifier, ProtectedResource]:
    """The verifier and resource metadata for HTTP, from the server's auth settings or ours.

    Raises:
        ConfigurationError: nothing to verify tokens with, or no resource URL (fail closed).
    """
    s = guard.settings
    auth = server.settings.auth
    resource_url = s.resource_url or (str(auth.resource_server_url) if auth and auth.resource_server_url else None)
    if resource_url is None:
        raise ConfigurationError(
            "serving over HTTP needs the canonical server URL: set FASTMCP_SCOPES_RESOURCE_URL "
            "(or AuthSettings.resource_server_url)"
        )
    verifier: TokenVerifier | None = server._token_verifier
    if verifier is None:
        verifier = JWTVerifier.from_settings(s, resource_url=resource_url, server_hint="pass token_verifier=")
    issuer = s.issuer or (str(auth.issuer_url) if auth else None)
    servers = s.authorization_servers or ([issuer] if issuer else [])
    return verifier, ProtectedResource(resource_url, servers, s.scopes_supported)
