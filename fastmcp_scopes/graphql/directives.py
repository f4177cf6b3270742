"""Read ``@requiresScopes`` and ``@authenticated`` off a built schema, once, into plain lookup tables.

Applied directives are read from the schema's AST nodes (definitions and extensions), because graphql-core
keeps applied directives only there. Every element that carries one becomes a :class:`ScopeDeclaration`
keyed by its schema coordinate, so the per-operation analysis is dictionary lookups and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graphql import (
    DirectiveNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    value_from_ast_untyped,
)
from graphql.language import Node

from fastmcp_scopes.errors import GraphQLScopeError
from fastmcp_scopes.graphql.federation import DirectiveNames
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = ["ScopeDeclaration", "ScopeDeclarations", "read_declarations", "type_coordinate"]


@dataclass(frozen=True, slots=True)
class ScopeDeclaration:
    """What one schema element declares: its scope requirement and whether it is ``@authenticated``.

    ``coordinate`` names the element the way the CLI and error messages show it: ``"type Employee"``,
    ``"Query.employees"``, ``"enum SalaryBand"``, ``"EmployeeFilter.band"``.
    """

    coordinate: str
    requirement: Requirement
    authenticated: bool
    scopes: frozenset[str] = field(init=False, compare=False, repr=False)
    """Every scope the requirement names (kept, since each analysis asks for it)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", self.requirement.scopes)


@dataclass(frozen=True, slots=True)
class ScopeDeclarations:
    """Every declaration in a schema: ``types`` by type name, ``fields`` by ``(type name, field name)``
    (output fields and input fields alike)."""

    types: Mapping[str, ScopeDeclaration]
    fields: Mapping[tuple[str, str], ScopeDeclaration]

    @property
    def is_empty(self) -> bool:
        """True when the schema declares no scope and no ``@authenticated`` anywhere."""
        return not self.types and not self.fields


def type_coordinate(named_type: GraphQLNamedType) -> str:
    """``"type Employee"``, ``"interface Node"``, ``"union SearchResult"``, ``"enum X"``, ``"scalar X"``,
    ``"input X"``: the SDL keyword and the name."""
    return f"{_KEYWORDS.get(type(named_type), 'type')} {named_type.name}"


_KEYWORDS: dict[type[GraphQLNamedType], str] = {
    GraphQLObjectType: "type",
    GraphQLInterfaceType: "interface",
    GraphQLUnionType: "union",
    GraphQLEnumType: "enum",
    GraphQLScalarType: "scalar",
    GraphQLInputObjectType: "input",
}


def read_declarations(
    schema: GraphQLSchema, names: DirectiveNames, *, cap: int = DEFAULT_MAX_ALTERNATIVES
) -> ScopeDeclarations:
    """Collect every scope declaration in ``schema``.

    Raises :class:`GraphQLScopeError` for a scope directive whose ``scopes`` argument is not a list of
    lists of strings, and :class:`~fastmcp_scopes.errors.InvalidScopeError` for a scope that is not an
    RFC 6749 §3.3 scope-token: a declaration that cannot be enforced stops start-up.
    """
    types: dict[str, ScopeDeclaration] = {}
    fields: dict[tuple[str, str], ScopeDeclaration] = {}
    for name, named_type in schema.type_map.items():
        if name.startswith("__"):
            continue
        nodes: list[Node | None] = [named_type.ast_node, *named_type.extension_ast_nodes]
        declaration = _declaration(type_coordinate(named_type), nodes, names, cap)
        if declaration is not None:
            types[name] = declaration
        if isinstance(named_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in named_type.fields.items():
                declaration = _declaration(f"{name}.{field_name}", [field.ast_node], names, cap)
                if declaration is not None:
                    fields[name, field_name] = declaration
    if names.subgraph:
        _propagate_to_interfaces(schema, types, fields, cap)
    return ScopeDeclarations(types, fields)


def _propagate_to_interfaces(
    schema: GraphQLSchema,
    types: dict[str, ScopeDeclaration],
    fields: dict[tuple[str, str], ScopeDeclaration],
    cap: int,
) -> None:
    """What federation 2 composition (``@apollo/composition`` 2.12 and later) does to a subgraph's interfaces:
    an interface, and each of its fields, gets the AND of its implementations' requirements (and
    ``@authenticated`` when one of them has it). The router enforces the composed supergraph, so a subgraph's
    operations need what they would need there: ``{ node { __typename } }`` needs every implementation's."""
    for interface in schema.type_map.values():
        if not isinstance(interface, GraphQLInterfaceType) or interface.name.startswith("__"):
            continue
        implementations = [t.name for t in schema.get_possible_types(interface)]
        coordinate = type_coordinate(interface)
        declared = _merged(coordinate, types.get(interface.name), [types.get(name) for name in implementations], cap)
        if declared is not None:
            types[interface.name] = ScopeDeclaration(coordinate, *declared)
        for field_name in interface.fields:
            coordinate = f"{interface.name}.{field_name}"
            own = fields.get((interface.name, field_name))
            declared = _merged(coordinate, own, [fields.get((name, field_name)) for name in implementations], cap)
            if declared is not None:
                fields[interface.name, field_name] = ScopeDeclaration(coordinate, *declared)


def _merged(
    coordinate: str, own: ScopeDeclaration | None, others: list[ScopeDeclaration | None], cap: int
) -> tuple[Requirement, bool] | None:
    found = [d for d in (own, *others) if d is not None]
    if not found or (own is not None and len(found) == 1):
        return None
    requirement = Requirement.combine_all(
        (d.requirement for d in found), cap=cap, where=f"the requirements composition copies onto {coordinate}"
    )
    return requirement, any(d.authenticated for d in found)


def _declaration(
    coordinate: str, nodes: Iterable[Node | None], names: DirectiveNames, cap: int
) -> ScopeDeclaration | None:
    requirement: Requirement | None = None
    authenticated = False
    for node in nodes:
        for directive in getattr(node, "directives", None) or ():
            name = directive.name.value
            if name in names.authenticated:
                authenticated = True
            elif name in names.requires_scopes:
                declared = _read_scopes(coordinate, directive)
                # A type and its extensions may each carry the directive: all of them apply (AND).
                requirement = declared if requirement is None else requirement.combine(declared, cap=cap)
    if requirement is None and not authenticated:
        return None
    return ScopeDeclaration(coordinate, requirement or Requirement.none(), authenticated)


def _read_scopes(coordinate: str, directive: DirectiveNode) -> Requirement:
    argument = next((a for a in directive.arguments or () if a.name.value == "scopes"), None)
    value = value_from_ast_untyped(argument.value) if argument is not None else None
    alternatives = _coerced_scopes(value)
    if alternatives is None:
        raise GraphQLScopeError(
            f"@{directive.name.value} on {coordinate}{_at(directive)} needs scopes: [[String!]!]! "
            "(a list of alternatives, each a list of scopes)"
        )
    if not alternatives:
        # The router authorizes an empty list of alternatives (it checks "any alternative matches" only when
        # there is one): no scope.
        return Requirement.none()
    return Requirement.any_of(alternatives, where=f"@{directive.name.value} on {coordinate}")


def _coerced_scopes(value: object) -> list[list[str]] | None:
    """``scopes`` read with GraphQL's input coercion of ``[[Scope!]!]!`` (spec §3.11, list input coercion): a
    value that is not a list stands for a list of one, at each level, so ``["a", "b"]`` is ``[["a"], ["b"]]``
    (either scope), not ``[["a", "b"]]``. ``None`` for a value that does not coerce (a null, a non-string)."""
    if value is None:
        return None
    alternatives: list[list[str]] = []
    for alternative in value if isinstance(value, list) else [value]:
        if alternative is None:
            return None
        scopes: list[str] = []
        for scope in alternative if isinstance(alternative, list) else [alternative]:
            if not isinstance(scope, str):
                return None
            scopes.append(scope)
        alternatives.append(scopes)
    return alternatives


def _at(node: Node) -> str:
    if node.loc is None:
        return ""
    location = node.loc.source.get_location(node.loc.start)
    return f" ({node.loc.source.name}:{location.line}:{location.column})"
