"""A schema's SDL as a client needs it, for the ``get_schema`` operation tool.

Only the types reachable from the root operation types are printed, without directive definitions or
federation plumbing. Unlike :mod:`fastmcp_scopes.graphql.operations`, this needs graphql-core only.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_introspection_type,
    is_specified_scalar_type,
    print_type,
)

from fastmcp_scopes.graphql.schema import ScopedSchema

__all__ = [
    "schema_sdl",
]


def schema_sdl(schema: ScopedSchema | GraphQLSchema) -> str:
    """The SDL a client needs: the types reachable from the root operation types, without directive
    definitions or federation plumbing (``link__Import``, ``FieldSet``, scope scalars)."""
    graphql_schema = schema.schema if isinstance(schema, ScopedSchema) else schema
    roots = [graphql_schema.query_type, graphql_schema.mutation_type, graphql_schema.subscription_type]
    reachable: set[str] = set()
    pending: list[GraphQLNamedType] = [t for t in roots if t is not None]
    while pending:
        named = pending.pop()
        if named.name in reachable or is_introspection_type(named) or is_specified_scalar_type(named):
            continue
        reachable.add(named.name)
        pending.extend(_referenced(graphql_schema, named))
    parts: list[str] = []
    standard = ("Query", "Mutation", "Subscription")
    if any(root is not None and root.name != name for root, name in zip(roots, standard, strict=True)):
        entries = [
            f"  {kind}: {root.name}"
            for kind, root in zip(("query", "mutation", "subscription"), roots, strict=True)
            if root is not None
        ]
        parts.append("schema {\n" + "\n".join(entries) + "\n}")
    parts.extend(print_type(t) for name, t in graphql_schema.type_map.items() if name in reachable)
    return "\n\n".join(parts) + "\n"


def _referenced(schema: GraphQLSchema, named: GraphQLNamedType) -> Iterable[GraphQLNamedType]:
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for field in named.fields.values():
            yield get_named_type(field.type)
            for arg in field.args.values():
                yield get_named_type(arg.type)
        yield from named.interfaces
        if isinstance(named, GraphQLInterfaceType):
            yield from schema.get_possible_types(named)
    elif isinstance(named, GraphQLUnionType):
        yield from named.types
    elif isinstance(named, GraphQLInputObjectType):
        for input_field in named.fields.values():
            yield get_named_type(input_field.type)
