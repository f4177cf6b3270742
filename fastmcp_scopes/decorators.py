"""``@requires_scopes`` and ``@public``: declare what a tool, prompt or resource function needs.

The decorator only records a :class:`ScopeDeclaration` on the function and returns the *same*
function, so it works above or below the SDK's ``@mcp.tool()`` / ``@mcp.resource()`` /
``@mcp.prompt()`` (which register the function object itself). Stacked decorators AND together.
Scope tokens are validated here, at decoration time, so a typo stops the import, not a request.

``@public`` records that a primitive needs no token at all (MCP Apps' per-tool authorization: public tools work
without a token, the OAuth flow starts when a protected one is called). It is a declaration like any other, so it
cannot be stacked with ``@requires_scopes``: a primitive is public or it needs scopes, never both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.requirements import Requirement

__all__ = [
    "DECLARATION_ATTRIBUTE",
    "GraphQLOperation",
    "PerCallRequirement",
    "ScopeDeclaration",
    "declaration_of",
    "public",
    "requires_scopes",
]

DECLARATION_ATTRIBUTE = "__fastmcp_scopes__"

_F = TypeVar("_F", bound=Callable[..., Any])

PerCallRequirement = Callable[[Mapping[str, Any]], Requirement]
"""Computes a call's requirement from its arguments; raises ``ConfigurationError`` for arguments from
which none can be computed (the call is then refused as invalid, never allowed)."""


@dataclass(frozen=True, slots=True)
class GraphQLOperation:
    """A GraphQL operation whose requirement is derived from the schema when the guard is installed."""

    source: str
    """The operation text, or a path to a ``.graphql`` file."""
    operation_name: str | None = None

    def document(self) -> str:
        """The operation text (reading the file when ``source`` names one)."""
        if "{" not in self.source and self.source.strip().endswith((".graphql", ".gql")):
            path = Path(self.source)
            try:
                return path.read_text(encoding="utf-8")
            except OSError as err:
                raise ConfigurationError(f"cannot read GraphQL operation file {self.source!r}: {err}") from err
        return self.source


@dataclass(frozen=True, slots=True)
class ScopeDeclaration:
    """What ``@requires_scopes`` recorded: static scopes ANDed with any GraphQL-derived ones."""

    requirement: Requirement
    graphql: tuple[GraphQLOperation, ...] = ()
    per_call: tuple[PerCallRequirement, ...] = ()
    """Requirements computed from each call's arguments (``execute_graphql``), ANDed with the rest."""
    public: bool = False
    """``@public``: callable without a token (an empty requirement, which nothing else may join)."""

    def merge(self, other: ScopeDeclaration, *, where: str | None = None) -> ScopeDeclaration:
        """AND two declarations (stacked decorators). Each GraphQL operation is kept once.

        Raises:
            ConfigurationError: one is ``@public`` and the other declares scopes (public means no scope).
        """
        if self.public or other.public:
            if self.public and other.public:
                return self
            raise ConfigurationError(
                f"{where or 'a primitive'} is declared @public and with @requires_scopes: a public primitive "
                "needs no token, so it cannot need scopes; remove one of the two"
            )
        operations = tuple(dict.fromkeys(self.graphql + other.graphql))
        per_call = tuple(dict.fromkeys(self.per_call + other.per_call))
        return ScopeDeclaration(self.requirement.combine(other.requirement, where=where), operations, per_call)


def _recorded_on(fn: object) -> ScopeDeclaration | None:
    declaration = getattr(fn, DECLARATION_ATTRIBUTE, None)
    return declaration if isinstance(declaration, ScopeDeclaration) else None


def declaration_of(fn: object) -> ScopeDeclaration | None:
    """The declaration recorded on ``fn`` or on any function it wraps (``__wrapped__``), ANDed;
    ``None`` when none of them was decorated.

    The SDK registers prompts and resources as ``pydantic.validate_call(fn)``, a wrapper that copies
    ``fn.__dict__`` once, when it is made. A ``@requires_scopes`` written *above* ``@mcp.prompt()`` or
    ``@mcp.resource()`` runs after that copy, so its declaration lives only on ``fn``, behind
    ``__wrapped__``; reading the wrapper alone would find nothing and treat the primitive as
    undeclared. Each object along the chain holds a stage of the same AND (or a copy of one), so ANDing
    them gives the full requirement.
    """
    found: list[ScopeDeclaration] = []
    seen: set[int] = set()
    current: object | None = fn
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        declaration = _recorded_on(current)
        if declaration is not None and declaration not in found:
            found.append(declaration)
        current = getattr(current, "__wrapped__", None)
    if not found:
        return None
    result = found[0]
    for declaration in found[1:]:
        result = result.merge(declaration)
    return result


def requires_scopes(
    *scopes: str,
    any_of: Iterable[Iterable[str]] | None = None,
    graphql: str | None = None,
    operation_name: str | None = None,
    per_call: PerCallRequirement | None = None,
) -> Callable[[_F], _F]:
    """Declare the OAuth scopes a tool, prompt or resource needs.

    - ``@requires_scopes("a", "b")``: both ``a`` and ``b``;
    - ``@requires_scopes(any_of=[["a", "b"], ["admin"]])``: ``a`` and ``b``, or ``admin``
      (list your preferred alternative first: challenges name the closest one, ties to the first);
    - ``@requires_scopes(graphql="query Q { ... }")`` or ``graphql="ops/q.graphql"``: derived from the
      schema's ``@requiresScopes`` directives when the guard is installed.

    - ``@requires_scopes(per_call=fn)``: ``fn(arguments) -> Requirement`` is asked on every call,
      before the handler runs (an ad-hoc GraphQL operation's scopes depend on its text). Listings,
      which have no arguments, use the static part only.

    Positional scopes, ``any_of``, ``graphql`` and ``per_call`` AND together, as do stacked decorators.

    Raises:
        InvalidScopeError: a scope token outside RFC 6749 §3.3 (names the function and the token).
        ConfigurationError: ``any_of`` empty or not a list of lists; nothing declared at all.
    """
    if not scopes and any_of is None and graphql is None and per_call is None:
        raise ConfigurationError("requires_scopes() needs scopes, any_of=[[...]], graphql=... or per_call=...")
    if graphql is None and operation_name is not None:
        raise ConfigurationError("requires_scopes(operation_name=...) goes with graphql=...")

    def decorate(fn: _F) -> _F:
        where = getattr(fn, "__qualname__", None) or repr(fn)
        requirement = Requirement.all_of(*scopes, where=where)
        if any_of is not None:
            requirement = requirement.combine(Requirement.any_of(any_of, where=where), where=where)
        operations = (GraphQLOperation(graphql, operation_name),) if graphql is not None else ()
        declaration = ScopeDeclaration(requirement, operations, (per_call,) if per_call is not None else ())
        existing = _recorded_on(fn)
        if existing is not None:
            declaration = existing.merge(declaration, where=where)
        try:
            setattr(fn, DECLARATION_ATTRIBUTE, declaration)
        except (AttributeError, TypeError) as err:
            raise TypeError(f"@requires_scopes cannot annotate {where}: {err}") from err
        return fn

    return decorate


_PUBLIC = ScopeDeclaration(Requirement.none(), public=True)


def public(fn: _F) -> _F:
    """Declare a tool, prompt or resource public: a caller without any token may list and call it, beside
    protected ones whose call answers ``401`` with the scopes it needs (so the client authorizes then).

    A caller *with* a token is decided as for any primitive that needs no scope of its own (the layered
    scopes apply). Public is only ever this explicit choice: without it nothing is reachable without a token.

    Raises:
        ConfigurationError: ``fn`` also carries ``@requires_scopes`` (in either order).
        TypeError: ``fn`` cannot carry an attribute.
    """
    where = getattr(fn, "__qualname__", None) or repr(fn)
    existing = _recorded_on(fn)
    declaration = existing.merge(_PUBLIC, where=where) if existing is not None else _PUBLIC
    try:
        setattr(fn, DECLARATION_ATTRIBUTE, declaration)
    except (AttributeError, TypeError) as err:
        raise TypeError(f"@public cannot annotate {where}: {err}") from err
    return fn
