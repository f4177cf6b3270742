"""Adapter for the MCP Python SDK 1.x ``FastMCP`` (``from mcp.server.fastmcp import FastMCP``).

- **Registry**: its tool, prompt and resource managers, the same three the 2.x ``MCPServer`` has
  (:class:`~fastmcp_scopes.adapters._sdk.ManagerRegistry`): a URI is its concrete resource, else the first
  template in registration order whose regular expression matches (a parameter is one path segment).
- **Hook**: 1.x has no middleware; the low-level server's handler table is wrapped
  (:mod:`~fastmcp_scopes.adapters._lowlevel1`), so refusals reach the caller as JSON-RPC errors, and the caller
  of a stateful HTTP session is the current request's, not the one that opened the session.
- **HTTP**: ``server.streamable_http_app()`` (and so ``server.run("streamable-http")``) returns the SDK's own app,
  its authentication intact, with :class:`~fastmcp_scopes.http.ScopeChallengeMiddleware` in it.

What 1.x lacks (the 2026-07-28 protocol, its ``Mcp-*`` headers and ``cacheScope``) is in the README's support table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined,unused-ignore]  # 1.x; checked against 2.x

from fastmcp_scopes.adapters._lowlevel1 import hook, hooked
from fastmcp_scopes.adapters._sdk import ManagerRegistry, guard_app
from fastmcp_scopes.pipeline import InstallReport, Pipeline, Primitive
from fastmcp_scopes.policy import ScopeGuard
from fastmcp_scopes.settings import Kind

__all__ = ["DESCRIPTION", "accepts", "install", "registry"]

DESCRIPTION = "mcp.server.fastmcp.FastMCP (MCP SDK 1.x)"


def accepts(server: object) -> bool:
    return isinstance(server, FastMCP)


def registry(server: Any) -> ManagerRegistry:
    # ResourceTemplate.matches compiles the template into a regular expression on every call.
    return ManagerRegistry(server, (re.error,), empty_match_dispatches=False)


def _unknown_resource(uri: str) -> Any:
    raise ValueError(f"Unknown resource: {uri}")


def install(guard: ScopeGuard, server: Any) -> InstallReport:
    """Install ``guard`` on an mcp 1.x ``FastMCP``. See :meth:`ScopeGuard.install`.

    Raises:
        RuntimeError: a guard is already installed on this server.
    """
    if hooked(server._mcp_server):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    found = registry(server)
    auth = server.settings.auth
    pipeline, report = Pipeline.installed(guard, found, required_scopes=auth.required_scopes if auth else None)

    async def identify(kind: Kind, keys: Sequence[str]) -> dict[str, Primitive | None]:
        return {key: found.identified(kind, key) for key in keys}

    hook(server._mcp_server, pipeline, identify)
    # FastMCP.read_resource answers a URI its manager does not have with this error (as code 0).
    found.conceal(_unknown_resource)
    build = server.streamable_http_app

    def streamable_http_app() -> Any:
        return guard_app(pipeline, server, build(), server.settings.streamable_http_path)

    server.streamable_http_app = streamable_http_app  # run("streamable-http") calls the instance attribute
    return report
