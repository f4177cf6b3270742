"""Structured audit events: one per decision, allow or deny, with the caller's identity.

Events go to the ``fastmcp_scopes.audit`` logger at INFO (allow) or WARNING (deny) with the
JSON-ready event dict as ``extra={"audit": event}``, so any handler or formatter can ship it. The
token itself never appears: only ``sub``, ``client_id`` and ``iss``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastmcp_scopes.policy import Decision

__all__ = ["AUDIT_LOGGER", "audit_event", "emit"]

AUDIT_LOGGER = "fastmcp_scopes.audit"
_logger = logging.getLogger(AUDIT_LOGGER)


def audit_event(decision: Decision, *, now: float, transport: str | None = None) -> dict[str, Any]:
    """The JSON-ready event for ``decision`` at wall-clock time ``now`` (seconds since the epoch)."""
    caller = decision.caller
    return {
        "time": datetime.fromtimestamp(now, UTC).isoformat(),
        "method": decision.method,
        "name": decision.name,
        "outcome": decision.outcome,
        "caller": {
            "sub": caller.subject if caller else None,
            "client_id": caller.client_id if caller else None,
            "iss": caller.issuer if caller else None,
        },
        "granted": sorted(decision.granted.token_scopes),
        "required": decision.required.to_json(),
        "missing": sorted(decision.missing),
        "request_id": decision.request_id,
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
        "%s %r %r by %r",
        decision.outcome,
        decision.method,
        decision.name or "",
        event["caller"]["sub"] or event["caller"]["client_id"] or "anonymous",
        extra={"audit": event},
    )
