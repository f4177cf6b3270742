"""Scope requirements derived from a GraphQL schema's ``@requiresScopes`` and ``@authenticated`` directives.

>>> schema = ScopedSchema.from_sdl('''
...     type Query { employees: [Employee] @requiresScopes(scopes: [["employees:read"]]) }
...     type Employee { name: String, salary: Int @requiresScopes(scopes: [["hr:read"], ["admin"]]) }
... ''')
>>> str(schema.requirement("{ employees { name salary } }"))
'(employees:read AND hr:read) OR (admin AND employees:read)'

Everything here depends on graphql-core only (URL loading imports ``httpx2`` when used).
"""

from __future__ import annotations

from fastmcp_scopes.graphql.analysis import OperationAnalysis, OperationKind, RequiresScopesRule
from fastmcp_scopes.graphql.directives import ScopeDeclaration
from fastmcp_scopes.graphql.federation import DirectiveNames
from fastmcp_scopes.graphql.loading import SCHEMA_ENV_VAR, load_schema, load_schema_async, read_operation_files
from fastmcp_scopes.graphql.schema import DEFAULT_MAX_ERRORS, DEFAULT_MAX_TOKENS, GraphQLSchemaWarning, ScopedSchema

__all__ = [
    # loading
    "SCHEMA_ENV_VAR",
    "GraphQLSchemaWarning",
    "ScopedSchema",
    "load_schema",
    "load_schema_async",
    "read_operation_files",
    # analysis
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_TOKENS",
    "DirectiveNames",
    "OperationAnalysis",
    "OperationKind",
    "RequiresScopesRule",
    "ScopeDeclaration",
]
