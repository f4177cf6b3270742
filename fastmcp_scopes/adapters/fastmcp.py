"""Adapter for the standalone ``fastmcp`` package (4.x): how it finds its primitives, and where to hook.

- **Registry**: fastmcp's own lookups (``get_tool`` and then the hashed ``__<hash>_<name>`` fallback, a URI's
  concrete resource before any template), followed through mounted servers to the function that runs.
- **Hook**: a fastmcp ``Middleware``. ``on_message`` has the pipeline decide every message; the typed hooks
  find that decision handed on and filter listings, or decide anew a call a tool makes on its caller's behalf.
  A refusal is an ``MCPError`` carrying :meth:`Decision.jsonrpc_error`, which fastmcp sends unchanged.
- **HTTP**: ``server.http_app()`` (and so ``run(transport="http")``) puts
  :class:`fastmcp_scopes.http.ScopeChallengeMiddleware` inside the server's own authentication, whose
  verified token it reads (verified once). The legacy SSE transport is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import fastmcp as fastmcp_package
import mcp_types as mt
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import extract_version_spec, get_access_token
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.utilities.versions import VersionSpec
from mcp.shared.exceptions import MCPError

from fastmcp_scopes.adapters import annotator
from fastmcp_scopes.adapters._fastmcp_common import FastMCPRegistry, guarded_http_app
from fastmcp_scopes.claims import ClaimScopes
from fastmcp_scopes.concealment import concealing
from fastmcp_scopes.http import caller_from_token
from fastmcp_scopes.operation import METHODS, InvalidOperationError, Operation
from fastmcp_scopes.pipeline import InstallReport, Pipeline
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard

__all__ = ["DESCRIPTION", "accepts", "install", "registry"]

DESCRIPTION = "fastmcp.FastMCP (fastmcp 4.x)"


def _version(params: Mapping[str, Any] | None) -> VersionSpec | None:
    meta = (params or {}).get("_meta")
    version = extract_version_spec(dict(meta)) if isinstance(meta, Mapping) else None
    return VersionSpec(eq=version) if version else None


def _error(error: Mapping[str, Any]) -> MCPError:
    return MCPError(**error)


def _caller(claim_scopes: ClaimScopes) -> Caller | None:
    token = get_access_token()
    return caller_from_token(token, claim_scopes) if token is not None else None


def _operation(context: MiddlewareContext[Any]) -> Operation:
    """The operation of a fastmcp middleware context: its message is the request, or (for calls) its params."""
    message = context.message
    params = getattr(message, "params", message) if hasattr(message, "method") else message
    dump = getattr(params, "model_dump", None)
    dumped = dump(by_alias=True, exclude_none=True, mode="json") if dump is not None else params
    fastmcp_context = context.fastmcp_context
    request = fastmcp_context.request_context if fastmcp_context is not None and context.type == "request" else None
    request_id = request.request_id if request is not None else None
    version = request.protocol_version if request is not None else None  # the session's, or this request's own
    try:
        return Operation.of(context.method or "", dumped, request_id, protocol_version=version)
    except InvalidOperationError as err:
        raise MCPError(code=err.code, message=err.message) from None


class _Hook(Middleware):
    """The fastmcp ``Middleware`` that has the pipeline decide every request of one ``FastMCP`` server."""

    def __init__(self, pipeline: Pipeline, registry: FastMCPRegistry) -> None:
        self.pipeline = pipeline
        self.registry = registry

    async def on_message(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        complete = mt.CompleteResult.model_validate  # the SDK below gives it its era's envelope
        return await self.pipeline.run(
            _operation(context),
            _caller(self.pipeline.guard.claim_scopes),
            lambda: call_next(context),
            _error,
            complete,
        )

    async def _typed(self, context: MiddlewareContext[Any], proceed: Callable[[Decision], Awaitable[Any]]) -> Any:
        """A typed hook: the decision ``on_message`` handed on, or (a call a tool makes on its caller's behalf)
        a new one; "not found" is answered by fastmcp itself, with the target concealed."""
        operation = _operation(context)
        decision = await self.pipeline.decide(operation, _caller(self.pipeline.guard.claim_scopes))
        if not decision.allowed and decision.outcome != "not_found":
            raise _error(decision.jsonrpc_error())
        with concealing(decision, operation):
            return await proceed(decision)

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        return await self._typed(context, lambda _: call_next(context))

    async def on_get_prompt(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        return await self._typed(context, lambda _: call_next(context))

    async def on_read_resource(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        return await self._typed(context, lambda _: call_next(context))

    async def _listing(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> list[Any]:
        async def listed(decision: Decision) -> list[Any]:
            kind = METHODS[decision.method].kind
            assert kind is not None
            items: Sequence[Any] = await call_next(context)
            found = {id(item): await self.registry.primitive(kind, item) for item in items}
            annotate = annotator(self.pipeline.guard, kind)
            return [
                item
                if annotate is None
                or (meta := annotate(own, item.meta, self.pipeline.is_public(found[id(item)]))) is None
                else item.model_copy(update={"meta": meta})
                for item, own in self.pipeline.listed(decision, items, lambda item: found[id(item)])
            ]

        result: list[Any] = await self._typed(context, listed)
        return result

    on_list_tools = on_list_prompts = on_list_resources = on_list_resource_templates = _listing


def accepts(server: object) -> bool:
    # fastmcp 3.x has a FastMCP class too, with other internals: it has an adapter of its own.
    return isinstance(server, FastMCP) and fastmcp_package.__version__.split(".")[0] == "4"


def registry(server: Any) -> FastMCPRegistry:
    return FastMCPRegistry(server, _version)


def install(guard: ScopeGuard, server: FastMCP[Any]) -> InstallReport:
    """Install ``guard`` on a ``fastmcp.FastMCP`` server. See :meth:`ScopeGuard.install`."""
    if any(isinstance(m, _Hook) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    found = registry(server)
    pipeline, report = Pipeline.installed(guard, found, required_scopes=getattr(server.auth, "required_scopes", None))
    pipeline.tool_errors = (ToolError,)  # raised through the hook, answered as an isError result further up
    found.conceal()
    _private_cache_hints(server)
    server.add_middleware(_Hook(pipeline, found))
    server.http_app = guarded_http_app(pipeline, server, server.http_app)  # type: ignore[method-assign]
    return report


def _private_cache_hints(server: FastMCP[Any]) -> None:
    """Guarded results vary by token (listings) or by who may see them (reads): never ``public``."""
    hints = server._mcp_server.cache_hints
    for method, rule in METHODS.items():
        hint = hints.get(method)
        if rule.action != "connect" and hint is not None and hint.scope == "public":
            hints[method] = replace(hint, scope="private")
