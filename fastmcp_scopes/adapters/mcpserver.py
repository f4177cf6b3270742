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
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.resources.templates import ResourceSecurityError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from fastmcp_scopes import audit
from fastmcp_scopes.decorators import ScopeDeclaration, declaration_of
from fastmcp_scopes.policy import METHODS, NAME_PARAMS, Caller, Decision, ScopeGuard
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind

__all__ = [
    "INSUFFICIENT_SCOPE",
    "META_KEY",
    "UNAUTHENTICATED",
    "InstallReport",
    "ScopeMiddleware",
    "caller_from_token",
    "install",
]

logger = logging.getLogger("fastmcp_scopes")

INSUFFICIENT_SCOPE = -32003
"""JSON-RPC code for a refusal for missing scopes: in the implementation-defined band -32000..-32019,
clear of the SDK's -32000/-32001 and the retired -32002."""
UNAUTHENTICATED = -32004
"""JSON-RPC code for a request with no access token where one is needed (stdio, in-process)."""
META_KEY = "io.github.fastmcp-scopes/requires"
"""``_meta`` key carrying a primitive's requirement (alternatives) when everything is listed."""

_LIST_KEYS: Mapping[str, str] = {
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
}

# Names hidden from the SDK's own lookups for the current request only, so that a hidden primitive
# gets the SDK's own "unknown" answer, envelope and all, instead of an imitation of it.
_masked: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("fastmcp_scopes_masked", default=frozenset())


@dataclass(frozen=True, slots=True)
class InstallReport:
    """What ``install`` found: primitives without declared scopes, as ``"tools:name"``."""

    undeclared: tuple[str, ...]


def caller_from_token(token: AccessToken) -> Caller:
    """The audit identity and scopes of an SDK ``AccessToken``."""
    issuer = (token.claims or {}).get("iss")
    return Caller(
        scopes=frozenset(token.scopes),
        subject=token.subject,
        client_id=token.client_id,
        issuer=str(issuer) if issuer is not None else None,
    )


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

    def requirement(self, kind: Kind, name: str) -> tuple[bool, Requirement | None]:
        """``(known, own requirement)`` of a registered primitive, cached per declaration object."""
        fn = self._registry.function(kind, name)
        if fn is None:
            return False, None
        declaration = declaration_of(fn)
        cached = self._cache.get((kind, name))
        if cached is not None and cached[0] is declaration:
            return True, cached[1]
        own = self.guard.own_requirement(kind, name, declaration)
        self._cache[(kind, name)] = (declaration, own)
        return True, own

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:
            return await call_next(ctx)  # notifications carry no operation to authorize
        method = ctx.method
        caller = _current_caller(ctx)
        entry = METHODS.get(method)
        if entry is None or entry[0] == "list":
            decision = self.guard.decide(method, caller=caller, request_id=ctx.request_id)
            self._refuse_unless_allowed(decision)
            result = await call_next(ctx)
            return self._filter(method, result, decision) if entry is not None else result

        kind = entry[1]
        name = (ctx.params or {}).get(NAME_PARAMS[method])
        if not isinstance(name, str):
            raise MCPError(code=INVALID_PARAMS, message="Invalid request parameters", data="")
        known, own = self.requirement(kind, name)
        decision = self.guard.decide(method, caller=caller, name=name, own=own, known=known, request_id=ctx.request_id)
        if decision.outcome == "not_found":
            self._audit(decision)
            with _masking(name):
                return await call_next(ctx)
        self._refuse_unless_allowed(decision)
        return await call_next(ctx)

    def _audit(self, decision: Decision) -> None:
        if self.guard.settings.audit:
            audit.emit(decision, clock=self._clock)

    def _refuse_unless_allowed(self, decision: Decision) -> None:
        self._audit(decision)
        if decision.allowed:
            return
        code = UNAUTHENTICATED if decision.outcome == "unauthenticated" else INSUFFICIENT_SCOPE
        raise MCPError(
            code=code, message=f"{decision.error_data()['error']}: {decision.description}", data=decision.error_data()
        )

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
        for item in items:
            name = item.get(id_key) if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue  # fail closed on anything we cannot identify
            known, own = self.requirement(kind, name)
            if not known or not self.guard.visible(method, own, decision.granted):
                continue
            if annotate and own is not None:
                item = {**item, "_meta": {**(item.get("_meta") or {}), META_KEY: own.to_json()}}
            kept.append(item)
        filtered = {**result, key: kept}
        if "cacheScope" in filtered:
            filtered["cacheScope"] = "private"  # the listing varies by token
        return filtered


def install(guard: ScopeGuard, server: Any) -> InstallReport:
    """Install ``guard`` on an ``MCPServer``. See :meth:`ScopeGuard.install`."""
    if not isinstance(server, MCPServer):
        raise TypeError(f"install() supports mcp.server.mcpserver.MCPServer, got {type(server).__name__}")
    if any(isinstance(m, ScopeMiddleware) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    middleware = ScopeMiddleware(guard, server)
    undeclared: list[str] = []
    for kind, name in middleware._registry.names():
        # Resolve every declaration now: a requirement that cannot be computed stops start-up.
        _, own = middleware.requirement(kind, name)
        if own is None:
            undeclared.append(f"{kind}:{name}")
    if undeclared:
        policy = "refused" if guard.settings.undeclared == "deny" else "allowed under the layered scopes"
        logger.warning("fastmcp-scopes: no scopes declared for %s (%s)", ", ".join(undeclared), policy)
    middleware._registry.mask()
    server.middleware.append(middleware)
    return InstallReport(undeclared=tuple(undeclared))
