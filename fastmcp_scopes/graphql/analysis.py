"""The scope requirement of one GraphQL operation, under Apollo Federation's ``@requiresScopes`` semantics.

What each definition of a document touches is recorded by a graphql-core validation rule
(:mod:`fastmcp_scopes.graphql.requires_scopes`), in the same traversal as validation. :class:`PlanEvaluator`
then expands fragment spreads per operation, and the requirement is the AND of every declaration reached,
computed once at the end (:func:`analysis_of`):

- each selected field's definition, and its return type (lists and non-null unwrapped); for a field of an
  interface, every implementation's definition of it (and the type that returns), as Apollo Router checks;
- a fragment's type condition;
- the object types a selection can run on: the root type, a fragment's type condition, and, for a field
  selected on an interface or union outside a type-specific fragment, *every* possible type;
- ``__typename``, ``__schema`` and ``__type`` touch nothing (the router answers them regardless), so an
  operation selecting only those needs nothing, not even the root type's scopes;
- input types, only when the schema opts in (``input_directives``; the router enforces none): an argument's or
  object field's type where a literal is given, a variable's type together with every input field reachable
  from it (the value is unknown until the call), and input fields given.

Fragment spreads are expanded where they are spread, so the object types a fragment on an interface can run on
are narrowed to those of the selection it is spread in; its fields still need every implementation's
definition, as the router asks. A fragment is expanded once per set of possible types it is spread on, for all
the operations of a document (which also stops cycles).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal

from graphql import FragmentDefinitionNode, OperationDefinitionNode
from graphql.language import Node

from fastmcp_scopes.graphql.directives import ScopeDeclaration
from fastmcp_scopes.graphql.requires_scopes import (
    DefinitionPlan,
    RelativeField,
    ScopePlans,
    Spread,
    narrow,
)
from fastmcp_scopes.graphql.scope_index import ScopeIndex
from fastmcp_scopes.graphql.syntax import OperationSyntax
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = [
    "OperationAnalysis",
    "OperationKind",
    "PlanEvaluator",
    "analysis_from",
    "analysis_of",
    "fragments_of",
]

OperationKind = Literal["query", "mutation", "subscription"]

_AUTHENTICATED = attrgetter("authenticated")


@dataclass(frozen=True, slots=True)
class OperationAnalysis:
    """The scopes one operation needs, and where each comes from.

    - ``requirement``: the minimal AND of every declaration touched (``Requirement.none()`` when none);
    - ``authenticated``: an ``@authenticated`` element is touched, so a valid token is needed even when
      ``requirement`` is empty;
    - ``origins``: for each scope of ``requirement``, the schema coordinates that impose it, in the order
      the operation reaches them (``{"employees:read": ("Query.employees", "type Employee")}``);
    - ``definition``: the operation's AST, for callers that need its variables or text;
    - ``fragments``: the fragment definitions it uses (directly or through other fragments), in the order
      reached: with ``definition``, a document that runs exactly the analysed operation.

    ``definition`` and ``fragments`` come from ``syntax``, which an analysis read from a
    :class:`~fastmcp_scopes.graphql.cache.CatalogueCache` parses only when first asked.
    """

    name: str | None
    kind: OperationKind
    requirement: Requirement
    authenticated: bool
    origins: Mapping[str, tuple[str, ...]] = field(hash=False)
    declarations: tuple[ScopeDeclaration, ...] = ()
    syntax: OperationSyntax | None = field(default=None, compare=False, repr=False)

    @property
    def definition(self) -> OperationDefinitionNode | None:
        """The operation's AST (``None`` for an analysis built without syntax)."""
        return self.syntax.definition if self.syntax is not None else None

    @property
    def fragments(self) -> tuple[FragmentDefinitionNode, ...]:
        """The fragment definitions the operation uses, in the order reached."""
        return self.syntax.fragments if self.syntax is not None else ()

    @property
    def source_name(self) -> str | None:
        """The name of the source (file) the operation was parsed from, when known."""
        return self.syntax.source_name if self.syntax is not None else None

    @property
    def requires_token(self) -> bool:
        """True when a caller needs a valid token: some scope is required, or ``@authenticated`` is touched."""
        return self.authenticated or not self.requirement.is_empty

    @property
    def authenticated_by(self) -> tuple[str, ...]:
        """Coordinates of the ``@authenticated`` elements the operation touches."""
        return tuple(d.coordinate for d in self.declarations if d.authenticated)

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "alternatives", "origins", "authenticated", "authenticated_by"}``; ``alternatives`` is the
        minimal list of scope lists (``[[]]`` when no scope is needed), ``origins`` maps each scope to the
        coordinates imposing it."""
        return {
            "kind": self.kind,
            "alternatives": self.requirement.to_json(),
            "origins": {scope: list(coordinates) for scope, coordinates in sorted(self.origins.items())},
            "authenticated": self.authenticated,
            "authenticated_by": list(self.authenticated_by),
        }


class PlanEvaluator:
    """Expand the plans of one document into each operation's declarations.

    A fragment's expansion is computed once per set of possible types it is spread on and reused by every
    operation of the document (a catalogue merged into one document shares them all). Each declaration
    keeps the place where the operation first reaches it, as if fragments were written out where spread.
    """

    def __init__(self, index: ScopeIndex, plans: ScopePlans) -> None:
        self.index = index
        self.plans = plans
        self._expanded: dict[tuple[str, frozenset[str] | None], _Expansion] = {}
        self._pending: set[tuple[str, frozenset[str] | None]] = set()

    def declarations(self, plan: DefinitionPlan) -> tuple[dict[str, ScopeDeclaration], dict[str, None]]:
        """Declarations of an operation by coordinate, and the fragments it uses, both in the order reached."""
        collected: dict[str, ScopeDeclaration] = {}
        fragments: dict[str, None] = {}
        self._collect(plan, None, collected, fragments)
        return collected, fragments

    def _collect(
        self,
        plan: DefinitionPlan,
        context: frozenset[str] | None,
        collected: dict[str, ScopeDeclaration],
        fragments: dict[str, None],
    ) -> None:
        index = self.index
        for item in plan.items:
            if isinstance(item, ScopeDeclaration):
                collected.setdefault(item.coordinate, item)
                continue
            possible = item.possible
            if item.relative if isinstance(item, Spread) else True:
                possible = narrow(context, possible)
            if isinstance(item, RelativeField):
                for declaration in index.type_contributions(possible):
                    collected.setdefault(declaration.coordinate, declaration)
            else:
                expansion = self._expand(item.name, possible)
                for declaration in expansion.declarations:
                    collected.setdefault(declaration.coordinate, declaration)
                fragments.update(dict.fromkeys(expansion.fragments))

    def _expand(self, name: str, context: frozenset[str]) -> _Expansion:
        key = (name, context)
        found = self._expanded.get(key)
        if found is not None:
            return found
        plan = self.plans.fragments.get(name)
        if plan is None or key in self._pending:
            return _EMPTY  # Unknown fragment or a cycle: validation rejects the document.
        self._pending.add(key)
        collected: dict[str, ScopeDeclaration] = {}
        fragments: dict[str, None] = {name: None}
        self._collect(plan, context, collected, fragments)
        self._pending.discard(key)
        found = _Expansion(tuple(collected.values()), tuple(fragments))
        self._expanded[key] = found
        return found


@dataclass(frozen=True, slots=True)
class _Expansion:
    declarations: tuple[ScopeDeclaration, ...]
    fragments: tuple[str, ...]


_EMPTY = _Expansion((), ())


def analysis_of(
    evaluator: PlanEvaluator, plan: DefinitionPlan, *, cap: int = DEFAULT_MAX_ALTERNATIVES
) -> OperationAnalysis:
    """The :class:`OperationAnalysis` of an operation's plan: the AND of what it touches, combined once.

    Raises :class:`~fastmcp_scopes.errors.RequirementTooComplexError` past ``cap`` alternatives.
    """
    operation = plan.node
    if not isinstance(operation, OperationDefinitionNode):
        raise TypeError("analysis_of() takes an operation's plan")
    collected, used = evaluator.declarations(plan)
    plans = evaluator.plans.fragments
    fragments = tuple(f for f in (plans[n].node for n in used if n in plans) if isinstance(f, FragmentDefinitionNode))
    return analysis_from(
        operation.name.value if operation.name else None,
        operation.operation.value,
        tuple(collected.values()),
        OperationSyntax.parsed(operation, fragments),
        cap=cap,
    )


def analysis_from(
    name: str | None,
    kind: OperationKind,
    declarations: tuple[ScopeDeclaration, ...],
    syntax: OperationSyntax | None,
    *,
    cap: int = DEFAULT_MAX_ALTERNATIVES,
    requirement: Requirement | None = None,
) -> OperationAnalysis:
    """The :class:`OperationAnalysis` of an operation touching ``declarations`` (in the order reached).

    ``requirement``: their combination, when already known (read back from a catalogue cache).
    Raises :class:`~fastmcp_scopes.errors.RequirementTooComplexError` past ``cap`` alternatives.
    """
    if requirement is None:
        requirement = _combined(name, declarations, cap)
    return OperationAnalysis(
        name=name,
        kind=kind,
        requirement=requirement,
        authenticated=any(map(_AUTHENTICATED, declarations)),
        origins=Origins(requirement, declarations),
        declarations=declarations,
        syntax=syntax,
    )


class Origins(Mapping[str, tuple[str, ...]]):
    """For each scope of a requirement, in sorted order, the coordinates of the declarations imposing it, in the
    order reached: worked out on first use (start-up analyses many operations; few are ever asked)."""

    __slots__ = ("_declarations", "_found", "_requirement")

    def __init__(self, requirement: Requirement, declarations: tuple[ScopeDeclaration, ...]) -> None:
        self._requirement = requirement
        self._declarations = declarations
        self._found: dict[str, tuple[str, ...]] | None = None

    def _origins(self) -> dict[str, tuple[str, ...]]:
        if self._found is None:
            origins: dict[str, list[str]] = {scope: [] for scope in sorted(self._requirement.scopes)}
            for declaration in self._declarations:
                for scope in declaration.scopes:
                    if scope in origins:
                        origins[scope].append(declaration.coordinate)
            self._found = {scope: tuple(coordinates) for scope, coordinates in origins.items()}
        return self._found

    def __getitem__(self, scope: str) -> tuple[str, ...]:
        return self._origins()[scope]

    def __iter__(self) -> Iterator[str]:
        return iter(self._origins())

    def __len__(self) -> int:
        return len(self._origins())

    def __repr__(self) -> str:
        return repr(self._origins())


def _combined(name: str | None, declarations: tuple[ScopeDeclaration, ...], cap: int) -> Requirement:
    # Many elements share one declared requirement: combine each distinct one once (AND is idempotent). The
    # requirements of one alternative are a plain union, taken at once; only the others need cross products,
    # in their order (which keeps each alternative where its author put it).
    distinct = dict.fromkeys(d.requirement for d in declarations if not d.requirement.is_empty)
    single: frozenset[str] = frozenset().union(*(r.alternatives[0] for r in distinct if len(r.alternatives) == 1))
    several = [r for r in distinct if len(r.alternatives) > 1]
    return Requirement.combine_all(
        [Requirement((single,)), *several] if single else several,
        cap=cap,
        where=f"operation {name}" if name else "the anonymous operation",
    )


def fragments_of(document: Iterable[Node]) -> dict[str, FragmentDefinitionNode]:
    """The fragment definitions of a document's definitions, by name."""
    return {d.name.value: d for d in document if isinstance(d, FragmentDefinitionNode)}
