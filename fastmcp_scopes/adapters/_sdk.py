"""What the MCP SDK's own high-level servers share across its majors: mcp 1.x ``FastMCP`` and its 2.x
successor ``MCPServer`` keep their primitives in the same three managers and describe authentication with
the same ``AuthSettings``. Written once here, for the ``sdk1`` adapter and any other on this family;
duck-typed, so it imports neither major.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette

from fastmcp_scopes.decorators import declaration_of
from fastmcp_scopes.http import ScopeChallengeMiddleware, protect
from fastmcp_scopes.operation import Operation
from fastmcp_scopes.pipeline import Pipeline, Primitive, concealed
from fastmcp_scopes.settings import Kind

__all__ = ["ManagerRegistry", "guarded_app"]


class ManagerRegistry:
    """The server's tool, prompt and resource managers, read as the server reads them (a URI: its concrete
    resource, else the first template in registration order that matches), with their lookups as they were
    before :meth:`conceal`.

    ``unmatchable`` are the errors a template's ``matches`` may raise for a URI the server then refuses
    (2.x: ``ResourceSecurityError``; 1.x: ``re.error``, as it builds a regular expression from the template).
    ``empty_match_dispatches``: whether a match with no parameters (``{}``) counts; 2.x tests ``is not None``,
    1.x tests the dict for truth and passes such a template over.
    """

    def __init__(self, server: Any, unmatchable: tuple[type[Exception], ...], *, empty_match_dispatches: bool) -> None:
        self._tools = server._tool_manager
        self._prompts = server._prompt_manager
        self._resources = server._resource_manager
        self._get_tool = self._tools.get_tool
        self._get_prompt = self._prompts.get_prompt
        self._unmatchable = unmatchable
        self._empty_match_dispatches = empty_match_dispatches

    def primitives(self) -> Iterator[Primitive]:
        for tool in self._tools.list_tools():
            yield Primitive("tools", tool.name, declaration_of(tool.fn))
        for prompt in self._prompts.list_prompts():
            yield Primitive("prompts", prompt.name, declaration_of(prompt.fn))
        for resource in self._resources.list_resources():
            yield Primitive("resources", str(resource.uri), declaration_of(getattr(resource, "fn", None) or resource))
        for template in self._resources.list_templates():
            yield Primitive("resources", template.uri_template, declaration_of(template.fn))

    def identified(self, kind: Kind, key: str) -> Primitive | None:
        """The primitive whose identity is ``key``: a name, a resource's URI, or a template's URI template."""
        fn: object | None = None
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
        if target in self._resources._resources:
            return self.identified(kind, target)
        for template in self._resources._templates.values():
            try:
                matched = template.matches(target)
            except self._unmatchable:
                return None
            if matched or (matched is not None and self._empty_match_dispatches):
                return Primitive(kind, template.uri_template, declaration_of(template.fn))
        return None

    def conceal(self, not_found: Callable[[str], Exception]) -> None:
        """Make the server's own lookups answer "not found" for what the pipeline conceals; ``not_found(uri)``
        is the error the server's resource manager raises for a URI it does not have."""
        get_tool, get_prompt, get_resource = self._get_tool, self._get_prompt, self._resources.get_resource

        def tool(name: str) -> Any:
            return None if concealed("tools", name) else get_tool(name)

        def prompt(name: str) -> Any:
            return None if concealed("prompts", name) else get_prompt(name)

        async def resource(uri: Any, context: Any = None) -> Any:
            if concealed("resources", str(uri)):
                raise not_found(str(uri))
            return await get_resource(uri, context)

        self._tools.get_tool = tool
        self._prompts.get_prompt = prompt
        self._resources.get_resource = resource


def guarded_app(pipeline: Pipeline, server: Any, build: Callable[..., Starlette], mcp_path: str) -> Starlette:
    """``build(...)``, the server's own streamable-HTTP app with its authentication intact (token verifier,
    resource validation, ``required_scopes``, which joined the connect layer at install), wrapped in the
    guard's HTTP layer. Configuration problems surface here, when the app is built, not per request.

    Raises:
        ConfigurationError: nothing to verify tokens with, or no canonical server URL.
    """
    auth = server.settings.auth
    guarded = protect(
        pipeline,
        mcp_path=mcp_path,
        verifier=server._token_verifier,
        resource_url=str(auth.resource_server_url) if auth and auth.resource_server_url else None,
        authorization_servers=[str(auth.issuer_url)] if auth else [],
        resource_indicator=str(auth.resource_server_url) if auth and auth.validate_token_resource else None,
        server_hint="AuthSettings.resource_server_url and token_verifier=",
    )
    app = build()
    app.add_middleware(ScopeChallengeMiddleware, **guarded)
    return app
