"""The scope requirement of one GraphQL operation, under Apollo Federation's ``@requiresScopes`` semantics.

:class:`RequiresScopesRule` is a graphql-core visitor run under :class:`~graphql.TypeInfoVisitor`, so fields are
resolved through their schema definitions (aliases and fragments cannot hide them). It collects the
declaration of everything the operation touches; the requirement is their AND, computed once at the end:

- each selected field's definition, and its return type (lists and non-null unwrapped);
- a fragment's type condition;
- the object types a selection can run on: the root type, a fragment's type condition, and, for a field
  selected on an interface or union outside a type-specific fragment, *every* possible type together with
  that type's own definition of the field;
- input types: an argument's or object field's type where a literal is given, a variable's type together
  with every input field reachable from it (the value is unknown until the call), and input fields given.

Fragment spreads are expanded where they are spread, so a fragment on an interface spread inside an
object's selection only counts that object. A fragment is expanded once per context, which also stops cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from graphql import (
    FragmentDefinitionNode,
    FragmentSpreadNode,
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
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    is_abstract_type,
    visit,
)
from graphql.language import ArgumentNode, FieldNode, Node
from graphql.language.visitor import SKIP, VisitorAction

from fastmcp_scopes.graphql.directives import ScopeDeclaration, ScopeDeclarations
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = ["OperationAnalysis", "OperationKind", "RequiresScopesRule", "ScopeIndex", "analyze_operation"]

OperationKind = Literal["query", "mutation", "subscription"]


@dataclass(frozen=True, slots=True)
class OperationAnalysis:
    """The scopes one operation needs, and where each comes from.

    - ``requirement``: the minimal AND of every declaration touched (``Requirement.none()`` when none);
    - ``authenticated``: an ``@authenticated`` element is touched, so a valid token is needed even when
      ``requirement`` is empty;
    - ``origins``: for each scope of ``requirement``, the schema coordinates that impose it, in the order
      the operation reaches them (``{"employees:read": ("Query.employees", "type Employee")}``);
    - ``definition``: the operation's AST, for callers that need its variables or text.
    """

    name: str | None
    kind: OperationKind
    requirement: Requirement
    authenticated: bool
    origins: Mapping[str, tuple[str, ...]] = field(hash=False)
    declarations: tuple[ScopeDeclaration, ...] = ()
    definition: OperationDefinitionNode | None = field(default=None, compare=False, repr=False)

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


class RequiresScopesRule(Visitor):
    """Collect the :class:`ScopeDeclaration` of everything an operation touches into ``collected``.

    Run it with ``visit(operation, TypeInfoVisitor(type_info, rule))``. It never raises: combining the
    collected requirements (and failing past the cap) is the caller's single step afterwards.
    """

    def __init__(self, index: ScopeIndex, type_info: TypeInfo, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        super().__init__()
        self.index = index
        self.type_info = type_info
        self.fragments = fragments
        self.collected: dict[str, ScopeDeclaration] = {}
        self._possible: list[frozenset[str]] = []
        self._expanded: set[tuple[str, frozenset[str]]] = set()

    def _add(self, declarations: Iterable[ScopeDeclaration]) -> None:
        for declaration in declarations:
            self.collected.setdefault(declaration.coordinate, declaration)

    def _add_type(self, named_type: GraphQLNamedType | None) -> None:
        if named_type is not None:
            declaration = self.index.declarations.types.get(named_type.name)
            if declaration is not None:
                self.collected.setdefault(declaration.coordinate, declaration)

    def enter_selection_set(self, _node: SelectionSetNode, _key: Any, parent: Any, *_args: Any) -> None:
        parent_type = self.type_info.get_parent_type()
        possible = self.index.possible(parent_type)
        if isinstance(parent, InlineFragmentNode | FragmentDefinitionNode):
            self._add_type(parent_type)  # The type condition itself, which may be an interface with a directive.
        # A fragment narrows the enclosing selection's possible types; a field starts afresh from its type.
        if isinstance(parent, InlineFragmentNode | FragmentDefinitionNode) and self._possible:
            enclosing = self._possible[-1]
            # Keep the enclosing set itself when nothing is narrowed: its hash is cached for the lookups.
            possible = enclosing if possible >= enclosing else possible & enclosing
        self._possible.append(possible)

    def leave_selection_set(self, *_args: Any) -> None:
        self._possible.pop()

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        possible = self._possible[-1] if self._possible else frozenset()
        self._add(self.index.type_contributions(possible))
        parent = self.type_info.get_parent_type()
        field_def = self.type_info.get_field_def()
        if parent is None or field_def is None:
            return  # Unknown field: validation has already rejected the document.
        self._add(self.index.field_contributions(possible, parent, node.name.value))
        self._add_type(get_named_type(field_def.type))

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        # A variable's type is accounted for at its definition, with everything reachable from it.
        if not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.type_info.get_input_type()))

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        parent = get_named_type(self.type_info.get_parent_input_type())
        if parent is not None:
            declaration = self.index.declarations.fields.get((parent.name, node.name.value))
            if declaration is not None:
                self.collected.setdefault(declaration.coordinate, declaration)
        if not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.type_info.get_input_type()))

    def enter_variable_definition(self, _node: VariableDefinitionNode, *_args: Any) -> VisitorAction:
        named_type = get_named_type(self.type_info.get_input_type())
        if named_type is not None:
            self._add(self.index.input_closure(named_type))
        return SKIP  # The default value is a literal of the same type: already covered.

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: Any) -> None:
        fragment = self.fragments.get(node.name.value)
        if fragment is None:
            return
        key = (node.name.value, self._possible[-1] if self._possible else frozenset())
        if key in self._expanded:
            return  # Same fragment in the same context adds nothing new (AND is idempotent); stops cycles.
        self._expanded.add(key)
        visit(fragment, TypeInfoVisitor(self.type_info, self))


def analyze_operation(
    index: ScopeIndex,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    *,
    cap: int = DEFAULT_MAX_ALTERNATIVES,
) -> OperationAnalysis:
    """Analyse one operation of an already *validated* document.

    Raises :class:`~fastmcp_scopes.errors.RequirementTooComplexError` when the AND of everything touched
    has more than ``cap`` alternatives.
    """
    type_info = TypeInfo(index.schema)
    rule = RequiresScopesRule(index, type_info, fragments)
    visit(operation, TypeInfoVisitor(type_info, rule))
    declarations = tuple(rule.collected.values())
    name = operation.name.value if operation.name else None
    requirement = Requirement.combine_all(
        (d.requirement for d in declarations if not d.requirement.is_empty),
        cap=cap,
        where=f"operation {name}" if name else "the anonymous operation",
    )
    origins: dict[str, list[str]] = {scope: [] for scope in sorted(requirement.scopes)}
    for declaration in declarations:
        for scope in declaration.requirement.scopes:
            if scope in origins:
                origins[scope].append(declaration.coordinate)
    return OperationAnalysis(
        name=name,
        kind=operation.operation.value,
        requirement=requirement,
        authenticated=any(d.authenticated for d in declarations),
        origins={scope: tuple(coordinates) for scope, coordinates in origins.items()},
        declarations=declarations,
        definition=operation,
    )


def fragments_of(document: Iterable[Node]) -> dict[str, FragmentDefinitionNode]:
    """The fragment definitions of a document's definitions, by name."""
    return {d.name.value: d for d in document if isinstance(d, FragmentDefinitionNode)}
