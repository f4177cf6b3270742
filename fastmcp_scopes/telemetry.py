"""OpenTelemetry, through ``opentelemetry-api`` only: the trace a request belongs to, for its audit events.

The API is a dependency of ``mcp`` 2.x; where it is missing (``pip install fastmcp-scopes[otel]``) nothing
here does anything. Without a configured SDK the API's spans are invalid and nothing is recorded.
"""

from __future__ import annotations

from typing import Any

__all__ = ["current_trace_id"]

_trace: Any
try:
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - an environment without the API (mcp 1.x lanes may lack it)
    _trace = None


def current_trace_id() -> str | None:
    """The W3C trace id (32 hex digits) of the span current in this context, or ``None`` when there is none
    (no SDK configured, no span, or no OpenTelemetry API installed)."""
    if _trace is None:
        return None
    context = _trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
