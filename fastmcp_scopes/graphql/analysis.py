"""The scope requirement of one GraphQL operation, under Apollo Federation's ``@requiresScopes`` semantics.

The analysis is a graphql-core validation rule, :class:`RequiresScopesRule`, run in the same traversal as
validation (:func:`scope_rule`), so fields are resolved through their schema definitions by graphql-core's
``TypeInfo`` (aliases and fragments cannot hide them) at no second walk of the document. It records what each
definition touches; :class:`PlanEvaluator` then expands fragment spreads per operation, and the requirement is
the AND of every declaration reached, computed once at the end:

- each selected field's definition, and its return type (lists and non-null unwrapped);
- a fragment's type condition;
- the object types a selection can run on: the root type, a fragment's type condition, and, for a field
  selected on an interface or union outside a type-specific fragment, *every* possible type together with
  that type's own definition of the field;
- input types: an argument's or object field's type where a literal is given, a variable's type together
  with every input field reachable from it (the value is unknown until the call), and input fields given.

Fragment spreads are expanded where they are spread, so a fragment on an interface spread inside an
object's selection only counts that object. A fragment is expanded once per set of possible types it is spread
on, for all the operations of a document (which also stops cycles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    ValidationContext,
    ValidationRule,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    visit,
)
from graphql.language import ArgumentNode, FieldNode, Node
from graphql.language.visitor import SKIP, VisitorAction

from fastmcp_scopes.graphql.directives import ScopeDeclaration, ScopeDeclarations
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = [
    "DefinitionPlan",
    "OperationAnalysis",
    "OperationKind",
    "PlanEvaluator",
    "RequiresScopesRule",
    "ScopeIndex",
    "ScopePlans",
    "analysis_of",
    "analyze_operation",
    "collect_plans",
    "scope_rule",
]

OperationKind = Literal["query", "mutation", "subscription"]


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
    """

    name: str | None
    kind: OperationKind
    requirement: Requirement
    authenticated: bool
    origins: Mapping[str, tuple[str, ...]] = field(hash=False)
    declarations: tuple[ScopeDeclaration, ...] = ()
    definition: OperationDefinitionNode | None = field(default=None, compare=False, repr=False)
    fragments: tuple[FragmentDefinitionNode, ...] = field(default=(), compare=False, repr=False)

    @property
    def source_name(self) -> str | None:
        """The name of the source (file) the operation was parsed from, when its AST has locations."""
        loc = self.definition.loc if self.definition is not None else None
        return loc.source.name if loc is not None else None

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


class ScopeIndex:
    """Per-schema lookups the rule needs, cached across operations: possible runtime types of a composite
    type, and the declarations touched by selecting a field on a set of possible types."""

    def __init__(self, schema: GraphQLSchema, declarations: ScopeDeclarations) -> None:
        self.schema = schema
        self.declarations = declarations
        self._possible: dict[str, frozenset[str]] = {}
        self._type_contributions: dict[frozenset[str], tuple[ScopeDeclaration, ...]] = {}
        self._field_contributions: dict[tuple[frozenset[str], str, str], tuple[ScopeDeclaration, ...]] = {}
        self._input_closure: dict[str, tuple[ScopeDeclaration, ...]] = {}
        # Field name -> object types declaring something on a field of that name: lets a field selected
        # on an interface with hundreds of implementations look only at the few that matter.
        self._declared_field_owners: dict[str, frozenset[str]] = {}
        owners: dict[str, set[str]] = {}
        for type_name, field_name in declarations.fields:
            owners.setdefault(field_name, set()).add(type_name)
        self._declared_field_owners = {name: frozenset(types) for name, types in owners.items()}
        self._declared_types = frozenset(declarations.types)

    def possible(self, named_type: GraphQLNamedType | None) -> frozenset[str]:
        """Names of the object types a value of ``named_type`` can be at run time."""
        if named_type is None:
            return frozenset()
        cached = self._possible.get(named_type.name)
        if cached is None:
            if is_abstract_type(named_type):
                members = self.schema.get_possible_types(named_type)
                cached = frozenset(t.name for t in members)
            elif isinstance(named_type, GraphQLObjectType):
                cached = frozenset((named_type.name,))
            else:
                cached = frozenset()
            self._possible[named_type.name] = cached
        return cached

    def type_contributions(self, possible: frozenset[str]) -> tuple[ScopeDeclaration, ...]:
        """Type-level declarations of every object type in ``possible``."""
        cached = self._type_contributions.get(possible)
        if cached is None:
            types = self.declarations.types
            cached = tuple(types[name] for name in sorted(possible & self._declared_types))
            self._type_contributions[possible] = cached
        return cached

    def field_contributions(
        self, possible: frozenset[str], parent: GraphQLNamedType, field_name: str
    ) -> tuple[ScopeDeclaration, ...]:
        """Declarations on ``field_name`` as defined by ``parent`` and by every object type in ``possible``."""
        key = (possible, parent.name, field_name)
        cached = self._field_contributions.get(key)
        if cached is None:
            fields = self.declarations.fields
            found: list[ScopeDeclaration] = []
            own = fields.get((parent.name, field_name))
            if own is not None:
                found.append(own)
            owners = self._declared_field_owners.get(field_name, frozenset())
            found.extend(fields[name, field_name] for name in sorted(possible & owners) if name != parent.name)
            cached = tuple(found)
            self._field_contributions[key] = cached
        return cached

    def input_closure(self, named_type: GraphQLNamedType) -> tuple[ScopeDeclaration, ...]:
        """Declarations on an input type and on every input field and type reachable from it."""
        cached = self._input_closure.get(named_type.name)
        if cached is not None:
            return cached
        found: dict[str, ScopeDeclaration] = {}
        pending = [named_type]
        seen = {named_type.name}
        while pending:
            current = pending.pop()
            declaration = self.declarations.types.get(current.name)
            if declaration is not None:
                found.setdefault(declaration.coordinate, declaration)
            if isinstance(current, GraphQLInputObjectType):
                for field_name, input_field in current.fields.items():
                    declaration = self.declarations.fields.get((current.name, field_name))
                    if declaration is not None:
                        found.setdefault(declaration.coordinate, declaration)
                    field_type = get_named_type(input_field.type)
                    if field_type.name not in seen:
                        seen.add(field_type.name)
                        pending.append(field_type)
        cached = tuple(found.values())
        self._input_closure[named_type.name] = cached
        return cached


@dataclass(frozen=True, slots=True)
class _RelativeField:
    """A field selected in a fragment definition outside any sub-field: the possible types it runs on are those
    where the fragment is spread, narrowed by ``possible`` (the fragment's own type conditions)."""

    possible: frozenset[str]
    parent: GraphQLNamedType
    name: str


@dataclass(frozen=True, slots=True)
class _Spread:
    """A fragment spread: ``possible`` is the set it is spread on, itself narrowed where the fragment is spread
    when ``relative`` (the spread sits in a fragment definition outside any sub-field)."""

    name: str
    possible: frozenset[str]
    relative: bool


_Item = ScopeDeclaration | _RelativeField | _Spread


@dataclass(slots=True)
class DefinitionPlan:
    """What one operation or fragment definition touches, in traversal order: declarations, fields whose
    possible types depend on where their fragment is spread, and fragment spreads (expanded when evaluated)."""

    node: OperationDefinitionNode | FragmentDefinitionNode
    items: list[_Item] = field(default_factory=list)


@dataclass(slots=True)
class ScopePlans:
    """The :class:`DefinitionPlan` of every definition of a document, filled by :class:`RequiresScopesRule`."""

    operations: list[DefinitionPlan] = field(default_factory=list)
    fragments: dict[str, DefinitionPlan] = field(default_factory=dict)


class RequiresScopesRule(ValidationRule):
    """Record what each definition of a document touches into ``plans``: a validation rule, run in the same
    traversal as graphql-core's :data:`~graphql.validation.specified_rules` (see :func:`scope_rule`).

    Each definition is visited once. A fragment's fields directly under its type condition are recorded
    with the possible types they can run on *within* the fragment, to be narrowed where the fragment is spread;
    everything else it touches is independent of where it is spread. :class:`PlanEvaluator` then expands
    spreads per operation. The rule never raises.
    """

    def __init__(self, context: ValidationContext, index: ScopeIndex, plans: ScopePlans) -> None:
        super().__init__(context)
        self.index = index
        self.plans = plans
        self._items: list[_Item] = []
        # Per selection set: the possible types, and whether they are still to be narrowed by a spread's.
        self._frames: list[tuple[frozenset[str], bool]] = []

    def enter_operation_definition(self, *_args: Any) -> None:
        self._items = []
        self._frames = []

    def leave_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        self.plans.operations.append(DefinitionPlan(node, self._items))

    def enter_fragment_definition(self, *_args: Any) -> None:
        self._items = []
        self._frames = []

    def leave_fragment_definition(self, node: FragmentDefinitionNode, *_args: Any) -> None:
        # Two fragments of one name are a validation error; the first is kept meanwhile.
        self.plans.fragments.setdefault(node.name.value, DefinitionPlan(node, self._items))

    def _add_type(self, named_type: GraphQLNamedType | None) -> None:
        if named_type is not None:
            declaration = self.index.declarations.types.get(named_type.name)
            if declaration is not None:
                self._items.append(declaration)

    def enter_selection_set(self, _node: SelectionSetNode, _key: Any, parent: Any, *_args: Any) -> None:
        parent_type = self.context.get_parent_type()
        possible = self.index.possible(parent_type)
        if isinstance(parent, InlineFragmentNode | FragmentDefinitionNode):
            self._add_type(parent_type)  # The type condition itself, which may be an interface with a directive.
        if isinstance(parent, InlineFragmentNode) and self._frames:
            # An inline fragment narrows the enclosing selection's possible types; a field starts afresh
            # from its type. Keep the enclosing set itself when nothing is narrowed: its hash is cached.
            enclosing, relative = self._frames[-1]
            possible = enclosing if possible >= enclosing else possible & enclosing
        else:
            relative = isinstance(parent, FragmentDefinitionNode)
        self._frames.append((possible, relative))

    def leave_selection_set(self, *_args: Any) -> None:
        self._frames.pop()

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        possible, relative = self._frames[-1] if self._frames else (frozenset(), False)
        parent = self.context.get_parent_type()
        field_def = self.context.get_field_def()
        if parent is None or field_def is None:
            return  # Unknown field: validation rejects the document.
        if relative:
            self._items.append(_RelativeField(possible, parent, node.name.value))
        else:
            self._items.extend(self.index.type_contributions(possible))
            self._items.extend(self.index.field_contributions(possible, parent, node.name.value))
        self._add_type(get_named_type(field_def.type))

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        # A variable's type is accounted for at its definition, with everything reachable from it.
        if not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.context.get_input_type()))

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        parent = get_named_type(self.context.get_parent_input_type())
        if parent is not None:
            declaration = self.index.declarations.fields.get((parent.name, node.name.value))
            if declaration is not None:
                self._items.append(declaration)
        if not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.context.get_input_type()))

    def enter_variable_definition(self, _node: VariableDefinitionNode, *_args: Any) -> VisitorAction:
        named_type = get_named_type(self.context.get_input_type())
        if named_type is not None:
            self._items.extend(self.index.input_closure(named_type))
        return SKIP  # The default value is a literal of the same type: already covered.

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: Any) -> None:
        possible, relative = self._frames[-1] if self._frames else (frozenset(), False)
        self._items.append(_Spread(node.name.value, possible, relative))


def scope_rule(index: ScopeIndex, plans: ScopePlans) -> type[ValidationRule]:
    """A :class:`RequiresScopesRule` class bound to ``index`` and ``plans``, to pass to graphql-core's
    ``validate(schema, document, [*specified_rules, scope_rule(index, plans)])``, which builds each rule
    from its validation context alone."""

    class BoundRequiresScopesRule(RequiresScopesRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context, index, plans)

    return BoundRequiresScopesRule


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
            if item.relative if isinstance(item, _Spread) else True:
                possible = _narrow(context, possible)
            if isinstance(item, _RelativeField):
                for declaration in index.type_contributions(possible):
                    collected.setdefault(declaration.coordinate, declaration)
                for declaration in index.field_contributions(possible, item.parent, item.name):
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


def _narrow(context: frozenset[str] | None, possible: frozenset[str]) -> frozenset[str]:
    if context is None:
        return possible
    # Keep the enclosing set itself when nothing is narrowed: its hash is cached for the lookups.
    return context if possible >= context else possible & context


def collect_plans(index: ScopeIndex, document: DocumentNode) -> ScopePlans:
    """Run :class:`RequiresScopesRule` alone over ``document`` (already validated), without validation."""
    plans = ScopePlans()
    type_info = TypeInfo(index.schema)
    context = ValidationContext(index.schema, document, type_info, _ignore)
    visit(document, TypeInfoVisitor(type_info, RequiresScopesRule(context, index, plans)))
    return plans


def _ignore(_error: GraphQLError) -> None:
    return None


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
    declarations = tuple(collected.values())
    name = operation.name.value if operation.name else None
    # Many elements share one declared requirement: combine each distinct one once (AND is idempotent).
    distinct = dict.fromkeys(d.requirement for d in declarations if not d.requirement.is_empty)
    requirement = Requirement.combine_all(
        distinct, cap=cap, where=f"operation {name}" if name else "the anonymous operation"
    )
    origins: dict[str, list[str]] = {scope: [] for scope in sorted(requirement.scopes)}
    for declaration in declarations:
        for scope in declaration.requirement.scopes:
            if scope in origins:
                origins[scope].append(declaration.coordinate)
    plans = evaluator.plans.fragments
    fragments = tuple(plans[n].node for n in used if n in plans)
    return OperationAnalysis(
        name=name,
        kind=operation.operation.value,
        requirement=requirement,
        authenticated=any(d.authenticated for d in declarations),
        origins={scope: tuple(coordinates) for scope, coordinates in origins.items()},
        declarations=declarations,
        definition=operation,
        fragments=tuple(f for f in fragments if isinstance(f, FragmentDefinitionNode)),
    )


def analyze_operation(
    index: ScopeIndex,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    *,
    cap: int = DEFAULT_MAX_ALTERNATIVES,
) -> OperationAnalysis:
    """Analyse one operation of an already *validated* document, given the document's fragments.

    Raises :class:`~fastmcp_scopes.errors.RequirementTooComplexError` when the AND of everything touched
    has more than ``cap`` alternatives.
    """
    plans = collect_plans(index, DocumentNode(definitions=(operation, *fragments.values())))
    return analysis_of(PlanEvaluator(index, plans), plans.operations[0], cap=cap)


def fragments_of(document: Iterable[Node]) -> dict[str, FragmentDefinitionNode]:
    """The fragment definitions of a document's definitions, by name."""
    return {d.name.value: d for d in document if isinstance(d, FragmentDefinitionNode)}
