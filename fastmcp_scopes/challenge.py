"""RFC 6750 ``WWW-Authenticate: Bearer`` challenges and RFC 6749 §3.3 scope tokens.

Everything that can reach a header is validated when it enters the library (scope tokens at
declaration, URLs and descriptions when a challenge is built), then quoted when rendered. One
formatter serves every answer: 401 without credentials, 401 ``invalid_token``, 403
``insufficient_scope``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from fastmcp_scopes.errors import ConfigurationError, InvalidScopeError

__all__ = [
    "BearerChallenge",
    "ErrorCode",
    "format_scope",
    "parse_www_authenticate",
    "validate_scope_token",
]

ErrorCode = Literal["invalid_request", "invalid_token", "insufficient_scope"]
"""RFC 6750 §3.1 error codes."""

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# RFC 6749 §5.2 error_description and RFC 6750 quoted values: %x20-21 / %x23-5B / %x5D-7E
_QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_ERROR_CODES: frozenset[str] = frozenset({"invalid_request", "invalid_token", "insufficient_scope"})


def validate_scope_token(token: object, *, where: str | None = None) -> str:
    """Return ``token`` if it is an RFC 6749 §3.3 scope-token, else raise :class:`InvalidScopeError`."""
    if not isinstance(token, str) or not _SCOPE_TOKEN.fullmatch(token):
        raise InvalidScopeError(token, where=where)
    return token


def format_scope(scopes: Iterable[str]) -> str:
    """The RFC 6749 §3.3 ``scope`` value: sorted, de-duplicated, space-delimited."""
    return " ".join(sorted(set(scopes)))


def _check_quotable(name: str, value: str) -> str:
    if not _QUOTABLE.fullmatch(value):
        raise ConfigurationError(f"{name} {value!r} has characters that cannot appear in a WWW-Authenticate header")
    return value


@dataclass(frozen=True, slots=True)
class BearerChallenge:
    """One RFC 6750 §3 ``Bearer`` challenge. Attributes are validated at construction.

    - no credentials: ``BearerChallenge(resource_metadata=..., scope=baseline)`` (no ``error``, §3.1);
    - bad token: ``error="invalid_token"``, status 401;
    - valid token, missing scopes: ``error="insufficient_scope"`` with every scope the operation
      needs, status 403.
    """

    error: ErrorCode | None = None
    error_description: str | None = None
    scope: tuple[str, ...] = ()
    resource_metadata: str | None = None
    realm: str | None = None

    def __post_init__(self) -> None:
        if self.error is not None and self.error not in _ERROR_CODES:
            raise ConfigurationError(f"unknown RFC 6750 error code {self.error!r}")
        for scope in self.scope:
            validate_scope_token(scope, where="a challenge")
        for name in ("error_description", "resource_metadata", "realm"):
            value = getattr(self, name)
            if value is not None:
                _check_quotable(name, value)

    @property
    def status_code(self) -> int:
        """401 for no credentials and ``invalid_token``, 400 ``invalid_request``, 403 ``insufficient_scope``."""
        return {None: 401, "invalid_token": 401, "invalid_request": 400, "insufficient_scope": 403}[self.error]

    def render(self) -> str:
        """The header value, each attribute at most once, in a fixed order."""
        params: list[tuple[str, str]] = []
        if self.realm is not None:
            params.append(("realm", self.realm))
        if self.error is not None:
            params.append(("error", self.error))
        if self.error_description is not None:
            params.append(("error_description", self.error_description))
        if self.scope:
            params.append(("scope", format_scope(self.scope)))
        if self.resource_metadata is not None:
            params.append(("resource_metadata", self.resource_metadata))
        if not params:
            return "Bearer"
        return "Bearer " + ", ".join(f'{k}="{v}"' for k, v in params)


_AUTH_PARAM = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(,|$)')


def parse_www_authenticate(header: str) -> Mapping[str, str]:
    """Parse a single ``Bearer`` challenge into its auth-params (for clients, tests and the demo).

    Raises :class:`ValueError` on another scheme, a malformed parameter or a repeated one
    (RFC 6750 §3: each attribute MUST NOT appear more than once).
    """
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise ValueError(f"not a Bearer challenge: {header!r}")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _AUTH_PARAM.match(rest, pos)
        if match is None:
            raise ValueError(f"malformed auth-param at offset {pos} in {header!r}")
        name = match.group(1).lower()
        if name in params:
            raise ValueError(f"auth-param {name!r} appears more than once")
        quoted = match.group(2)
        params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        pos = match.end()
    return params
