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

from collections.abc import Mapping
from typing import Any, TypeVar

from fastmcp_scopes.pipeline import InstallReport
from fastmcp_scopes.requirements import Requirement

__all__ = ["META_KEY", "InstallReport", "annotated_meta", "private"]

META_KEY = "io.github.fastmcp-scopes/requires"
"""``_meta`` key carrying a primitive's requirement (alternatives) when everything is listed."""

_R = TypeVar("_R")


def annotated_meta(own: Requirement, meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """A listed primitive's ``_meta`` with its requirement under :data:`META_KEY` (``hide_unauthorized=False``)."""
    return {**(meta or {}), META_KEY: own.to_json()}


def private(result: _R) -> _R:
    """A guarded result varies by token: a cache may reuse it only within the same authorization."""
    if isinstance(result, dict) and result.get("cacheScope", "private") != "private":
        return {**result, "cacheScope": "private"}  # type: ignore[return-value]
    return result
