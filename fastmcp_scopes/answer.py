"""Refusals as values: the HTTP status, headers and body of every answer the guard gives itself.

Built from what was decided (a :class:`~fastmcp_scopes.policy.Decision`, a request that could not be read,
a token that was refused) and rendered as it is by the HTTP layer; in-process hooks render the same
decision's :meth:`~fastmcp_scopes.policy.Decision.jsonrpc_error`. Rendering never works out again what
the decision already knew. RFC 6750 §3.1 keeps three answers apart: no credentials (401, no ``error``),
a bad token (401 ``invalid_token``), a malformed request (400 ``invalid_request``); a token without the
scopes gets 403 ``insufficient_scope``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastmcp_scopes.challenge import BearerChallenge, ErrorCode
from fastmcp_scopes.operation import INVALID_REQUEST, InvalidOperationError
from fastmcp_scopes.policy import Decision

__all__ = ["Answer"]

# policy_denied: 403 without a challenge (RFC 9110 §15.5.4); no scope would lift it, so none is asked for.
_STATUS = {
    "insufficient_scope": 403,
    "unauthenticated": 401,
    "invalid_params": 400,
    "method_not_found": 200,
    "policy_denied": 403,
}


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status, extra headers (``WWW-Authenticate``), JSON body."""

    status: int
    body: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()

    @classmethod
    def of(cls, decision: Decision, *, resource_metadata: str) -> Answer:
        """The answer to a refusing decision (not ``allow``, not ``not_found``: those the server answers)."""
        body = {"jsonrpc": "2.0", "id": decision.request_id, "error": decision.jsonrpc_error()}
        if decision.outcome in ("insufficient_scope", "unauthenticated"):
            challenge = decision.challenge(resource_metadata=resource_metadata)
            return cls(_STATUS[decision.outcome], body, (("www-authenticate", challenge.render()),))
        return cls(_STATUS[decision.outcome], body)

    @classmethod
    def invalid(cls, error: InvalidOperationError) -> Answer:
        """A request that cannot be read as one operation."""
        return cls(400, _jsonrpc_error(error.request_id, error.code, error.message))

    @classmethod
    def too_large(cls, limit: int) -> Answer:
        return cls(413, _jsonrpc_error(None, INVALID_REQUEST, f"Request body exceeds {limit} bytes"))

    @classmethod
    def unauthorized(cls, *, resource_metadata: str, scope: Sequence[str]) -> Answer:
        """No bearer credentials at all: a bare challenge naming the baseline scopes."""
        challenge = BearerChallenge(resource_metadata=resource_metadata, scope=tuple(scope))
        body = {"error": "unauthorized", "error_description": "An access token is required"}
        return cls(401, body, (("www-authenticate", challenge.render()),))

    @classmethod
    def invalid_token(cls, description: str, *, resource_metadata: str) -> Answer:
        return cls._bearer_error(401, "invalid_token", description, resource_metadata)

    @classmethod
    def invalid_request(cls, description: str, *, resource_metadata: str) -> Answer:
        return cls._bearer_error(400, "invalid_request", description, resource_metadata)

    @classmethod
    def _bearer_error(cls, status: int, error: ErrorCode, description: str, resource_metadata: str) -> Answer:
        challenge = BearerChallenge(error=error, error_description=description, resource_metadata=resource_metadata)
        body = {"error": error, "error_description": description}
        return cls(status, body, (("www-authenticate", challenge.render()),))


def _jsonrpc_error(request_id: str | int | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
