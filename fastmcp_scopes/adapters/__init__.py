"""One thin module per server framework; each depends on the core, never the other way round.

What every adapter shares lives here, framework-free: the install report, the ``_meta`` key of an
annotated listing, per-call requirements, and the start-up warning about undeclared primitives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastmcp_scopes.decorators import ScopeDeclaration
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind

if TYPE_CHECKING:
    from fastmcp_scopes.policy import ScopeGuard

__all__ = ["META_KEY", "InstallReport", "annotated_meta", "report_undeclared", "with_per_call"]

logger = logging.getLogger("fastmcp_scopes")

META_KEY = "io.github.fastmcp-scopes/requires"
"""``_meta`` key carrying a primitive's requirement (alternatives) when everything is listed."""


@dataclass(frozen=True, slots=True)
class InstallReport:
    """What ``install`` found: primitives without declared scopes, as ``"tools:name"``."""

    undeclared: tuple[str, ...]


def report_undeclared(guard: ScopeGuard, undeclared: Iterable[str]) -> InstallReport:
    """Log the primitives that declare no scopes (and what the policy does with them); the report."""
    names = tuple(undeclared)
    if names:
        policy = "refused" if guard.settings.undeclared == "deny" else "allowed under the layered scopes"
        logger.warning("fastmcp-scopes: no scopes declared for %s (%s)", ", ".join(names), policy)
    return InstallReport(undeclared=names)


def with_per_call(
    guard: ScopeGuard,
    kind: Kind,
    name: str,
    declaration: ScopeDeclaration | None,
    own: Requirement | None,
    arguments: Mapping[str, Any],
) -> Requirement | None:
    """``own`` ANDed with what the declaration computes from one call's arguments.

    Raises:
        ConfigurationError: arguments from which no requirement can be computed.
    """
    if declaration is None or not declaration.per_call or own is None:
        return own
    cap = guard.settings.max_alternatives
    for compute in declaration.per_call:
        own = own.combine(compute(arguments), cap=cap, where=f"{kind[:-1]} {name!r}")
    return own


def annotated_meta(own: Requirement, meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """A listed primitive's ``_meta`` with its requirement under :data:`META_KEY` (``hide_unauthorized=False``)."""
    return {**(meta or {}), META_KEY: own.to_json()}
