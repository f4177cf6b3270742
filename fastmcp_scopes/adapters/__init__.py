"""One thin module per server lineage; each depends on the core, never the other way round.

An adapter module says how its server finds and hooks its primitives, and nothing else: a registry
(:class:`fastmcp_scopes.pipeline.Registry`), the hooks that hand listings and calls to the
:class:`~fastmcp_scopes.pipeline.Pipeline`, and the HTTP guard around the server's own app. It makes
itself known to :meth:`ScopeGuard.install <fastmcp_scopes.policy.ScopeGuard.install>` through the
``fastmcp_scopes.adapters`` entry-point group, with ``DESCRIPTION``, ``accepts(server)``,
``registry(server)`` and ``install(guard, server)``.

What the adapters share lives here, framework-free: the ``_meta`` annotation of a listing that shows
everything, and the cache hint of a guarded result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastmcp_scopes.pipeline import InstallReport
from fastmcp_scopes.policy import ScopeGuard
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind

__all__ = ["META_KEY", "SECURITY_SCHEMES_KEY", "Annotate", "InstallReport", "annotator", "private", "security_schemes"]

META_KEY = "io.github.fastmcp-scopes/requires"
"""``_meta`` key carrying a primitive's own requirement (alternatives) when everything is listed."""

SECURITY_SCHEMES_KEY = "securitySchemes"
"""``_meta`` key carrying a listed tool's security schemes, in the shape of the MCP draft for per-tool security
schemes (SEP-1488: ``[{"type": "oauth2", "scopes": [...]}]``, any one scheme will do; ``{"type": "noauth"}`` for a
public tool, callable without a token). The draft puts the field on
the tool itself; mcp 2.x drops members its ``Tool`` model does not know, on the server and in the client, so it
travels in ``_meta``, where the draft's authors (the OpenAI Apps SDK) read it too."""

_R = TypeVar("_R")


def security_schemes(guard: ScopeGuard, kind: Kind, own: Requirement, public: bool = False) -> list[dict[str, Any]]:
    """The security schemes of a primitive whose own requirement is ``own``: one ``oauth2`` scheme per alternative,
    naming every scope a client asks for to call it (the connect and call layers too, less what the hierarchy
    implies: :meth:`ScopeGuard.scopes_to_call`), so that it can ask for them before calling. A ``public`` one
    (:mod:`fastmcp_scopes.anonymous`) is ``noauth`` first: callable without a token, and with one under the layers."""
    schemes: list[dict[str, Any]] = [{"type": "oauth2", "scopes": list(s)} for s in guard.scopes_to_call(kind, own)]
    return [{"type": "noauth"}, *schemes] if public else schemes


Annotate = Callable[[Requirement | None, Mapping[str, Any] | None, bool], dict[str, Any] | None]
"""``annotate(own, meta, public)``: a listed item's ``_meta`` with what lets a client plan, or ``None`` to list it
as it is; ``public``: the item is callable without a token."""


def annotator(guard: ScopeGuard, kind: Kind) -> Annotate | None:
    """How a listing of ``kind`` annotates its items, or ``None`` when it does not (``hide_unauthorized=true``,
    the default: what is listed is callable as it is). Otherwise each item's ``_meta`` gains its own requirement
    under :data:`META_KEY` (when it declares one) and, for a tool, its :func:`security_schemes` under
    :data:`SECURITY_SCHEMES_KEY` (an undeclared tool's are the layers'), so that a client can plan its step-up."""
    if guard.settings.hide_unauthorized:
        return None

    def annotate(own: Requirement | None, meta: Mapping[str, Any] | None, public: bool) -> dict[str, Any] | None:
        if own is None and kind != "tools":
            return None
        annotated = {**(meta or {})}
        if own is not None:
            annotated[META_KEY] = own.to_json()
        if kind == "tools":  # the draft describes tools; prompts and resources have no such field
            annotated[SECURITY_SCHEMES_KEY] = security_schemes(guard, kind, own or Requirement.none(), public)
        return annotated

    return annotate


def private(result: _R) -> _R:
    """A guarded result varies by token: a cache may reuse it only within the same authorization."""
    if isinstance(result, dict) and result.get("cacheScope", "private") != "private":
        return {**result, "cacheScope": "private"}  # type: ignore[return-value]
    return result
