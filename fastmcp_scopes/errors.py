"""The exceptions fastmcp-scopes raises, shaped by how callers catch them.

```
ScopesError
├── ConfigurationError (also ValueError)   bad settings, bad declarations: start-up stops
│   ├── InvalidScopeError                  a scope token outside RFC 6749 §3.3
│   ├── RequirementTooComplexError         AND-combination past the alternatives cap
│   └── GraphQLScopeError                  a schema or operation that cannot yield a requirement
├── GraphQLUpstreamError                   an operation tool's upstream endpoint failed
├── InvalidTokenError                      RFC 6750 §3.1 `invalid_token` (401)
└── InsufficientScopeError                 RFC 6750 §3.1 `insufficient_scope` (403)
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmcp_scopes.policy import Decision

__all__ = [
    "ConfigurationError",
    "GraphQLScopeError",
    "GraphQLUpstreamError",
    "InsufficientScopeError",
    "InvalidScopeError",
    "InvalidTokenError",
    "RequirementTooComplexError",
    "ScopesError",
]


class ScopesError(Exception):
    """Root of every fastmcp-scopes exception."""


class ConfigurationError(ScopesError, ValueError):
    """A declaration or setting that cannot be enforced. Raised at start-up, never per request."""


class InvalidScopeError(ConfigurationError):
    """A scope token outside the RFC 6749 §3.3 grammar ``1*( %x21 / %x23-5B / %x5D-7E )``."""

    def __init__(self, token: object, *, where: str | None = None) -> None:
        self.token = token
        self.where = where
        place = f" in {where}" if where else ""
        super().__init__(
            f"invalid scope token {token!r}{place}: RFC 6749 §3.3 allows printable ASCII without space, '\"' or '\\'"
        )


class RequirementTooComplexError(ConfigurationError):
    """Combining requirements produced more alternatives than the configured cap."""

    def __init__(self, count: int, cap: int, *, where: str | None = None) -> None:
        self.count = count
        self.cap = cap
        self.where = where
        place = f" for {where}" if where else ""
        super().__init__(
            f"requirement{place} has {count} alternatives after combination, more than the cap of {cap}; "
            "simplify the declared scopes or raise max_alternatives"
        )


class GraphQLScopeError(ConfigurationError):
    """A GraphQL schema or operation from which no requirement can be derived (never "no scope")."""


class GraphQLUpstreamError(ScopesError):
    """The upstream GraphQL endpoint could not be asked or did not answer with a GraphQL response.

    ``message`` is fixed, client-safe text (the tool error shows it); ``status`` is the HTTP status
    when there was one. Raise it from a custom ``GraphQLEndpoint`` to report such a failure.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


class InvalidTokenError(ScopesError):
    """RFC 6750 §3.1 ``invalid_token``: the bearer token is malformed, expired, or not for us.

    ``description`` is fixed text safe to send to the client; ``detail`` is for logs only.
    """

    def __init__(self, description: str = "The access token is invalid", *, detail: str | None = None) -> None:
        self.description = description
        self.detail = detail
        super().__init__(description if detail is None else f"{description}: {detail}")


class InsufficientScopeError(ScopesError):
    """RFC 6750 §3.1 ``insufficient_scope``: the token is valid but lacks scopes.

    Carries the full :class:`~fastmcp_scopes.policy.Decision`, which has everything needed to render
    the 403 challenge, the JSON-RPC error and the audit event.
    """

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(decision.description)
