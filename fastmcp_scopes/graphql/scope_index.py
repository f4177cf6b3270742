"""Per-schema lookups for the scope analysis, computed once and shared by every operation analysed.

:class:`ScopeIndex` answers what :class:`~fastmcp_scopes.graphql.requires_scopes.RequiresScopesRule` and
:class:`~fastmcp_scopes.graphql.analysis.PlanEvaluator` ask of the schema: the object types a value of a type can
be at run time, and the ``@requiresScopes``/``@authenticated`` declarations touched by selecting a type, a field
on a set of possible types, or an input type with everything reachable from it.
"""

from __future__ import annotations

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_abstract_type,
)

from fastmcp_scopes.graphql.directives import ScopeDeclaration, ScopeDeclarations

__all__ = [
    "ScopeIndex",
]


class ScopeIndex:
    """Per-schema lookups the rule needs, cached across operations: possible runtime types of a composite
    type, and the declarations touched by selecting a field.

    ``input_directives``: whether declarations on argument and input types (scalars, enums, input objects and
    their fields) count. Apollo Router does not enforce them, so by default they do not.
    """

    def __init__(
        self, schema: GraphQLSchema, declarations: ScopeDeclarations, *, input_directives: bool = False
    ) -> None:
        self.schema = schema
        self.declarations = declarations
        self.input_directives = input_directives
        self._possible: dict[str, frozenset[str]] = {}
        self._type_contributions: dict[frozenset[str], tuple[ScopeDeclaration, ...]] = {}
        self._field_contributions: dict[tuple[str, str], tuple[ScopeDeclaration, ...]] = {}
        self._input_closure: dict[str, tuple[ScopeDeclaration, ...]] = {}
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

    def field_contributions(self, parent: GraphQLNamedType, field_name: str) -> tuple[ScopeDeclaration, ...]:
        """Declarations on ``field_name`` as ``parent`` defines it and, when ``parent`` is an interface, as each of
        its implementations defines it, with the type each of those returns.

        Every implementation counts, wherever the selection sits: Apollo Router checks a field selected on an
        interface against all its implementations, even inside a fragment spread where only one can occur.
        """
        key = (parent.name, field_name)
        cached = self._field_contributions.get(key)
        if cached is None:
            fields = self.declarations.fields
            found: dict[str, ScopeDeclaration] = {}
            own = fields.get(key)
            if own is not None:
                found[own.coordinate] = own
            if isinstance(parent, GraphQLInterfaceType):
                implementations = self.schema.get_implementations(parent)
                implementers: list[GraphQLObjectType | GraphQLInterfaceType] = [
                    *implementations.objects,
                    *implementations.interfaces,
                ]
                for implementation in implementers:
                    declaration = fields.get((implementation.name, field_name))
                    if declaration is not None:
                        found.setdefault(declaration.coordinate, declaration)
                    field = implementation.fields.get(field_name)
                    returned = self.declarations.types.get(get_named_type(field.type).name) if field else None
                    if returned is not None:
                        found.setdefault(returned.coordinate, returned)
            cached = tuple(found.values())
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
