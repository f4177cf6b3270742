"""Scope requirements derived from a GraphQL schema's ``@requiresScopes`` and ``@authenticated`` directives.

>>> schema = ScopedSchema.from_sdl('''
...     type Query { employees: [Employee] @requiresScopes(scopes: [["employees:read"]]) }
...     type Employee { name: String, salary: Int @requiresScopes(scopes: [["hr:read"], ["admin"]]) }
... ''')
>>> str(schema.requirement("{ employees { name salary } }"))
'(employees:read AND hr:read) OR (admin AND employees:read)'

Everything here depends on graphql-core only (URL loading and :class:`HTTPGraphQLEndpoint` import
``httpx2`` when used), except the operation tools (:mod:`fastmcp_scopes.graphql.operations`), which
need the MCP SDK and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastmcp_scopes.errors import GraphQLUpstreamError
from fastmcp_scopes.graphql.analysis import OperationAnalysis, OperationKind
from fastmcp_scopes.graphql.cache import CatalogueCache
from fastmcp_scopes.graphql.directives import ScopeDeclaration
from fastmcp_scopes.graphql.endpoints import GraphQLCoreEndpoint, GraphQLEndpoint, HTTPGraphQLEndpoint
from fastmcp_scopes.graphql.federation import DirectiveNames
from fastmcp_scopes.graphql.input_schema import operation_input_schema
from fastmcp_scopes.graphql.limits import QueryLimitError, QueryLimits
from fastmcp_scopes.graphql.loading import SCHEMA_ENV_VAR, load_schema, load_schema_async, read_operation_files
from fastmcp_scopes.graphql.requires_scopes import RequiresScopesRule
from fastmcp_scopes.graphql.schema import DEFAULT_MAX_ERRORS, DEFAULT_MAX_TOKENS, GraphQLSchemaWarning, ScopedSchema
from fastmcp_scopes.graphql.sdl import schema_sdl

if TYPE_CHECKING:
    from fastmcp_scopes.graphql.operations import add_operation_tools

__all__ = [
    # loading
    "SCHEMA_ENV_VAR",
    "GraphQLSchemaWarning",
    "ScopedSchema",
    "load_schema",
    "load_schema_async",
    "read_operation_files",
    # analysis
    "CatalogueCache",
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_TOKENS",
    "DirectiveNames",
    "OperationAnalysis",
    "OperationKind",
    "RequiresScopesRule",
    "ScopeDeclaration",
    # running operations, their variables as JSON Schema, and the schema as SDL
    "GraphQLCoreEndpoint",
    "GraphQLEndpoint",
    "GraphQLUpstreamError",
    "HTTPGraphQLEndpoint",
    "QueryLimitError",
    "QueryLimits",
    "operation_input_schema",
    "schema_sdl",
    # operations as MCP tools (import the MCP SDK, on first use)
    "add_operation_tools",
]


def __getattr__(name: str) -> Any:
    # Only names not imported above get here: the listed one is add_operation_tools, which imports the
    # MCP SDK (the analysis core must not), so it loads on first use.
    if name in __all__:
        from fastmcp_scopes.graphql import operations

        return getattr(operations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
