"""Structured audit events: one per decision, allow or deny, with the caller's identity.

Events go to the ``fastmcp_scopes.audit`` logger at INFO (allow) or WARNING (deny) with the
JSON-ready event dict as ``extra={"audit": event}``, so any handler or formatter can ship it. The
token itself never appears: only ``sub``, ``client_id`` and ``iss``.

Text that comes from the request or the token (method, name, request id, identity, the token's
scopes) is bounded: each string is cut at :data:`MAX_TEXT` characters with a marker giving its
length, and at most :data:`MAX_SCOPES` granted scopes are listed, so a 200 KB tool name costs the log
a few hundred bytes, not 200 KB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, overload

if TYPE_CHECKING:
    from fastmcp_scopes.policy import Decision

__all__ = ["AUDIT_LOGGER", "MAX_SCOPES", "MAX_TEXT", "audit_event", "bounded", "emit"]

AUDIT_LOGGER = "fastmcp_scopes.audit"
_logger = logging.getLogger(AUDIT_LOGGER)

MAX_TEXT: Final = 256
"""Characters kept of each caller-supplied string in an audit event."""
MAX_SCOPES: Final = 64
"""Granted scopes listed in an audit event; more are counted, not listed."""


@overload
def bounded(value: str, limit: int = MAX_TEXT) -> str: ...
@overload
def bounded(value: str | int | None, limit: int = MAX_TEXT) -> str | int | None: ...
def bounded(value: str | int | None, limit: int = MAX_TEXT) -> str | int | None:
    """``value`` if its text has at most ``limit`` characters; otherwise its first ``limit`` characters
    and a marker with the full length (``"abc...[200000 characters]"``). Integers (JSON-RPC ids) are
    measured and cut in decimal; ``None`` passes through."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return value
    return f"{text[:limit]}...[{len(text)} characters]"


def _bounded_scopes(scopes: frozenset[str]) -> list[str]:
    listed = [bounded(scope) for scope in sorted(scopes)[:MAX_SCOPES]]
    if len(scopes) > MAX_SCOPES:
        # The marker holds a space, so it cannot be mistaken for a scope token (RFC 6749 §3.3).
        listed.append(f"...[{len(scopes)} scopes]")
    return listed


def audit_event(decision: Decision, *, now: float, transport: str | None = None) -> dict[str, Any]:
    """The JSON-ready event for ``decision`` at wall-clock time ``now`` (seconds since the epoch)."""
    caller = decision.caller
    return {
        "time": datetime.fromtimestamp(now, UTC).isoformat(),
        "method": bounded(decision.method),
        "name": bounded(decision.name),
        "outcome": decision.outcome,
        "caller": {
            "sub": bounded(caller.subject) if caller else None,
            "client_id": bounded(caller.client_id) if caller else None,
            "iss": bounded(caller.issuer) if caller else None,
        },
        "granted": _bounded_scopes(decision.granted.token_scopes),
        # Declared by the server (configuration, decorators, the schema), not by the caller.
        "required": decision.required.to_json(),
        "missing": sorted(decision.missing),
        "request_id": bounded(decision.request_id),
        "transport": transport,
    }


def emit(decision: Decision, *, clock: Callable[[], float], transport: str | None = None) -> None:
    """Log ``decision`` on the audit logger (cheap when the logger is disabled)."""
    level = logging.INFO if decision.allowed else logging.WARNING
    if not _logger.isEnabledFor(level):
        return
    event = audit_event(decision, now=clock(), transport=transport)
    _logger.log(
        level,
        # %r: the name and the caller come from the request and the token; quoted, a newline in them
        # cannot forge another line of a plain-text log.
        # Bounded like the event (the same values): a huge name makes neither one huge.
        "%s %r %r by %r",
        decision.outcome,
        event["method"],
        event["name"] or "",
        event["caller"]["sub"] or event["caller"]["client_id"] or "anonymous",
        extra={"audit": event},
    )
