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

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import fastmcp as fastmcp_package
import mcp_types as mt
from fastmcp import FastMCP
from fastmcp.server.dependencies import extract_version_spec, get_access_token
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.server.providers.addressing import parse_hashed_backend_name
from fastmcp.utilities.versions import VersionSpec
from mcp.shared.exceptions import MCPError
from starlette.middleware import Middleware as ASGIMiddleware

from fastmcp_scopes.adapters import annotated_meta
from fastmcp_scopes.decorators import ScopeDeclaration, declaration_of
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.http import ScopeChallengeMiddleware, VerifiedByServer, caller_from_token, protect
from fastmcp_scopes.operation import METHODS, InvalidOperationError, Operation
from fastmcp_scopes.pipeline import InstallReport, Pipeline, Primitive, concealing, unless_concealed
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard
from fastmcp_scopes.settings import Kind

__all__ = ["DESCRIPTION", "accepts", "install", "registry"]

DESCRIPTION = "fastmcp.FastMCP (fastmcp 4.x)"


def _version(params: Mapping[str, Any] | None) -> VersionSpec | None:
    meta = (params or {}).get("_meta")
    version = extract_version_spec(dict(meta)) if isinstance(meta, Mapping) else None
    return VersionSpec(eq=version) if version else None


def _key(kind: Kind, component: Any) -> str:
    if kind != "resources":
        return str(component.name)
    template = getattr(component, "uri_template", None)
    return str(template) if template is not None else str(component.uri)


async def _declaration(component: Any) -> ScopeDeclaration | None:
    """The declaration on the function that runs: a component's own, the tool it was transformed from,
    or, through a mounted server, the child's component."""
    current: Any = component
    while current is not None:
        child = getattr(current, "_server", None)
        if isinstance(child, FastMCP):
            current = await _mounted(child, current)
            continue
        fn = getattr(current, "fn", None)
        declaration = declaration_of(fn) if fn is not None else None
        if declaration is not None:
            return declaration
        current = getattr(current, "parent_tool", None)
    return None


async def _mounted(child: FastMCP[Any], proxy: Any) -> Any:
    if (name := getattr(proxy, "_original_name", None)) is not None:
        return await (child.get_tool(name) if hasattr(proxy, "parameters") else child.get_prompt(name))
    if (uri := getattr(proxy, "_original_uri", None)) is not None:
        return await child.get_resource(uri)
    return await _template(child, getattr(proxy, "_original_uri_template", None) or "")


async def _template(server: FastMCP[Any], uri_template: str) -> Any:
    for template in await server.list_resource_templates(run_middleware=False):
        if template.uri_template == uri_template:
            return template
    return None


class _Registry:
    """fastmcp's lookups, as they were before concealing."""

    def __init__(self, server: FastMCP[Any]) -> None:
        self._server = server
        self._get_tool = server.get_tool
        self._get_tool_by_hash = server.get_tool_by_hash
        self._get_prompt = server.get_prompt
        self._get_resource = server.get_resource
        self._lookup_resource = server._lookup_resource
        self._get_resource_template = server.get_resource_template

    async def primitive(self, kind: Kind, component: Any) -> Primitive:
        return Primitive(kind, _key(kind, component), await _declaration(component))

    def primitives(self) -> list[Primitive]:
        """Everything the server lists, mounted servers included. fastmcp only lists asynchronously and
        ``install`` may be called inside an event loop: the listing runs on a private loop in a thread."""
        server = self._server

        async def collect() -> list[Primitive]:
            listed = server.list_tools, server.list_prompts, server.list_resources, server.list_resource_templates
            tools, prompts, resources, templates = [await list_(run_middleware=False) for list_ in listed]
            found = [await self.primitive("tools", t) for t in tools]
            found += [await self.primitive("prompts", p) for p in prompts]
            found += [await self.primitive("resources", r) for r in [*resources, *templates]]
            return found

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastmcp-scopes-install") as pool:
            return pool.submit(asyncio.run, collect()).result()

    async def resolve(self, kind: Kind, target: str, operation: Operation) -> Primitive | None:
        version = _version(operation.params)
        component: Any
        if kind == "tools":
            component = await self._get_tool(target, version=version)
            hashed = parse_hashed_backend_name(target) if component is None else None
            if hashed is not None:
                component = await self._get_tool_by_hash(*hashed)
        elif kind == "prompts":
            component = await self._get_prompt(target, version=version)
        elif operation.method == "completion/complete":  # a ref names a resource or a template by identity
            component = await self._get_resource(target, version=version) or await _template(self._server, target)
        else:  # as read_resource: a concrete resource (a hidden one shadows templates), else a template
            component, exists = await self._lookup_resource(target, version=version)
            if component is None and not exists:
                component = await self._get_resource_template(target, version=version)
        return await self.primitive(kind, component) if component is not None else None

    def conceal(self) -> None:
        """Make fastmcp's own lookups answer "not found" for what the pipeline conceals."""
        server = self._server
        server.get_tool = unless_concealed("tools", self._get_tool)  # type: ignore[method-assign]
        server.get_tool_by_hash = unless_concealed(  # type: ignore[method-assign]
            "tools", self._get_tool_by_hash, target=lambda digest, name: f"__{digest}_{name}"
        )
        server.get_prompt = unless_concealed("prompts", self._get_prompt)  # type: ignore[method-assign]
        server.get_resource = unless_concealed("resources", self._get_resource)  # type: ignore[method-assign]
        server.get_resource_template = unless_concealed(  # type: ignore[method-assign]
            "resources", self._get_resource_template
        )
        server._lookup_resource = unless_concealed(  # type: ignore[method-assign]
            "resources", self._lookup_resource, lambda uri: (None, False)
        )
        # The SDK checks a call's Mcp-Param-* headers against this schema before dispatch.
        server._get_tool_input_schema = unless_concealed(  # type: ignore[method-assign]
            "tools", server._get_tool_input_schema
        )


def _error(error: Mapping[str, Any]) -> MCPError:
    return MCPError(**error)


def _caller() -> Caller | None:
    token = get_access_token()
    return caller_from_token(token) if token is not None else None


def _operation(context: MiddlewareContext[Any]) -> Operation:
    """The operation of a fastmcp middleware context: its message is the request, or (for calls) its params."""
    message = context.message
    params = getattr(message, "params", message) if hasattr(message, "method") else message
    dump = getattr(params, "model_dump", None)
    dumped = dump(by_alias=True, exclude_none=True, mode="json") if dump is not None else params
    fastmcp_context = context.fastmcp_context
    request = fastmcp_context.request_context if fastmcp_context is not None and context.type == "request" else None
    try:
        return Operation.of(context.method or "", dumped, request.request_id if request is not None else None)
    except InvalidOperationError as err:
        raise MCPError(code=err.code, message=err.message) from None


class _Hook(Middleware):
    """The fastmcp ``Middleware`` that has the pipeline decide every request of one ``FastMCP`` server."""

    def __init__(self, pipeline: Pipeline, registry: _Registry) -> None:
        self.pipeline = pipeline
        self.registry = registry

    async def on_message(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        complete = mt.CompleteResult.model_validate  # the SDK below gives it its era's envelope
        return await self.pipeline.run(_operation(context), _caller(), lambda: call_next(context), _error, complete)

    async def _typed(self, context: MiddlewareContext[Any], proceed: Callable[[Decision], Awaitable[Any]]) -> Any:
        """A typed hook: the decision ``on_message`` handed on, or (a call a tool makes on its caller's behalf)
        a new one; "not found" is answered by fastmcp itself, with the target concealed."""
        operation = _operation(context)
        decision = await self.pipeline.decide(operation, _caller())
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
            annotate = not self.pipeline.guard.settings.hide_unauthorized
            return [
                item.model_copy(update={"meta": annotated_meta(own, item.meta)}) if annotate and own else item
                for item, own in self.pipeline.listed(decision, items, lambda item: found[id(item)])
            ]

        result: list[Any] = await self._typed(context, listed)
        return result

    on_list_tools = on_list_prompts = on_list_resources = on_list_resource_templates = _listing


def accepts(server: object) -> bool:
    # fastmcp 3.x has a FastMCP class too, with other internals: it has an adapter of its own.
    return isinstance(server, FastMCP) and fastmcp_package.__version__.split(".")[0] == "4"


def registry(server: Any) -> _Registry:
    return _Registry(server)


def install(guard: ScopeGuard, server: FastMCP[Any]) -> InstallReport:
    """Install ``guard`` on a ``fastmcp.FastMCP`` server. See :meth:`ScopeGuard.install`."""
    if any(isinstance(m, _Hook) for m in server.middleware):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    required = getattr(server.auth, "required_scopes", None)
    if required:
        guard.require_for_every_request(required)
    found = _Registry(server)
    pipeline = Pipeline(guard, found)
    report = pipeline.install_report()
    found.conceal()
    _private_cache_hints(server)
    server.add_middleware(_Hook(pipeline, found))
    server.http_app = _guarded_app(pipeline, server, server.http_app)  # type: ignore[method-assign]
    return report


def _private_cache_hints(server: FastMCP[Any]) -> None:
    """Guarded results vary by token (listings) or by who may see them (reads): never ``public``."""
    hints = server._mcp_server.cache_hints
    for method, rule in METHODS.items():
        hint = hints.get(method)
        if rule.action != "connect" and hint is not None and hint.scope == "public":
            hints[method] = replace(hint, scope="private")


def _guarded_app(pipeline: Pipeline, server: FastMCP[Any], http_app: Callable[..., Any]) -> Callable[..., Any]:
    """``server.http_app`` (an instance attribute: fastmcp's ``run(transport="http")`` calls it), with the
    guard's HTTP layer last in the middleware list: inside the provider's authentication."""

    def guarded_http_app(
        path: str | None = None, middleware: list[ASGIMiddleware] | None = None, **options: Any
    ) -> Any:
        if options.get("transport", "http") == "sse":
            raise ConfigurationError("a guarded fastmcp server serves streamable HTTP; the SSE transport is refused")
        mcp_path = path if path is not None else fastmcp_package.settings.streamable_http_path
        auth = server.auth
        base = (auth.resource_base_url or auth.base_url) if auth is not None else None
        guarded = protect(
            pipeline,
            mcp_path=mcp_path,
            verifier=VerifiedByServer() if auth is not None else None,
            resource_url=f"{str(base).rstrip('/')}/{mcp_path.lstrip('/')}" if base is not None else None,
            authorization_servers=[str(a) for a in getattr(auth, "authorization_servers", None) or []],
            server_hint="give the FastMCP server an auth= provider with a base_url instead",
        )
        ours = ASGIMiddleware(ScopeChallengeMiddleware, **guarded)
        return http_app(path=path, middleware=[*(middleware or []), ours], **options)

    return guarded_http_app
