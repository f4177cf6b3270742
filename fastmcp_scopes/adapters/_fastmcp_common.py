"""What standalone fastmcp's 3.x and 4.x lines share: finding a component as fastmcp finds it (the listed
name, then the hashed ``__<hash>_<name>`` fallback; a URI's concrete resource before any template; mounted
servers followed to the function that runs), concealing it from fastmcp's own lookups, and the guarded
``http_app``. Only how a request names a component's version differs between the lines (``version_of``).

Both lines import these fastmcp names alike; nothing here imports ``mcp_types`` (2.x only) or fastmcp 4's
newer helpers, so the ``fastmcp3`` adapter can use it beside mcp 1.x.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fastmcp as fastmcp_package
from fastmcp import FastMCP
from fastmcp.server.providers.addressing import parse_hashed_backend_name
from starlette.middleware import Middleware as ASGIMiddleware

from fastmcp_scopes.concealment import unless_concealed
from fastmcp_scopes.decorators import ScopeDeclaration, declaration_of
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.http import ScopeChallengeMiddleware, VerifiedByServer, admit_anonymous, protect
from fastmcp_scopes.operation import Operation
from fastmcp_scopes.pipeline import Pipeline, Primitive
from fastmcp_scopes.settings import Kind

__all__ = ["FastMCPRegistry", "VersionOf", "guarded_http_app"]

VersionOf = Callable[[Mapping[str, Any] | None], Any]
"""The version a request's params ask for (fastmcp's ``VersionSpec``), or ``None`` for the highest."""


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


class FastMCPRegistry:
    """fastmcp's lookups, as they were before :meth:`conceal`."""

    def __init__(self, server: FastMCP[Any], version_of: VersionOf) -> None:
        self._server = server
        self._version_of = version_of
        self._get_tool = server.get_tool
        self._get_tool_by_hash = server.get_tool_by_hash
        self._get_prompt = server.get_prompt
        self._get_resource = server.get_resource
        self._lookup_resource = server._lookup_resource
        self._get_resource_template = server.get_resource_template

    async def primitive(self, kind: Kind, component: Any) -> Primitive:
        return Primitive(
            kind, _key(kind, component), await _declaration(component), getattr(component, "annotations", None)
        )

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

    async def identified(self, kind: Kind, key: str) -> Primitive | None:
        """The primitive a listing names ``key``: a name, a resource's URI, or a template's URI template."""
        component: Any
        if kind == "tools":
            component = await self._get_tool(key)
        elif kind == "prompts":
            component = await self._get_prompt(key)
        else:
            component = await self._get_resource(key) or await _template(self._server, key)
        return await self.primitive(kind, component) if component is not None else None

    async def identified_all(self, kind: Kind, keys: Sequence[str]) -> dict[str, Primitive | None]:
        """:meth:`identified` for every key of a listing, from one listing of the server's own: a lookup per key
        goes through fastmcp's transforms and visibility each time. A key several versions share is looked up
        alone, so that it is the version fastmcp's lookup gives."""
        server = self._server
        listed: list[Any]
        if kind == "tools":
            listed = list(await server.list_tools(run_middleware=False))
        elif kind == "prompts":
            listed = list(await server.list_prompts(run_middleware=False))
        else:
            listed = [*await server.list_resources(run_middleware=False)]
            listed += await server.list_resource_templates(run_middleware=False)
        by_key: dict[str, list[Any]] = {}
        for component in listed:
            by_key.setdefault(_key(kind, component), []).append(component)
        found: dict[str, Primitive | None] = {}
        for key in keys:
            components = by_key.get(key, [])
            one = len(components) == 1
            found[key] = await self.primitive(kind, components[0]) if one else await self.identified(kind, key)
        return found

    async def resolve(self, kind: Kind, target: str, operation: Operation) -> Primitive | None:
        version = self._version_of(operation.params)
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
        server: Any = self._server
        server.get_tool = unless_concealed("tools", self._get_tool)
        server.get_tool_by_hash = unless_concealed(
            "tools", self._get_tool_by_hash, target=lambda digest, name: f"__{digest}_{name}"
        )
        server.get_prompt = unless_concealed("prompts", self._get_prompt)
        server.get_resource = unless_concealed("resources", self._get_resource)
        server.get_resource_template = unless_concealed("resources", self._get_resource_template)
        server._lookup_resource = unless_concealed("resources", self._lookup_resource, lambda uri: (None, False))
        if hasattr(server, "_get_tool_input_schema"):  # 4.x: the SDK checks Mcp-Param-* headers against it
            server._get_tool_input_schema = unless_concealed("tools", server._get_tool_input_schema)


def guarded_http_app(pipeline: Pipeline, server: FastMCP[Any], http_app: Callable[..., Any]) -> Callable[..., Any]:
    """``server.http_app`` (an instance attribute: fastmcp's ``run(transport="http")`` calls it), with the
    guard's HTTP layer last in the middleware list: inside the provider's authentication."""

    def guarded(path: str | None = None, middleware: list[ASGIMiddleware] | None = None, **options: Any) -> Any:
        if options.get("transport", "http") == "sse":
            raise ConfigurationError("a guarded fastmcp server serves streamable HTTP; the SSE transport is refused")
        mcp_path = path if path is not None else fastmcp_package.settings.streamable_http_path
        auth = server.auth
        base = (auth.resource_base_url or auth.base_url) if auth is not None else None
        options_ = protect(
            pipeline,
            mcp_path=mcp_path,
            verifier=VerifiedByServer() if auth is not None else None,
            resource_url=f"{str(base).rstrip('/')}/{mcp_path.lstrip('/')}" if base is not None else None,
            authorization_servers=[str(a) for a in getattr(auth, "authorization_servers", None) or []],
            server_hint="give the FastMCP server an auth= provider with a base_url instead",
        )
        ours = ASGIMiddleware(ScopeChallengeMiddleware, **options_)
        app = http_app(path=path, middleware=[*(middleware or []), ours], **options)
        if pipeline.anonymous:  # something is public: the guard decides requests without a token, not the provider
            admit_anonymous(app, mcp_path)
        return app

    return guarded
