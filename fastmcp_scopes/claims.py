"""Claims to scopes: roles and permissions an authorization server puts in other claims, mapped to scopes.

Keycloak puts realm roles in ``realm_access.roles`` and client roles in ``resource_access.<client>.roles``,
Auth0 its RBAC permissions in ``permissions``, Entra ID application roles in ``roles`` and delegated
permissions in ``scp`` (a space-delimited string), Okta its scopes in ``scp`` (an array). What a caller
holding such a value may do is decided once, centrally (``FASTMCP_SCOPES_CLAIM_SCOPES``)::

    {"realm_access.roles": {"research-agent": ["docs:read"]},
     "permissions": {"read:employees": ["employees:read"]}}

The granted scopes are the token's own scopes plus the mapped ones; the hierarchy applies after. The
scopes a challenge names stay scopes: a caller learns what to ask for, never which role would do.

A path is claim names joined by ``.``; ``\\.`` is a literal dot and ``\\\\`` a backslash, for claim names
that contain one (Auth0 namespaces custom claims with URLs: ``https://example\\.com/roles``).

Fail closed: a claim whose shape is not the expected one (the path walks into something other than a
JSON object, the value is neither a string nor an array of strings, or it holds more than
:data:`MAX_CLAIM_VALUES` values) grants nothing at all from that path, and is logged; the token's own
scopes and the other paths still count. Values are compared as exact, case-sensitive strings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastmcp_scopes.challenge import validate_scope_token

__all__ = ["MAX_CLAIM_VALUES", "ClaimScopes", "parse_claim_path"]

logger = logging.getLogger("fastmcp_scopes")

MAX_CLAIM_VALUES: Final = 1024
"""Most values one mapped claim may hold; a claim with more grants nothing (it is not a role list we
could have been configured for, and reading it would cost every request)."""
_MAX_PATH_SEGMENTS: Final = 16


def parse_claim_path(path: str) -> tuple[str, ...]:
    """The claim names of a dotted path (``realm_access.roles`` → ``("realm_access", "roles")``).

    Raises:
        ValueError: an empty path or segment, a dangling or unknown escape, or more than 16 segments.
    """
    if not isinstance(path, str) or not path:
        raise ValueError("a claim path must be a non-empty string such as 'realm_access.roles'")
    segments: list[str] = []
    current: list[str] = []
    escaped = False
    for char in path:
        if escaped:
            if char not in ".\\":
                raise ValueError(f"claim path {path!r}: only '\\.' and '\\\\' are escapes")
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise ValueError(f"claim path {path!r} ends in a lone backslash")
    segments.append("".join(current))
    if not all(segments):
        raise ValueError(f"claim path {path!r} has an empty segment (write a literal dot as '\\.')")
    if len(segments) > _MAX_PATH_SEGMENTS:
        raise ValueError(f"claim path {path!r} is deeper than {_MAX_PATH_SEGMENTS} segments")
    return tuple(segments)


@dataclass(frozen=True, slots=True)
class _Rule:
    path: str
    segments: tuple[str, ...]
    scopes_of: Mapping[str, frozenset[str]]


class ClaimScopes:
    """A compiled ``FASTMCP_SCOPES_CLAIM_SCOPES`` mapping: ``{claim path: {claim value: scopes}}``.

    ``scopes`` may be one scope or a list; each is checked against RFC 6749 §3.3 here, so a mapped
    scope can appear in a challenge or an audit event like any other.

    Raises:
        ValueError: at construction, naming the path or value that is wrong.
    """

    __slots__ = ("_rules",)

    def __init__(self, mapping: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        rules: list[_Rule] = []
        if not isinstance(mapping, Mapping):
            if mapping is not None:
                raise ValueError('expected a JSON object {"claim.path": {"value": ["scope", ...]}}')
            mapping = {}
        for path, values in mapping.items():
            segments = parse_claim_path(path)
            if not isinstance(values, Mapping) or not values:
                raise ValueError(f'claim path {path!r}: expected a non-empty object {{"value": ["scope", ...]}}')
            scopes_of: dict[str, frozenset[str]] = {}
            for value, scopes in values.items():
                if not isinstance(value, str) or not value:
                    raise ValueError(f"claim path {path!r}: claim values must be non-empty strings")
                listed = [scopes] if isinstance(scopes, str) else scopes
                if not isinstance(listed, list) or not listed:
                    raise ValueError(f"claim path {path!r}, value {value!r}: expected a scope or a list of scopes")
                where = f"the scopes of {path}={value}"
                scopes_of[value] = frozenset(validate_scope_token(s, where=where) for s in listed)
            rules.append(_Rule(path, segments, scopes_of))
        self._rules: tuple[_Rule, ...] = tuple(rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __repr__(self) -> str:
        return f"ClaimScopes({[rule.path for rule in self._rules]!r})"

    def scopes(self, claims: Mapping[str, Any] | None) -> frozenset[str]:
        """The scopes ``claims`` (a verified token's payload) map to; empty when none do.

        Never raises: a claim of the wrong shape grants nothing from its path (logged with the path, never
        the claim's content)."""
        if not self._rules or not isinstance(claims, Mapping):
            return frozenset()
        granted: set[str] = set()
        for rule in self._rules:
            for value in self._values(rule, claims):
                granted |= rule.scopes_of.get(value, frozenset())
        return frozenset(granted)

    @staticmethod
    def _values(rule: _Rule, claims: Mapping[str, Any]) -> list[str]:
        node: Any = claims
        for segment in rule.segments:
            if not isinstance(node, Mapping):
                # An array (or a string) where an object was expected: which element was meant cannot be
                # told, so the whole path grants nothing.
                logger.warning(
                    "fastmcp-scopes: claim %r is not a JSON object on its path; it grants no scope", rule.path
                )
                return []
            if segment not in node:
                return []  # the token does not carry this claim: the ordinary case
            node = node[segment]
        if isinstance(node, str):
            values = [v for v in node.split(" ") if v]  # a space-delimited list, as Entra's `scp`
        elif isinstance(node, list) and all(isinstance(v, str) for v in node):
            values = node
        else:
            logger.warning(
                "fastmcp-scopes: claim %r is neither a string nor an array of strings; it grants no scope", rule.path
            )
            return []
        if len(values) > MAX_CLAIM_VALUES:
            logger.warning(
                "fastmcp-scopes: claim %r holds %d values (more than %d); it grants no scope",
                rule.path,
                len(values),
                MAX_CLAIM_VALUES,
            )
            return []
        return values
