"""Adapter for the MCP Python SDK 2.x ``MCPServer``: how it finds its primitives, and where to hook.

- **Registry**: the server's tool, prompt and resource managers, resolved as they resolve (a URI: concrete
  resources first, then templates in registration order).
- **Hook**: a ``ServerMiddleware`` around every request (``initialize`` and notifications included) that has
  the pipeline decide it, refuses with the SDK's own ``MCPError``, filters listings after the SDK builds them.
- **HTTP**: ``server.streamable_http_app()`` (and so ``server.run("streamable-http")``) returns the SDK's own
  app, its authentication intact, wrapped in :class:`~fastmcp_scopes.http.ScopeChallengeMiddleware`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.resources.templates import ResourceSecurityError
from mcp.shared.exceptions import MCPError
from mcp_types import CompleteRequestParams, CompleteResult, Completion, PromptReference
from starlette.applications import Starlette

from fastmcp_scopes.adapters import META_KEY, annotator, private
from fastmcp_scopes.adapters._sdk import ManagerRegistry, guard_app
from fastmcp_scopes.claims import ClaimScopes
from fastmcp_scopes.concealment import concealed
from fastmcp_scopes.http import caller_from_token
from fastmcp_scopes.operation import LISTED, METHODS, InvalidOperationError, Operation
from fastmcp_scopes.pipeline import InstallReport, Pipeline
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard
from fastmcp_scopes.settings import Kind

__all__ = ["DESCRIPTION", "META_KEY", "accepts", "install", "registry"]

DESCRIPTION = "mcp.server.mcpserver.MCPServer (MCP SDK 2.x)"


def _unknown_resource(uri: str) -> Any:
    raise ResourceNotFoundError(f"Unknown resource: {uri}")


def _conceal_completions(lowlevel: Any) -> None:
    """Make the server's completion handler (one answers every ref, looking nothing up) answer as for a ref it
    does not know while the ref is concealed, handlers registered after install included."""
    add_request_handler = lowlevel.add_request_handler

    def add(method: str, params_type: Any, handler: Any) -> None:
        add_request_handler(method, params_type, _concealing_completions(handler) if method == _COMPLETE else handler)

    if (entry := lowlevel._request_handlers.get(_COMPLETE)) is not None:
        add(_COMPLETE, entry.params_type, entry.handler)
    lowlevel.add_request_handler = add


_COMPLETE = "completion/complete"


def _concealing_completions(handler: Any) -> Any:
    """The server's completion handler, answering as for a ref it does not know (an empty completion, in the
    envelope the SDK gives it) when the ref is concealed: one handler answers every ref, looking nothing up."""

    async def complete(ctx: Any, params: CompleteRequestParams) -> Any:
        ref = params.ref
        kind: Kind = "prompts" if isinstance(ref, PromptReference) else "resources"
        if concealed(kind, ref.name if isinstance(ref, PromptReference) else ref.uri):
            return CompleteResult(completion=Completion(values=[]))
        return await handler(ctx, params)

    return complete


def _caller(ctx: ServerRequestContext[Any, Any], claim_scopes: ClaimScopes) -> Caller | None:
    token = get_access_token()
    if token is None:
        user = getattr(ctx.request, "user", None) if ctx.request is not None else None
        if isinstance(user, AuthenticatedUser):
            token = user.access_token
    return caller_from_token(token, claim_scopes) if token is not None else None


class _Hook:
    """The ``ServerMiddleware`` that has the pipeline decide every request of one ``MCPServer``."""

    def __init__(self, pipeline: Pipeline, registry: ManagerRegistry) -> None:
        self.pipeline = pipeline
        self.registry = registry

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            # The session's version: negotiated by initialize, or this request's own (2026-07-28).
            operation = Operation.of(ctx.method, ctx.params, ctx.request_id, protocol_version=ctx.protocol_version)
        except InvalidOperationError as err:
            raise MCPError(code=err.code, message=err.message) from None
        caller = _caller(ctx, self.pipeline.guard.claim_scopes)

        async def proceed() -> HandlerResult:
            result = await call_next(ctx)
            if operation.action == "list" and isinstance(result, dict):
                result = self._listed(await self.pipeline.decide(operation, caller), result)  # the decision handed on
            return private(result) if operation.action != "connect" else result

        return await self.pipeline.run(operation, caller, proceed, lambda error: MCPError(**error))

    def _listed(self, decision: Decision, result: dict[str, Any]) -> dict[str, Any]:
        member, id_key = LISTED[decision.method]
        kind = METHODS[decision.method].kind
        assert kind is not None
        items = result.get(member) or []
        found = {id(i): self.registry.identified(kind, i.get(id_key)) for i in items if isinstance(i, dict)}
        annotate = annotator(self.pipeline.guard, kind)
        kept = [
            i
            if annotate is None
            or (meta := annotate(own, i.get("_meta"), self.pipeline.is_public(found.get(id(i))))) is None
            else {**i, "_meta": meta}
            for i, own in self.pipeline.listed(decision, items, lambda i: found.get(id(i)))
        ]
        return {**result, member: kept}


def accepts(server: object) -> bool:
    return isinstance(server, MCPServer)


def registry(server: Any) -> ManagerRegistry:
    return ManagerRegistry(server, (ResourceSecurityError,), empty_match_dispatches=True)


def install(guard: ScopeGuard, server: MCPServer[Any]) -> InstallReport:
    """Install ``guard`` on an ``MCPServer``. See :meth:`ScopeGuard.install`."""
    if any(isinstance(m, _Hook) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    found = registry(server)
    auth = server.settings.auth
    pipeline, report = Pipeline.installed(guard, found, required_scopes=auth.required_scopes if auth else None)
    found.conceal(_unknown_resource)
    _conceal_completions(server._lowlevel_server)
    server.middleware.append(_Hook(pipeline, found))
    build = server.streamable_http_app

    def streamable_http_app(*, streamable_http_path: str = "/mcp", **options: Any) -> Starlette:
        app = build(streamable_http_path=streamable_http_path, **options)
        return guard_app(pipeline, server, app, streamable_http_path)

    server.streamable_http_app = streamable_http_app  # type: ignore[method-assign]  # run() calls the attribute
    return report
