"""OpenTelemetry, through ``opentelemetry-api`` only: what the guard decided, on the request's span and in
two metrics.

- **Span attributes**, on the span current when a request is decided and when its hook runs (the request span
  the MCP SDK, the server or an ASGI instrumentation creates): ``fastmcp_scopes.outcome``,
  ``fastmcp_scopes.primitive`` (the name or URI, bounded), ``fastmcp_scopes.scopes.granted`` and
  ``fastmcp_scopes.scopes.missing`` (lists), and ``enduser.id`` (the token's ``sub``). Never the token.
- **Metrics** on the meter ``fastmcp_scopes``: the counter ``fastmcp_scopes.decisions`` and the histogram
  ``fastmcp_scopes.decision.duration`` (seconds), each by ``fastmcp_scopes.outcome``, ``mcp.method.name`` and
  ``fastmcp_scopes.primitive.kind`` (``tools``, ``prompts``, ``resources``). Names are left out of metrics on
  purpose: a caller can send any number of them, and every distinct value is a new time series.

The API comes with ``mcp`` 2.x; elsewhere ``pip install fastmcp-scopes[otel]``, and without it nothing here
does anything. Nothing is recorded either until the application configures an OpenTelemetry SDK (a tracer or
meter provider): the API alone gives spans that do not record and instruments that do nothing.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any, Final

from fastmcp_scopes.audit import bounded, listed_scopes

if TYPE_CHECKING:
    from fastmcp_scopes.operation import Operation
    from fastmcp_scopes.policy import Decision

__all__ = ["DECISIONS", "DECISION_DURATION", "METER", "annotate", "current_trace_id", "record"]

METER: Final = "fastmcp_scopes"
DECISIONS: Final = "fastmcp_scopes.decisions"
DECISION_DURATION: Final = "fastmcp_scopes.decision.duration"
# A decision takes microseconds; one that computes a per-call requirement, up to milliseconds. The SDK's default
# boundaries (0, 5, 10, ... 10000) are meant for milliseconds and would put every decision in the first bucket.
_BUCKETS: Final = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.1, 1.0)

_trace: Any
_metrics: Any
try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - an environment without the API (some mcp 1.x lanes)
    _trace = _metrics = None

# What a client sends as notifications (MCP 2025-11-25): any other method name counts as "_OTHER".
_NOTIFICATIONS: Final = frozenset(
    {
        "notifications/initialized",
        "notifications/cancelled",
        "notifications/progress",
        "notifications/roots/list_changed",
    }
)

# (counter, histogram), made on first use. Until an SDK is configured the API hands out proxies, which do nothing
# (a few tens of nanoseconds a call) and start recording once the application sets a meter provider.
_instruments: tuple[Any, Any] | None = None


def _instruments_now() -> tuple[Any, Any]:
    global _instruments
    if _instruments is not None:
        return _instruments
    meter = _metrics.get_meter(METER, _version())
    counter = meter.create_counter(DECISIONS, unit="{decision}", description="Guard decisions, by outcome")
    try:
        histogram = meter.create_histogram(
            DECISION_DURATION,
            unit="s",
            description="Time to decide a request",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
    except TypeError:  # an API before 1.23 takes no advisory
        histogram = meter.create_histogram(DECISION_DURATION, unit="s", description="Time to decide a request")
    _instruments = (counter, histogram)
    return _instruments


def _version() -> str | None:
    # From the installed distribution, not the package: importing the package from here would close a circle.
    try:
        return metadata.version("fastmcp-scopes")
    except metadata.PackageNotFoundError:
        return None


def annotate(decision: Decision) -> None:
    """Set ``decision``'s attributes on the current span, if one is recording."""
    if _trace is None:
        return
    span = _trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, Any] = {
        "fastmcp_scopes.outcome": decision.outcome,
        "fastmcp_scopes.scopes.granted": listed_scopes(decision.granted.token_scopes),
        "fastmcp_scopes.scopes.missing": sorted(decision.missing),
    }
    if decision.name is not None:
        attributes["fastmcp_scopes.primitive"] = bounded(decision.name)
    caller = decision.caller
    if caller is not None and caller.subject:
        attributes["enduser.id"] = bounded(caller.subject)
    span.set_attributes(attributes)


def record(decision: Decision, operation: Operation, seconds: float) -> None:
    """Count ``decision`` (taken in ``seconds``) and annotate the current span; nothing without an SDK."""
    if _metrics is None:
        return
    annotate(decision)
    counter, histogram = _instruments_now()
    attributes = {
        "fastmcp_scopes.outcome": decision.outcome,
        # A method the guard does not know is the caller's text: one value for all of them (the semantic
        # conventions' "_OTHER"), so a caller cannot create time series.
        "mcp.method.name": operation.method
        if operation.rule is not None or operation.method in _NOTIFICATIONS
        else "_OTHER",
        "fastmcp_scopes.primitive.kind": operation.kind or "none",
    }
    counter.add(1, attributes)
    histogram.record(seconds, attributes)


def current_trace_id() -> str | None:
    """The W3C trace id (32 hex digits) of the span current in this context, or ``None`` when there is none
    (no SDK configured, no span, or no OpenTelemetry API installed)."""
    if _trace is None:
        return None
    context = _trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
