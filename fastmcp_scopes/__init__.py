"""fastmcp-scopes: per-tool OAuth scopes for MCP servers.

Decorate tools with :func:`requires_scopes`, install a :class:`ScopeGuard`, and every listing shows a
caller only what its token permits while every call is checked before its handler runs, with an
``insufficient_scope`` answer naming the precise scopes to step up to.
"""

from fastmcp_scopes.challenge import BearerChallenge, format_scope, parse_www_authenticate, validate_scope_token
from fastmcp_scopes.decorators import public, requires_scopes
from fastmcp_scopes.errors import (
    ConfigurationError,
    GraphQLScopeError,
    GraphQLUpstreamError,
    InsufficientScopeError,
    InvalidScopeError,
    InvalidTokenError,
    RequirementTooComplexError,
    ScopesError,
)
from fastmcp_scopes.hierarchy import GrantedScopes, ScopeHierarchy
from fastmcp_scopes.pipeline import authorize
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard
from fastmcp_scopes.policy_hook import PolicyDenial, PolicyOperation
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import ScopesSettings

__version__ = "0.1.0"

__all__ = [
    # declaring and enforcing
    "ScopeGuard",
    "ScopesSettings",
    "authorize",
    "public",
    "requires_scopes",
    # the deny-only policy hook
    "PolicyDenial",
    "PolicyOperation",
    # values
    "Caller",
    "Decision",
    "GrantedScopes",
    "Requirement",
    "ScopeHierarchy",
    # RFC 6750 / RFC 6749 helpers
    "BearerChallenge",
    "format_scope",
    "parse_www_authenticate",
    "validate_scope_token",
    # errors
    "ConfigurationError",
    "GraphQLScopeError",
    "GraphQLUpstreamError",
    "InsufficientScopeError",
    "InvalidScopeError",
    "InvalidTokenError",
    "RequirementTooComplexError",
    "ScopesError",
]
