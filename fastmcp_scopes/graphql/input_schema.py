"""The JSON Schema (2020-12) of a GraphQL operation's variables, given to an operation tool as its
``inputSchema`` (MCP ``tools/list``).

Like the rest of :mod:`fastmcp_scopes.graphql`, this module does not import the MCP SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    is_input_type,
    type_from_ast,
    value_from_ast_untyped,
)
from graphql.utilities import ast_from_value

from fastmcp_scopes.errors import GraphQLScopeError

__all__ = ["operation_input_schema"]

_SCALARS: Mapping[str, str] = {
    "Int": "integer",
    "Float": "number",
    "String": "string",
    "ID": "string",
    "Boolean": "boolean",
}


def operation_input_schema(schema: GraphQLSchema, operation: OperationDefinitionNode) -> dict[str, Any]:
    """The JSON Schema (2020-12) of an operation's variables, as a tool's ``inputSchema``.

    Int → integer, Float → number, String and ID → string, Boolean → boolean, enums → their value
    names, input objects → objects (non-null fields without default required), lists → arrays, custom
    scalars → unconstrained; nullable types also accept ``null``; defaults become ``default``.
    Non-null variables without a default are required. A recursive input object is given once under
    ``$defs`` and referenced.

    Raises:
        GraphQLScopeError: a variable whose type the schema does not define.
    """
    builder = _SchemaBuilder()
    properties: dict[str, Any] = {}
    required: list[str] = []
    for variable in operation.variable_definitions or ():
        name = variable.variable.name.value
        graphql_type = type_from_ast(schema, variable.type)
        if not is_input_type(graphql_type):
            raise GraphQLScopeError(f"variable ${name} has a type the schema does not define as an input type")
        prop = builder.input(graphql_type)
        description = getattr(variable, "description", None)  # operation descriptions: graphql-core 3.3+
        if description is not None:
            prop = {"description": description.value, **prop}
        if variable.default_value is not None:
            prop["default"] = value_from_ast_untyped(variable.default_value)
        elif isinstance(graphql_type, GraphQLNonNull):
            required.append(name)
        properties[name] = prop
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    result["additionalProperties"] = False
    if builder.definitions:
        result["$defs"] = builder.definitions
    return result


class _SchemaBuilder:
    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}
        self._expanding: list[str] = []

    def input(self, graphql_type: GraphQLInputType) -> dict[str, Any]:
        if isinstance(graphql_type, GraphQLNonNull):
            return self._of(graphql_type.of_type, nullable=False)
        return self._of(graphql_type, nullable=True)

    def _of(self, graphql_type: Any, *, nullable: bool) -> dict[str, Any]:
        if isinstance(graphql_type, GraphQLList):
            return _typed({"type": "array", "items": self.input(graphql_type.of_type)}, nullable)
        if isinstance(graphql_type, GraphQLEnumType):
            values: list[Any] = list(graphql_type.values)
            return (
                {"type": ["string", "null"], "enum": [*values, None]}
                if nullable
                else {"type": "string", "enum": values}
            )
        if isinstance(graphql_type, GraphQLInputObjectType):
            if graphql_type.name in self._expanding or graphql_type.name in self.definitions:
                self.definitions.setdefault(graphql_type.name, {})  # filled when its expansion ends
                ref = {"$ref": f"#/$defs/{graphql_type.name}"}
                return {"anyOf": [ref, {"type": "null"}]} if nullable else ref
            return _typed(self._object(graphql_type), nullable)
        if isinstance(graphql_type, GraphQLScalarType):
            json_type = _SCALARS.get(graphql_type.name)
            if json_type is None:
                return {}  # A custom scalar: its JSON form is the scalar's own business.
            return _typed({"type": json_type}, nullable)
        raise GraphQLScopeError(f"{graphql_type} is not an input type")

    def _object(self, graphql_type: GraphQLInputObjectType) -> dict[str, Any]:
        self._expanding.append(graphql_type.name)
        try:
            properties: dict[str, Any] = {}
            required: list[str] = []
            for name, field in graphql_type.fields.items():
                prop = self.input(field.type)
                if field.description:
                    prop = {"description": field.description, **prop}
                has_default, default = _input_field_default(field)
                if has_default:
                    prop["default"] = default
                elif isinstance(field.type, GraphQLNonNull):
                    required.append(name)
                properties[name] = prop
        finally:
            self._expanding.pop()
        result: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            result["required"] = required
        result["additionalProperties"] = False
        if graphql_type.name in self.definitions:
            # It referred to itself while being expanded: the references point at this definition.
            self.definitions[graphql_type.name] = result
            return {"$ref": f"#/$defs/{graphql_type.name}"}
        return result


def _input_field_default(field: GraphQLInputField) -> tuple[bool, Any]:
    """``(has a default, its JSON form)``. graphql-core 3.3 keeps an input field's default in
    ``default`` (a literal or an external value), 3.2 in ``default_value`` (coerced); a schema built
    from SDL also has the literal itself."""
    node = field.ast_node
    if node is not None and node.default_value is not None:
        return True, value_from_ast_untyped(node.default_value)
    default = getattr(field, "default", None)
    if default is not None:
        literal = getattr(default, "literal", None)
        if literal is not None:
            return True, value_from_ast_untyped(literal)
        return True, getattr(default, "value", None)
    if field.default_value is not Undefined:
        literal = ast_from_value(field.default_value, field.type)
        return True, value_from_ast_untyped(literal) if literal is not None else None
    return False, None


def _typed(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}
