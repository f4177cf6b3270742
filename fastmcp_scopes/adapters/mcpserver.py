"""Adapter for the MCP Python SDK 2.x ``MCPServer``: how it finds its primitives, and where to hook.

- **Registry**: the server's tool, prompt and resource managers, resolved as they resolve (a URI: concrete
  resources first, then templates in registration order).
- **Hook**: a ``ServerMiddleware`` around every request (``initialize`` and notifications included) that has
  the pipeline decide it, refuses with the SDK's own ``MCPError``, filters listings after the SDK builds them.
- **HTTP**: ``server.streamable_http_app()`` (and so ``server.run("streamable-http")``) returns the SDK's own
  app, its authentication intact, wrapped in :class:`~fastmcp_scopes.http.ScopeChallengeMiddleware`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
from starlette.middleware import Middleware

from fastmcp_scopes.adapters import META_KEY, annotated_meta, private
from fastmcp_scopes.decorators import declaration_of
from fastmcp_scopes.http import ScopeChallengeMiddleware, VerifiedByServer, caller_from_token, protect
from fastmcp_scopes.operation import METHODS, InvalidOperationError, Operation
from fastmcp_scopes.pipeline import InstallReport, Pipeline, Primitive, concealed, unless_concealed
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard
from fastmcp_scopes.settings import Kind

__all__ = ["DESCRIPTION", "META_KEY", "accepts", "install", "registry"]

DESCRIPTION = "mcp.server.mcpserver.MCPServer (MCP SDK 2.x)"

_LISTED: Mapping[str, tuple[str, str]] = {
    "tools/list": ("tools", "name"),
    "prompts/list": ("prompts", "name"),
    "resources/list": ("resources", "uri"),
    "resources/templates/list": ("resourceTemplates", "uriTemplate"),
}
"""Each listing's result member, and the member of an item that names it."""


class _Registry:
    """The SDK's managers, read as the SDK reads them (their lookups as they were before concealing)."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._tools = server._tool_manager
        self._prompts = server._prompt_manager
        self._resources = server._resource_manager
        self._lowlevel = server._lowlevel_server
        self._get_tool = self._tools.get_tool
        self._get_prompt = self._prompts.get_prompt

    def primitives(self) -> Iterator[Primitive]:
        for tool in self._tools.list_tools():
            yield Primitive("tools", tool.name, declaration_of(tool.fn))
        for prompt in self._prompts.list_prompts():
            yield Primitive("prompts", prompt.name, declaration_of(prompt.fn))
        for resource in self._resources.list_resources():
            yield Primitive("resources", str(resource.uri), declaration_of(getattr(resource, "fn", None) or resource))
        for template in self._resources.list_templates():
            yield Primitive("resources", template.uri_template, declaration_of(template.fn))

    def identified(self, kind: Kind, key: object) -> Primitive | None:
        """The primitive whose identity is ``key``: a name, a resource's URI, or a template's URI template."""
        fn: object | None = None
        if not isinstance(key, str):
            return None  # fail closed on anything that cannot be identified
        if kind == "tools":
            tool = self._get_tool(key)
            fn = tool.fn if tool is not None else None
        elif kind == "prompts":
            prompt = self._get_prompt(key)
            fn = prompt.fn if prompt is not None else None
        elif (resource := self._resources._resources.get(key)) is not None:
            fn = getattr(resource, "fn", None) or resource
        elif (template := self._resources._templates.get(key)) is not None:
            fn = template.fn
        return Primitive(kind, key, declaration_of(fn)) if fn is not None else None

    async def resolve(self, kind: Kind, target: str, operation: Operation) -> Primitive | None:
        if kind != "resources" or operation.method == "completion/complete":
            return self.identified(kind, target)
        # As ResourceManager.get_resource: a concrete resource, else the first template that matches.
        if target in self._resources._resources:
            return self.identified(kind, target)
        for template in self._resources._templates.values():
            try:
                matched = template.matches(target)
            except ResourceSecurityError:
                return None
            if matched is not None:
                return Primitive(kind, template.uri_template, declaration_of(template.fn))
        return None

    def conceal(self) -> None:
        """Make the SDK's own lookups answer "not found" for what the pipeline conceals, and its completion
        handler (one answers every ref, looking nothing up) answer as for a ref it does not know."""
        self._tools.get_tool = unless_concealed("tools", self._get_tool)  # type: ignore[method-assign]
        self._prompts.get_prompt = unless_concealed("prompts", self._get_prompt)  # type: ignore[method-assign]
        self._resources.get_resource = unless_concealed(  # type: ignore[method-assign]
            "resources", self._resources.get_resource, _unknown_resource
        )
        lowlevel = self._lowlevel
        add_request_handler = lowlevel.add_request_handler

        def add(method: str, params_type: Any, handler: Any) -> None:
            wrapped = _concealing_completions(handler) if method == _COMPLETE else handler
            add_request_handler(method, params_type, wrapped)

        if (entry := lowlevel._request_handlers.get(_COMPLETE)) is not None:
            add(_COMPLETE, entry.params_type, entry.handler)
        lowlevel.add_request_handler = add  # type: ignore[method-assign]


def _unknown_resource(uri: str) -> Any:
    raise ResourceNotFoundError(f"Unknown resource: {uri}")


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


def _caller(ctx: ServerRequestContext[Any, Any]) -> Caller | None:
    token = get_access_token()
    if token is None:
        user = getattr(ctx.request, "user", None) if ctx.request is not None else None
        if isinstance(user, AuthenticatedUser):
            token = user.access_token
    return caller_from_token(token) if token is not None else None


class _Hook:
    """The ``ServerMiddleware`` that has the pipeline decide every request of one ``MCPServer``."""

    def __init__(self, pipeline: Pipeline, registry: _Registry) -> None:
        self.pipeline = pipeline
        self.registry = registry

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            operation = Operation.of(ctx.method, ctx.params, ctx.request_id)
        except InvalidOperationError as err:
            raise MCPError(code=err.code, message=err.message) from None
        caller = _caller(ctx)

        async def proceed() -> HandlerResult:
            result = await call_next(ctx)
            if operation.action == "list" and isinstance(result, dict):
                result = self._listed(await self.pipeline.decide(operation, caller), result)  # the decision handed on
            return private(result) if operation.action != "connect" else result

        return await self.pipeline.run(operation, caller, proceed, lambda error: MCPError(**error))

    def _listed(self, decision: Decision, result: dict[str, Any]) -> dict[str, Any]:
        member, id_key = _LISTED[decision.method]
        kind = METHODS[decision.method].kind
        assert kind is not None
        items = result.get(member) or []
        found = {id(i): self.registry.identified(kind, i.get(id_key)) for i in items if isinstance(i, dict)}
        annotate = not self.pipeline.guard.settings.hide_unauthorized
        kept = [
            {**i, "_meta": annotated_meta(own, i.get("_meta"))} if annotate and own is not None else i
            for i, own in self.pipeline.listed(decision, items, lambda i: found.get(id(i)))
        ]
        return {**result, member: kept}


def accepts(server: object) -> bool:
    return isinstance(server, MCPServer)


def registry(server: Any) -> _Registry:
    return _Registry(server)


def install(guard: ScopeGuard, server: MCPServer[Any]) -> InstallReport:
    """Install ``guard`` on an ``MCPServer``. See :meth:`ScopeGuard.install`."""
    if any(isinstance(m, _Hook) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    auth = server.settings.auth
    if auth is not None and auth.required_scopes:
        guard.require_for_every_request(auth.required_scopes)
    found = _Registry(server)
    pipeline = Pipeline(guard, found)
    report = pipeline.install_report()
    found.conceal()
    server.middleware.append(_Hook(pipeline, found))
    server.streamable_http_app = _guarded_app(pipeline, server, server.streamable_http_app)  # type: ignore[method-assign]
    return report


def _guarded_app(
    pipeline: Pipeline, server: MCPServer[Any], build: Callable[..., Starlette]
) -> Callable[..., Starlette]:
    """``server.streamable_http_app`` (an instance attribute: the SDK's ``run("streamable-http")`` calls it),
    with the guard's HTTP layer in it. A server that verifies tokens itself keeps doing so, with its resource
    validation and ``required_scopes`` (which joined the connect layer at install): the guard sits inside the
    SDK's authentication and reads its result, so each token is verified once. Without one, the guard
    verifies tokens from ``FASTMCP_SCOPES_*``."""

    def streamable_http_app(*, streamable_http_path: str = "/mcp", **options: Any) -> Starlette:
        auth = server.settings.auth
        own = server._token_verifier is not None and auth is not None
        guarded = protect(
            pipeline,
            mcp_path=streamable_http_path,
            verifier=VerifiedByServer() if own else None,
            resource_url=str(auth.resource_server_url) if auth and auth.resource_server_url else None,
            authorization_servers=[str(auth.issuer_url)] if auth else [],
            server_hint="give the MCPServer token_verifier= and AuthSettings(resource_server_url=...) instead",
        )
        app = build(streamable_http_path=streamable_http_path, **options)
        # Last in the list, so inside the SDK's AuthenticationMiddleware; before its routes' RequireAuth.
        app.user_middleware.append(Middleware(ScopeChallengeMiddleware, **guarded))
        return app

    return streamable_http_app
