"""What each definition of a GraphQL document touches, recorded by a validation rule in validation's own traversal.

:class:`RequiresScopesRule` runs with graphql-core's :data:`~graphql.validation.specified_rules`
(:func:`scope_rule`), so fields are resolved through their schema definitions by graphql-core's ``TypeInfo``
(aliases and fragments cannot hide them) at no second walk of the document; :func:`collect_plans` runs it alone
over a document already validated. It records, per operation or fragment definition, a :class:`DefinitionPlan`:
the declarations touched, the fields whose possible types depend on where their fragment is spread, and the
fragment spreads, which :class:`~fastmcp_scopes.graphql.analysis.PlanEvaluator` expands per operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
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
    visit,
)
from graphql.language import ArgumentNode, FieldNode
from graphql.language.visitor import SKIP, VisitorAction

from fastmcp_scopes.graphql.directives import ScopeDeclaration
from fastmcp_scopes.graphql.scope_index import ScopeIndex

__all__ = [
    "DefinitionPlan",
    "PlanItem",
    "RelativeField",
    "RequiresScopesRule",
    "ScopePlans",
    "Spread",
    "collect_plans",
    "narrow",
    "scope_rule",
]


@dataclass(frozen=True, slots=True)
class RelativeField:
    """A field selected in a fragment definition outside any sub-field: the possible types it runs on (whose
    type-level declarations it touches) are those where the fragment is spread, narrowed by ``possible`` (the
    fragment's own type conditions)."""

    possible: frozenset[str]
    parent: GraphQLNamedType
    name: str


@dataclass(frozen=True, slots=True)
class Spread:
    """A fragment spread: ``possible`` is the set it is spread on, itself narrowed where the fragment is spread
    when ``relative`` (the spread sits in a fragment definition outside any sub-field)."""

    name: str
    possible: frozenset[str]
    relative: bool


PlanItem = ScopeDeclaration | RelativeField | Spread


@dataclass(slots=True)
class DefinitionPlan:
    """What one operation or fragment definition touches, in traversal order: declarations, fields whose
    possible types depend on where their fragment is spread, and fragment spreads (expanded when evaluated)."""

    node: OperationDefinitionNode | FragmentDefinitionNode
    items: list[PlanItem] = field(default_factory=list)


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
    everything else it touches is independent of where it is spread.
    :class:`~fastmcp_scopes.graphql.analysis.PlanEvaluator` then expands spreads per operation. The rule never raises.
    """

    def __init__(self, context: ValidationContext, index: ScopeIndex, plans: ScopePlans) -> None:
        super().__init__(context)
        self.index = index
        self.plans = plans
        self._items: list[PlanItem] = []
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
            # An inline fragment narrows the enclosing selection's possible types; a field starts afresh from its type.
            enclosing, relative = self._frames[-1]
            possible = narrow(enclosing, possible)
        else:
            relative = isinstance(parent, FragmentDefinitionNode)
        self._frames.append((possible, relative))

    def leave_selection_set(self, *_args: Any) -> None:
        self._frames.pop()

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        name = node.name.value
        if name.startswith("__"):
            # __typename, __schema and __type: the router answers them whatever the directives say, on any type
            # (an abstract one with differently scoped implementations included), the root type's aside.
            return
        possible, relative = self._frames[-1] if self._frames else (frozenset(), False)
        parent = self.context.get_parent_type()
        field_def = self.context.get_field_def()
        if parent is None or field_def is None:
            return  # Unknown field: validation rejects the document.
        self._items.extend(self.index.field_contributions(parent, name))
        # The type-level declarations of the object types this selection can run on. The router checks the
        # implementations' only for fields selected directly on an interface-typed field; inside a fragment on an
        # interface it lets an implementation's data through without its type's scopes, so this is stricter there.
        if relative:
            self._items.append(RelativeField(possible, parent, name))
        else:
            self._items.extend(self.index.type_contributions(possible))
        self._add_type(get_named_type(field_def.type))

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        # A variable's type is accounted for at its definition, with everything reachable from it.
        if self.index.input_directives and not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.context.get_input_type()))

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        if not self.index.input_directives:
            return  # The router enforces no directive on input types (see ScopeIndex.input_directives).
        parent = get_named_type(self.context.get_parent_input_type())
        if parent is not None:
            declaration = self.index.declarations.fields.get((parent.name, node.name.value))
            if declaration is not None:
                self._items.append(declaration)
        if not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.context.get_input_type()))

    def enter_variable_definition(self, _node: VariableDefinitionNode, *_args: Any) -> VisitorAction:
        named_type = get_named_type(self.context.get_input_type())
        if named_type is not None and self.index.input_directives:
            self._items.extend(self.index.input_closure(named_type))
        return SKIP  # The default value is a literal of the same type: already covered.

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: Any) -> None:
        possible, relative = self._frames[-1] if self._frames else (frozenset(), False)
        self._items.append(Spread(node.name.value, possible, relative))


def narrow(context: frozenset[str] | None, possible: frozenset[str]) -> frozenset[str]:
    """``possible`` within ``context`` (all of ``possible`` when there is none)."""
    if context is None:
        return possible
    # Keep the enclosing set itself when nothing is narrowed: its hash is cached for the lookups.
    return context if possible >= context else possible & context


def scope_rule(index: ScopeIndex, plans: ScopePlans) -> type[ValidationRule]:
    """A :class:`RequiresScopesRule` class bound to ``index`` and ``plans``, to pass to graphql-core's
    ``validate(schema, document, [*specified_rules, scope_rule(index, plans)])``, which builds each rule
    from its validation context alone."""

    class BoundRequiresScopesRule(RequiresScopesRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context, index, plans)

    return BoundRequiresScopesRule


def collect_plans(index: ScopeIndex, document: DocumentNode) -> ScopePlans:
    """Run :class:`RequiresScopesRule` alone over ``document`` (already validated), without validation."""
    plans = ScopePlans()
    type_info = TypeInfo(index.schema)
    context = ValidationContext(index.schema, document, type_info, _ignore)
    visit(document, TypeInfoVisitor(type_info, RequiresScopesRule(context, index, plans)))
    return plans


def _ignore(_error: GraphQLError) -> None:
    return None
