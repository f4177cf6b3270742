"""What the MCP SDK's own high-level servers share across its majors: mcp 1.x ``FastMCP`` and its 2.x
successor ``MCPServer`` keep their primitives in the same three managers and describe authentication with
the same ``AuthSettings``. Written once here, for the ``sdk1`` adapter and any other on this family;
duck-typed, so it imports neither major.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from fastmcp_scopes.concealment import unless_concealed
from fastmcp_scopes.decorators import declaration_of
from fastmcp_scopes.http import ScopeChallengeMiddleware, VerifiedByServer, admit_anonymous, protect
from fastmcp_scopes.operation import Operation
from fastmcp_scopes.pipeline import Pipeline, Primitive
from fastmcp_scopes.settings import Kind

__all__ = ["ManagerRegistry", "guard_app"]


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
            yield Primitive("tools", tool.name, declaration_of(tool.fn), _annotations(tool))
        for prompt in self._prompts.list_prompts():
            yield Primitive("prompts", prompt.name, declaration_of(prompt.fn), _annotations(prompt))
        for resource in self._resources.list_resources():
            fn = getattr(resource, "fn", None) or resource
            yield Primitive("resources", str(resource.uri), declaration_of(fn), _annotations(resource))
        for template in self._resources.list_templates():
            yield Primitive("resources", template.uri_template, declaration_of(template.fn), _annotations(template))

    def identified(self, kind: Kind, key: object) -> Primitive | None:
        """The primitive whose identity is ``key``: a name, a resource's URI, or a template's URI template;
        ``None`` for anything else (fail closed on what cannot be identified)."""
        fn: object | None = None
        found: Any = None
        if not isinstance(key, str):
            return None
        if kind == "tools":
            found = self._get_tool(key)
            fn = found.fn if found is not None else None
        elif kind == "prompts":
            found = self._get_prompt(key)
            fn = found.fn if found is not None else None
        elif (found := self._resources._resources.get(key)) is not None:
            fn = getattr(found, "fn", None) or found
        elif (found := self._resources._templates.get(key)) is not None:
            fn = found.fn
        return Primitive(kind, key, declaration_of(fn), _annotations(found)) if fn is not None else None

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
                return Primitive(kind, template.uri_template, declaration_of(template.fn), _annotations(template))
        return None

    def conceal(self, not_found: Callable[[str], Any]) -> None:
        """Make the server's own lookups answer "not found" for what the pipeline conceals; ``not_found(uri)``
        raises what the server's resource manager raises for a URI it does not have."""
        self._tools.get_tool = unless_concealed("tools", self._get_tool)
        self._prompts.get_prompt = unless_concealed("prompts", self._get_prompt)
        self._resources.get_resource = unless_concealed("resources", self._resources.get_resource, not_found)


def _annotations(primitive: object) -> object:
    """The primitive's annotations (a tool's ``ToolAnnotations``, a resource's ``Annotations``), for the policy hook."""
    return getattr(primitive, "annotations", None)


def guard_app(pipeline: Pipeline, server: Any, app: Starlette, mcp_path: str) -> Starlette:
    """The server's own streamable-HTTP ``app`` with the guard's HTTP layer in it. A server that verifies
    tokens itself keeps doing so, with its resource validation and ``required_scopes`` (which joined the
    connect layer at install): the guard sits inside the SDK's authentication middleware, before its routes'
    ``RequireAuthMiddleware``, and reads its result, so each token is verified once. Without one, the guard
    verifies tokens from ``FASTMCP_SCOPES_*``. Configuration problems surface here, when the app is built.

    Raises:
        ConfigurationError: nothing to verify tokens with, or no canonical server URL.
    """
    auth = server.settings.auth
    guarded = protect(
        pipeline,
        mcp_path=mcp_path,
        verifier=VerifiedByServer() if server._token_verifier is not None and auth is not None else None,
        resource_url=str(auth.resource_server_url) if auth and auth.resource_server_url else None,
        authorization_servers=[str(auth.issuer_url)] if auth else [],
        server_hint="give the server token_verifier= and AuthSettings(resource_server_url=...) instead",
    )
    app.user_middleware.append(Middleware(ScopeChallengeMiddleware, **guarded))  # last: innermost
    if pipeline.anonymous:  # something is public: the guard decides requests without a token, not the SDK's auth
        admit_anonymous(app, mcp_path)
    return app
