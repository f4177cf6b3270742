"""The server lineages the contract suite runs on, one ``ServerKind`` each.

Adding a lineage is one entry in :data:`CANDIDATES`: how to tell whether the running environment has it,
how to build a server, and what it can do (completion, mounting, hashed app tools, subscriptions).
Primitives are registered with the lineage's own ``tool()``, ``resource(uri)`` and ``prompt()`` decorators,
which every supported lineage spells the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import jwt

from fastmcp_scopes.testing import DevAuthorizationServer


def _major(distribution: str) -> int | None:
    try:
        return int(metadata.version(distribution).split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class ServerKind:
    """One lineage of MCP server, as a user of it writes servers."""

    name: str
    available: Callable[[], bool]
    """Whether the running environment has this lineage (import and version check, no side effects)."""
    new: Callable[[str], Any]
    """A fresh server named so."""
    http_app: Callable[[Any, bool, bool], Any]
    """``(server, json_response, stateless_http)`` -> the server's own streamable-HTTP ASGI app at ``/mcp``."""
    add_completion: Callable[[Any, Callable[..., Any]], None] | None
    """Register ``handler(ref, argument, context)`` as the server's ``completion/complete`` handler; ``None``
    if the lineage has no way to (fastmcp 3)."""
    catch_all_template: str
    """A template matching every ``files://`` URI, slashes included, in this lineage's syntax."""
    mount: Callable[[Any, Any, str], None] | None = None
    """``(parent, child, namespace)``: mount ``child`` under ``namespace``; ``None`` if the lineage cannot."""
    app_provider: Callable[[str], Any] | None = None
    """A provider of app tools callable by a hashed name (fastmcp's ``FastMCPApp``); ``None`` if absent."""
    add_provider: Callable[[Any, Any], None] | None = None
    hashed_name: Callable[[str, str], str] | None = None
    """``(app name, tool name)`` -> the hashed name the lineage's dispatcher also accepts."""
    in_process_target: Callable[[Any], Any] = lambda server: server
    """What the SDK's ``mcp.Client`` connects to in-process for this server."""
    new_with_cache_hint: Callable[[str], Any] | None = None
    """A fresh server whose listings and reads carry a public cache hint of 60 s, as its users set one."""
    tool_versions: bool = False
    """Whether tools take ``version=`` and a call picks one with ``_meta: {"fastmcp": {"version": ...}}``."""
    modern_era: bool = True
    """Whether the lineage speaks the 2026-07-28 per-request protocol era (``Mcp-Method``, ``Mcp-Param-*``)."""
    serves_listen: bool = False
    """Whether the server answers ``subscriptions/listen`` (2026-07-28) out of the box."""
    with_own_auth: Callable[[DevAuthorizationServer, str], Any] | None = None
    """``(authorization server, base URL)`` -> a server that verifies tokens itself, checks they were issued
    for ``<base>/mcp`` and requires the scope ``needed`` of every caller, as this lineage's users configure it."""


# -- mcp 2.x MCPServer -----------------------------------------------------------------------------


def _mcpserver_available() -> bool:
    return (_major("mcp") or 0) >= 2


def _mcpserver_new(name: str) -> Any:
    from mcp.server.mcpserver import MCPServer

    return MCPServer(name)


def _mcpserver_with_cache_hint(name: str) -> Any:
    from mcp.server.caching import CacheHint
    from mcp.server.mcpserver import MCPServer

    public = CacheHint(ttl_ms=60_000, scope="public")
    methods = ("tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read")
    return MCPServer(name, cache_hints=dict.fromkeys(methods, public))


def _sdk_http_app(server: Any, json_response: bool, stateless_http: bool) -> Any:
    return server.streamable_http_app(json_response=json_response, stateless_http=stateless_http)


def _decorator_completion(server: Any, handler: Callable[..., Any]) -> None:
    server.completion()(handler)


class DevTokenVerifier:
    """A user's own ``TokenVerifier`` for the development server's JWTs: it checks signature, issuer and
    expiry, and leaves the audience to the SDK by reporting it as the token's RFC 8707 resource."""

    def __init__(self, auth: DevAuthorizationServer, url: str) -> None:
        self.key = auth.signing_key.public_pem()
        self.issuer = auth.issuer
        self.url = url

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        try:
            claims = jwt.decode(
                token, self.key, algorithms=["RS256"], issuer=self.issuer, options={"verify_aud": False}
            )
        except jwt.PyJWTError:
            return None
        audience = claims.get("aud")
        resource = audience if isinstance(audience, str) else (self.url if self.url in audience else audience[0])
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=claims["scope"].split(),
            expires_at=claims["exp"],
            resource=resource,
            subject=claims.get("sub"),
            claims=claims,
        )


def _mcpserver_with_auth(auth: DevAuthorizationServer, base: str) -> Any:
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    url = f"{base}/mcp"
    settings = AuthSettings(
        issuer_url=auth.issuer, resource_server_url=url, validate_token_resource=True, required_scopes=["needed"]
    )
    return MCPServer("own-auth", token_verifier=DevTokenVerifier(auth, url), auth=settings)


def _fastmcp_with_auth(auth: DevAuthorizationServer, base: str) -> Any:
    from fastmcp import FastMCP
    from fastmcp.server.auth.providers.jwt import JWTVerifier

    verifier = JWTVerifier(
        jwks_uri=auth.jwks_uri,
        issuer=auth.issuer,
        audience=f"{base}/mcp",
        base_url=base,
        required_scopes=["needed"],
    )
    return FastMCP("own-auth", auth=verifier)


# -- mcp 1.x FastMCP -------------------------------------------------------------------------------


def _sdk1_available() -> bool:
    return _major("mcp") == 1


def _sdk1_new(name: str) -> Any:
    from mcp.server.fastmcp import FastMCP  # type: ignore[import-not-found,unused-ignore]

    return FastMCP(name)


def _sdk1_http_app(server: Any, json_response: bool, stateless_http: bool) -> Any:
    # mcp 1.x takes these as settings, not arguments.
    server.settings.json_response = json_response
    server.settings.stateless_http = stateless_http
    return server.streamable_http_app()


# -- fastmcp 3.x and 4.x ---------------------------------------------------------------------------


def _fastmcp_new(name: str) -> Any:
    from fastmcp import FastMCP

    return FastMCP(name)


def _fastmcp_with_cache_hint(name: str) -> Any:
    from fastmcp import FastMCP

    return FastMCP(name, cache_ttl=60, cache_scope="public")


def _lowlevel(server: Any) -> Any:
    return server._mcp_server  # the SDK's low-level server under it, which mcp.Client drives in-process


def _fastmcp_http_app(server: Any, json_response: bool, stateless_http: bool) -> Any:
    return server.http_app(path="/mcp", json_response=json_response, stateless_http=stateless_http)


def _fastmcp_mount(parent: Any, child: Any, namespace: str) -> None:
    parent.mount(child, namespace=namespace)


def _fastmcp_app(name: str) -> Any:
    from fastmcp import FastMCPApp

    return FastMCPApp(name)


def _fastmcp_add_provider(server: Any, provider: Any) -> None:
    server.add_provider(provider)


def _fastmcp_hashed_name(app: str, tool: str) -> str:
    # fastmcp's dispatcher falls back to this name when the listed one is unknown (tools/call in
    # fastmcp/server/server.py: parse_hashed_backend_name, then get_tool_by_hash).
    from fastmcp.server.providers.addressing import hashed_backend_name

    return hashed_backend_name(app, tool)


CANDIDATES = [
    ServerKind(
        name="mcpserver",
        available=_mcpserver_available,
        new=_mcpserver_new,
        http_app=_sdk_http_app,
        add_completion=_decorator_completion,
        catch_all_template="files://{+path}",
        serves_listen=True,
        new_with_cache_hint=_mcpserver_with_cache_hint,
        with_own_auth=_mcpserver_with_auth,
    ),
    ServerKind(
        name="sdk1",
        available=_sdk1_available,
        new=_sdk1_new,
        http_app=_sdk1_http_app,
        add_completion=_decorator_completion,
        catch_all_template="files://{path}",  # mcp 1.x: a parameter matches one path segment, no more
        in_process_target=_lowlevel,
        modern_era=False,
    ),
    ServerKind(
        name="fastmcp3",
        available=lambda: _major("fastmcp") == 3,
        new=_fastmcp_new,
        http_app=_fastmcp_http_app,
        add_completion=None,  # fastmcp 3 serves no completion/complete
        catch_all_template="files://{path*}",
        mount=_fastmcp_mount,
        in_process_target=_lowlevel,  # and its tools take no cache_ttl/cache_scope: no new_with_cache_hint
        tool_versions=True,
        modern_era=False,  # fastmcp 3 runs on mcp 1.x
        with_own_auth=_fastmcp_with_auth,
    ),
    ServerKind(
        name="fastmcp4",
        available=lambda: _major("fastmcp") == 4,
        new=_fastmcp_new,
        http_app=_fastmcp_http_app,
        add_completion=_decorator_completion,
        catch_all_template="files://{path*}",
        mount=_fastmcp_mount,
        in_process_target=_lowlevel,
        new_with_cache_hint=_fastmcp_with_cache_hint,
        tool_versions=True,
        app_provider=_fastmcp_app,
        add_provider=_fastmcp_add_provider,
        hashed_name=_fastmcp_hashed_name,
        with_own_auth=_fastmcp_with_auth,
    ),
]


KINDS = [kind for kind in CANDIDATES if kind.available()]
"""The lineages this environment has: the contract suite runs on each."""
