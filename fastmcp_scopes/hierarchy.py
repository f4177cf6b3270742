"""Scope implications and wildcards, applied to granted scopes before every decision.

The MCP authorization spec (2026-07-28) says servers MUST honour scope hierarchies: a token holding
``employees:write`` may also stand for ``employees:read`` when the operator says so. Implications are
transitive. A target ending in ``*`` is a wildcard: ``"admin": ["*"]`` grants everything,
``"files:admin": ["files:*"]`` grants every ``files:`` scope.

A wildcard that arrives *on a token* (a literal ``files:*`` scope) is honoured only when listed in
``wildcards``: an authorization server that lets clients request arbitrary strings must not be
able to mint god tokens by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError

__all__ = ["GrantedScopes", "ScopeHierarchy"]


@dataclass(frozen=True, slots=True)
class GrantedScopes:
    """What a caller holds after expansion: explicit scopes plus wildcard prefixes.

    Supports ``scope in granted``, so it can be handed to every
    :class:`~fastmcp_scopes.requirements.Requirement` question.
    """

    token_scopes: frozenset[str]
    """Exactly what the token carried (what a challenge may union with)."""
    scopes: frozenset[str]
    """``token_scopes`` closed under the configured implications."""
    prefixes: tuple[str, ...] = ()
    """Wildcard prefixes in force; ``""`` means every scope."""

    def __contains__(self, scope: object) -> bool:
        if scope in self.scopes:
            return True
        return isinstance(scope, str) and any(scope.startswith(p) for p in self.prefixes)


def _wildcard_prefix(pattern: str) -> str | None:
    return pattern[:-1] if pattern.endswith("*") else None


@dataclass(frozen=True)
class ScopeHierarchy:
    """Configured implications (``{"employees:write": ["employees:read"], "admin": ["*"]}``) and the
    token-borne wildcard patterns to honour (``["files:*"]``).

    Raises :class:`~fastmcp_scopes.errors.InvalidScopeError` for a bad scope token and
    :class:`~fastmcp_scopes.errors.ConfigurationError` for a wildcard pattern that does not end in ``*``.
    """

    implications: Mapping[str, Iterable[str]] = field(default_factory=dict)
    wildcards: Iterable[str] = ()
    _closure: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    _token_wildcards: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        edges: dict[str, frozenset[str]] = {}
        for source, targets in self.implications.items():
            where = f"the scope hierarchy entry {source!r}"
            validate_scope_token(source, where="the scope hierarchy")
            if isinstance(targets, str):
                raise ConfigurationError(f"{where} must map to a list of scopes, not the string {targets!r}")
            edges[source] = frozenset(validate_scope_token(t, where=where) for t in targets)
        closure: dict[str, frozenset[str]] = {}
        for source in edges:
            seen: set[str] = set()
            stack = [source]
            while stack:
                for target in edges.get(stack.pop(), ()):
                    if target not in seen:
                        seen.add(target)
                        stack.append(target)
            closure[source] = frozenset(seen)
        wildcards = frozenset(validate_scope_token(w, where="the wildcard scopes") for w in self.wildcards)
        for pattern in wildcards:
            if _wildcard_prefix(pattern) is None:
                raise ConfigurationError(f"wildcard scope {pattern!r} must end in '*' (for example 'files:*')")
        object.__setattr__(self, "_closure", closure)
        object.__setattr__(self, "_token_wildcards", wildcards)

    def implies(self, scope: str, other: str) -> bool:
        """Whether holding ``scope`` grants ``other`` through the configured implications."""
        implied = self._closure.get(scope, frozenset())
        if other in implied:
            return True
        return any(other.startswith(p) for p in (_wildcard_prefix(s) for s in implied) if p is not None)

    def reduce(self, scopes: Iterable[str]) -> frozenset[str]:
        """Drop every scope that another scope of the set implies: the smallest set to ask for.

        With ``employees:write → employees:read``, ``{employees:read, employees:write}`` reduces to
        ``{employees:write}``. Of scopes that imply each other, the one sorting last is kept.
        """
        kept = set(scopes)
        for scope in sorted(kept):
            if any(other != scope and self.implies(other, scope) for other in kept):
                kept.discard(scope)
        return frozenset(kept)

    def expand(self, token_scopes: Iterable[str]) -> GrantedScopes:
        """Close ``token_scopes`` under the implications and collect the wildcards in force."""
        held = frozenset(token_scopes)
        implied: set[str] = set()
        for scope in held:
            implied |= self._closure.get(scope, frozenset())
        prefixes: list[str] = []
        for scope in held | implied:
            prefix = _wildcard_prefix(scope)
            # Implied wildcards were configured by the operator; token-borne ones need opt-in.
            if prefix is not None and (scope in implied or scope in self._token_wildcards):
                prefixes.append(prefix)
        scopes = held | implied
        return GrantedScopes(token_scopes=held, scopes=scopes, prefixes=tuple(sorted(prefixes)))
