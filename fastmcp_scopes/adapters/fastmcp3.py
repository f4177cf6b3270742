"""Adapter for standalone fastmcp 3.x, which runs on mcp 1.x.

- **Registry**: fastmcp's own lookups, shared with the 4.x adapter
  (:class:`~fastmcp_scopes.adapters._fastmcp_common.FastMCPRegistry`): the listed name, then the hashed
  ``__<hash>_<name>`` fallback; a URI's concrete resource before any template; mounted servers followed to
  the function that runs. A request names a version in ``_meta["fastmcp"]["version"]``.
- **Hook**: not fastmcp's middleware: 3.x runs it inside mcp 1.x's ``call_tool`` handler, which turns any
  error, a refusal included, into an ``isError`` tool result. The low-level server's handler table is
  wrapped instead (:mod:`~fastmcp_scopes.adapters._lowlevel1`), as for the SDK's own 1.x ``FastMCP``.
- **HTTP**: ``server.http_app()`` (and so ``run(transport="http")``) puts the guard's HTTP layer inside the
  server's own authentication, whose verified token it reads. The legacy SSE transport is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fastmcp as fastmcp_package
from fastmcp import FastMCP
from fastmcp.utilities.versions import VersionSpec

from fastmcp_scopes.adapters._fastmcp_common import FastMCPRegistry, guarded_http_app
from fastmcp_scopes.adapters._lowlevel1 import hook, hooked
from fastmcp_scopes.pipeline import InstallReport, Pipeline
from fastmcp_scopes.policy import ScopeGuard

__all__ = ["DESCRIPTION", "accepts", "install", "registry"]

DESCRIPTION = "fastmcp.FastMCP (fastmcp 3.x)"


def _version(params: Mapping[str, Any] | None) -> VersionSpec | None:
    # As fastmcp 3's handlers read it (server/mixins/mcp_operations.py): request _meta, key "fastmcp".
    meta = (params or {}).get("_meta")
    own = meta.get("fastmcp") if isinstance(meta, Mapping) else None
    version = own.get("version") if isinstance(own, Mapping) else None
    return VersionSpec(eq=str(version)) if version else None


def accepts(server: object) -> bool:
    return isinstance(server, FastMCP) and fastmcp_package.__version__.split(".")[0] == "3"


def registry(server: Any) -> FastMCPRegistry:
    return FastMCPRegistry(server, _version)


def install(guard: ScopeGuard, server: FastMCP[Any]) -> InstallReport:
    """Install ``guard`` on a fastmcp 3.x ``FastMCP`` server. See :meth:`ScopeGuard.install`.

    Raises:
        RuntimeError: a guard is already installed on this server.
    """
    if hooked(server._mcp_server):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    found = registry(server)
    pipeline, report = Pipeline.installed(guard, found, required_scopes=getattr(server.auth, "required_scopes", None))
    hook(server._mcp_server, pipeline, found.identified_all)
    found.conceal()
    server.http_app = guarded_http_app(pipeline, server, server.http_app)  # type: ignore[method-assign]
    return report
