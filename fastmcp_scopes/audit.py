"""Structured audit events: one per decision, allow or deny, with the caller's identity, and one when
a permitted call ends (:func:`emit_completion`: status, duration, result size), correlated with it.

Decisions go to the ``fastmcp_scopes.audit`` logger at INFO (allow) or WARNING (deny), completions to its
child ``fastmcp_scopes.audit.completion`` (INFO; WARNING when the call raised), each with the JSON-ready
event dict as ``extra={"audit": event}``, so any handler or formatter can ship it; a handler on
``fastmcp_scopes.audit`` receives both. ``write_json_lines("audit.jsonl")`` is the one-liner that writes
them as JSON lines. As in any library, nothing is printed unless the application configures logging (the
package's logger has a ``NullHandler``). The token itself never appears: only ``sub``, ``client_id`` and
``iss``. A call's arguments appear as names and sizes; their values only when the operator opts in
(``FASTMCP_SCOPES_AUDIT_ARGUMENT_VALUES``), through redaction rules.

Text that comes from the request or the token (method, name, request id, identity, the token's
scopes) is bounded: each string is cut at :data:`MAX_TEXT` characters with a marker giving its
length, and at most :data:`MAX_SCOPES` granted scopes are listed, so a 200 KB tool name costs the log
a few hundred bytes, not 200 KB.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, overload

if TYPE_CHECKING:
    from fastmcp_scopes.policy import Decision
    from fastmcp_scopes.requirements import Requirement

__all__ = [
    "AUDIT_LOGGER",
    "COMPLETION_LOGGER",
    "MAX_SCOPES",
    "MAX_TEXT",
    "REDACTED",
    "JSONLinesFormatter",
    "Status",
    "arguments_summary",
    "audit_event",
    "bounded",
    "completion_enabled",
    "completion_event",
    "decision_id",
    "decision_session",
    "emit",
    "emit_completion",
    "listed_scopes",
    "result_facts",
    "write_json_lines",
]

AUDIT_LOGGER = "fastmcp_scopes.audit"
COMPLETION_LOGGER = "fastmcp_scopes.audit.completion"
_logger = logging.getLogger(AUDIT_LOGGER)
_completion_logger = logging.getLogger(COMPLETION_LOGGER)
# A library configures no output: without this, Python's last-resort handler would print WARNING events
# (denials) to stderr in an application that never asked for logging.
logging.getLogger("fastmcp_scopes").addHandler(logging.NullHandler())

Status = Literal["ok", "tool_error", "exception", "cancelled"]
"""How a permitted call ended: a result, a result marked ``isError``, an exception, or cancellation."""
REDACTED: Final = "[redacted]"
_MAX_ARGUMENTS: Final = 64
_MAX_DEPTH: Final = 8

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
    if value is None or (type(value) is str and len(value) <= limit):
        return value  # the usual value, decided without a call (an event bounds up to seven)
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return value
    return f"{text[:limit]}...[{len(text)} characters]"


# The last second formatted, with its text: an event writes only its microseconds (datetime.isoformat() for
# every event was a sixth of an event's cost). Replaced whole, so threads at worst format a second twice.
_second: tuple[int, str] = (-1, "")


def _iso(now: float) -> str:
    """``now`` (seconds since the epoch) as ``datetime.fromtimestamp(now, UTC).isoformat()`` writes it."""
    global _second
    whole = math.floor(now)
    micro = round((now - whole) * 1e6)
    if micro == 1_000_000:
        whole, micro = whole + 1, 0
    cached = _second
    if cached[0] != whole:
        cached = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _second = cached
    return f"{cached[1]}.{micro:06d}+00:00" if micro else f"{cached[1]}+00:00"


# A token's scopes, as events list them: the same set arrives with every request of its token, and sorting it
# was a fifth of an event's cost. Emptied when full (tokens come and go; a few hundred grants cover a server).
_listed_scopes: dict[frozenset[str], tuple[str, ...]] = {}
_MAX_LISTED: Final = 512


def listed_scopes(scopes: frozenset[str]) -> list[str]:
    """``scopes`` as events (and span attributes) list them: sorted, each bounded, at most :data:`MAX_SCOPES`."""
    listed = _listed_scopes.get(scopes)
    if listed is None:
        if len(_listed_scopes) >= _MAX_LISTED:
            _listed_scopes.clear()
        listed = _listed_scopes[scopes] = tuple(_scope_list(scopes))
    return list(listed)  # each event its own list: a handler may change it


# A requirement as events list it: requirements are the server's, a few per primitive, each sorted once.
_listed_requirements: dict[Requirement, tuple[tuple[str, ...], ...]] = {}


def _required(requirement: Requirement) -> list[list[str]]:
    listed = _listed_requirements.get(requirement)
    if listed is None:
        if len(_listed_requirements) >= _MAX_LISTED:
            _listed_requirements.clear()
        listed = _listed_requirements[requirement] = tuple(map(tuple, requirement.to_json()))
    return [list(alternative) for alternative in listed]  # each event its own lists: a handler may change them


def _scope_list(scopes: frozenset[str]) -> list[str]:
    if len(scopes) <= MAX_SCOPES and max(map(len, scopes), default=0) <= MAX_TEXT:
        return sorted(scopes)  # the usual token: nothing to cut
    listed = [bounded(scope) for scope in sorted(scopes)[:MAX_SCOPES]]
    if len(scopes) > MAX_SCOPES:
        # The marker holds a space, so it cannot be mistaken for a scope token (RFC 6749 §3.3).
        listed.append(f"...[{len(scopes)} scopes]")
    return listed


def audit_event(
    decision: Decision, *, now: float, transport: str | None = None, session: str | None = None
) -> dict[str, Any]:
    """The JSON-ready event for ``decision`` at wall-clock time ``now`` (seconds since the epoch), taken in the MCP
    ``session`` (over HTTP its ``Mcp-Session-Id``; ``None``: none known); a refusal by the policy hook adds its
    ``reason``."""
    event: dict[str, Any] = {
        "event": "decision",
        "time": _iso(now),
        "method": bounded(decision.method),
        "name": bounded(decision.name),
        "outcome": decision.outcome,
        "caller": _caller_of(decision),
        "granted": listed_scopes(decision.granted.token_scopes),
        # Declared by the server (configuration, decorators, the schema), not by the caller.
        "required": _required(decision.required),
        "missing": sorted(decision.missing),
        "request_id": bounded(decision.request_id),
        "transport": transport,
        "session": bounded(session),
        # A refusal's 403 scope: the operation's ("precise") or with the token's too ("union"); null otherwise.
        "challenge": decision.challenge_mode,
    }
    if decision.reason is not None:
        event["reason"] = bounded(decision.reason)
    return event


def _caller_of(decision: Decision) -> dict[str, Any]:
    caller = decision.caller
    if caller is not None and caller.anonymous:
        # No token at all, on a server where something is public: named as such, never mistaken for an identity.
        return {"sub": None, "client_id": None, "iss": None, "anonymous": True}
    return {
        "sub": bounded(caller.subject) if caller else None,
        "client_id": bounded(caller.client_id) if caller else None,
        "iss": bounded(caller.issuer) if caller else None,
    }


# The id and session each recent decision was logged with, by the decision's identity (kept in the entry, so that
# an id() is not reused while it is listed): the call's completion event names them. Not a context variable: a
# stateful mcp 1.x session runs the call in its own task, which the context of the request that decided it does
# not reach, while the decision itself is handed on. Bounded: a completion more than this many decisions later
# names no decision id (and no session).
_logged: dict[int, tuple[Decision, str, str | None]] = {}
_MAX_LOGGED: Final = 1024

# Decision ids: request ids repeat across sessions (every client starts at 1), these do not. A random prefix per
# process (drawn again in a forked child, which would otherwise repeat its parent's ids) and a counter: unique
# like a random id per event, without a system call per event.
_ids = itertools.count(1)
_id_prefix = os.urandom(5).hex()


def _new_id_prefix() -> None:
    global _id_prefix, _ids
    _id_prefix, _ids = os.urandom(5).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)


def _listened(logger: logging.Logger, level: int) -> bool:
    """Whether a record of ``level`` on ``logger`` would reach a handler that does something with it: one that is not
    a ``NullHandler`` (the library's own) and whose level lets it through, on the logger or, while records propagate,
    an ancestor; or Python's last resort, when no handler is found at all. Nobody listening, an event costs nothing
    more to build."""
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if level >= handler.level and not isinstance(handler, logging.NullHandler):
                return True
        current = current.parent if current.propagate else None
    last_resort = logging.lastResort
    return not found and last_resort is not None and level >= last_resort.level


def emit(
    decision: Decision, *, clock: Callable[[], float], transport: str | None = None, session: str | None = None
) -> None:
    """Log ``decision`` on the audit logger (nothing is built when no handler would write it): :func:`audit_event`
    with a unique ``id``, which the completion event of the call it permits names as its ``decision_id``
    (:func:`decision_id`), and its ``session`` too (:func:`decision_session`)."""
    level = logging.INFO if decision.allowed else logging.WARNING
    if not _logger.isEnabledFor(level):
        return
    decision_id = f"{_id_prefix}{next(_ids):06x}"
    _logged[id(decision)] = (decision, decision_id, session)
    if len(_logged) > _MAX_LOGGED:
        # The oldest (dicts keep insertion order); another thread changing it meanwhile: the next call trims it.
        with contextlib.suppress(RuntimeError):
            _logged.pop(next(iter(_logged)), None)
    if not _listened(_logger, level):
        return
    event = audit_event(decision, now=clock(), transport=transport, session=session)
    event["id"] = decision_id
    _log(
        _logger,
        level,
        # %r: the name and the caller come from the request and the token; quoted, a newline in them
        # cannot forge another line of a plain-text log.
        # Bounded like the event (the same values): a huge name makes neither one huge.
        "%s %r %r by %r",
        (
            decision.outcome,
            event["method"],
            event["name"] or "",
            event["caller"]["sub"] or event["caller"]["client_id"] or "anonymous",
        ),
        event,
    )


def _log(logger: logging.Logger, level: int, message: str, args: tuple[object, ...], event: dict[str, Any]) -> None:
    # What Logger.log does, less its walk up the stack for the calling line (findCaller): that walk is a third
    # of an event's cost, spent naming a line of this module that every event shares anyway.
    record = logger.makeRecord(logger.name, level, __file__, 0, message, args, None, "emit", {"audit": event})
    logger.handle(record)


# -- completion events ---------------------------------------------------------------------------------


def decision_id(decision: Decision) -> str | None:
    """The ``id`` of the audit event logged for ``decision`` (``None``: none was, or too long ago)."""
    logged = _logged.get(id(decision))
    return logged[1] if logged is not None and logged[0] is decision else None


def decision_session(decision: Decision) -> str | None:
    """The MCP session the audit event for ``decision`` was logged in (``None``: none known)."""
    logged = _logged.get(id(decision))
    return logged[2] if logged is not None and logged[0] is decision else None


@lru_cache(maxsize=16)
def _patterns(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    # Settings validate each pattern at start-up; here they are only joined, once per configuration.
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _json_size(value: object) -> int | None:
    try:
        return len(json.dumps(value, ensure_ascii=False, default=str).encode())
    except (TypeError, ValueError, RecursionError):  # a cycle, or a value JSON cannot hold
        return None


def _type_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _redacted(value: object, keys: re.Pattern[str] | None, values: re.Pattern[str] | None, depth: int = 0) -> object:
    """``value`` with every member under a matching key and every matching piece of text replaced, bounded."""
    if isinstance(value, str):
        return bounded(values.sub(REDACTED, value) if values is not None else value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return f"...[{_type_of(value)}]"
    if isinstance(value, Mapping):
        items = list(value.items())
        shown: dict[str, object] = {}
        for key, member in items[:_MAX_ARGUMENTS]:
            name = bounded(str(key))
            secret = keys is not None and keys.search(str(key)) is not None
            shown[name] = REDACTED if secret else _redacted(member, keys, values, depth + 1)
        if len(items) > _MAX_ARGUMENTS:
            shown["..."] = f"[{len(items)} members]"
        return shown
    if isinstance(value, list | tuple):
        listed = [_redacted(v, keys, values, depth + 1) for v in value[:_MAX_ARGUMENTS]]
        if len(value) > _MAX_ARGUMENTS:
            listed.append(f"...[{len(value)} items]")
        return listed
    return f"...[{_type_of(value)}]"  # not JSON: only its type, never its repr


def arguments_summary(
    arguments: Mapping[str, Any],
    *,
    values: bool = False,
    redact_keys: Iterable[str] = (),
    redact_values: Iterable[str] = (),
) -> dict[str, Any]:
    """A call's arguments as an audit event shows them: by default each name with its JSON type and size in
    bytes (``{"employee": {"type": "string", "size": 7}}``); with ``values``, each value too, after redaction:
    a member whose key matches one of ``redact_keys`` (regular expressions, searched) is replaced by
    :data:`REDACTED` whole, and every piece of text matching one of ``redact_values`` within a string.
    Names and strings are bounded (:func:`bounded`), at most 64 arguments and 64 members of a collection
    are listed, and nesting is cut after 8 levels."""
    keys = _patterns(tuple(redact_keys)) if values else None
    texts = _patterns(tuple(redact_values)) if values else None
    items = list(arguments.items())
    summary: dict[str, Any] = {}
    for name, value in items[:_MAX_ARGUMENTS]:
        shown: dict[str, Any] = {"type": _type_of(value), "size": _json_size(value)}
        if values:
            secret = keys is not None and keys.search(str(name)) is not None
            shown["value"] = REDACTED if secret else _redacted(value, keys, texts)
        summary[bounded(str(name))] = shown
    if len(items) > _MAX_ARGUMENTS:
        summary["..."] = {"type": "more", "size": len(items)}
    return summary


def result_facts(result: object) -> tuple[bool, int | None]:
    """Whether a server's result is a tool error (``isError``), and its size in bytes as JSON (``None``: it
    cannot be measured). Results come as dicts (MCPServer), pydantic models, or models wrapped in a root."""
    root = getattr(result, "root", None)
    if root is not None and hasattr(root, "model_dump_json"):
        result = root
    if isinstance(result, Mapping):
        return result.get("isError") is True, _json_size(result)
    is_error = getattr(result, "isError", None)
    if is_error is None:
        is_error = getattr(result, "is_error", None)
    dump = getattr(result, "model_dump_json", None)
    size: int | None = None
    if callable(dump):
        try:
            size = len(dump(by_alias=True, exclude_none=True).encode())
        except Exception:  # a model that cannot serialise itself: no size, the event still goes out
            size = None
    return is_error is True, size


def completion_event(
    decision: Decision,
    *,
    status: Status,
    now: float,
    duration: float,
    arguments: Mapping[str, Any] | None = None,
    result_bytes: int | None = None,
    error: str | None = None,
    decision_id: str | None = None,
    trace_id: str | None = None,
    session: str | None = None,
) -> dict[str, Any]:
    """The JSON-ready event for a permitted call that ended with ``status`` at wall-clock ``now`` after
    ``duration`` seconds (measured on a monotonic clock). ``arguments``: see :func:`arguments_summary`;
    ``error``: the exception's type name (never its message, which may repeat the caller's input)."""
    return {
        "event": "completion",
        "time": _iso(now),
        "method": bounded(decision.method),
        "name": bounded(decision.name),
        "status": status,
        "error": error,
        "duration_ms": round(duration * 1000, 3),
        "result_bytes": result_bytes,
        "arguments": arguments,
        "caller": _caller_of(decision),
        "request_id": bounded(decision.request_id),
        "decision_id": decision_id,
        "session": bounded(session),
        "trace_id": trace_id,
    }


def completion_enabled() -> bool:
    """Whether any completion event would be written: the cheapest level, INFO, is enabled, and a handler would
    write it (so a call's arguments and result are not measured for nobody)."""
    return _completion_logger.isEnabledFor(logging.INFO) and _listened(_completion_logger, logging.INFO)


def emit_completion(decision: Decision, *, status: Status, **facts: Any) -> None:
    """Log the end of the call ``decision`` permitted (see :func:`completion_event` for ``facts``): at WARNING
    when it raised, INFO otherwise."""
    level = logging.WARNING if status == "exception" else logging.INFO
    if not _completion_logger.isEnabledFor(level) or not _listened(_completion_logger, level):
        return
    event = completion_event(decision, status=status, **facts)
    _log(
        _completion_logger,
        level,
        "%s %r %r by %r in %.3f ms",  # %r: see emit
        (
            status,
            event["method"],
            event["name"] or "",
            event["caller"]["sub"] or event["caller"]["client_id"] or "anonymous",
            event["duration_ms"],
        ),
        event,
    )


# -- JSON lines ----------------------------------------------------------------------------------------


class JSONLinesFormatter(logging.Formatter):
    """Formats an audit record as its event, one JSON object per line (records without one: their message,
    as ``{"message": ...}``). Non-ASCII text is escaped, so every line is plain ASCII."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "audit", None)
        return _ENCODER.encode(event if isinstance(event, dict) else {"message": record.getMessage()})


# One encoder for every line: json.dumps with an option builds a new one per call.
_ENCODER: Final = json.JSONEncoder(default=str)


def write_json_lines(target: str | Path | IO[str] | None = None, *, level: int = logging.INFO) -> logging.Handler:
    """Write every audit event (decisions and completions) as JSON lines to ``target``, a file name (appended
    to) or a text stream (standard error by default), and return the handler (to remove it later)::

        fastmcp_scopes.audit.write_json_lines("audit.jsonl")

    ``fastmcp-scopes audit audit.jsonl`` then summarises the file. Sets the audit logger's level to ``level``
    when it is not already lower: INFO includes allowed calls, WARNING only denials and exceptions."""
    handler: logging.Handler
    if target is None or not isinstance(target, str | Path):
        handler = logging.StreamHandler(target if target is not None else sys.stderr)
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(JSONLinesFormatter())
    _logger.addHandler(handler)
    if _logger.level == logging.NOTSET or _logger.level > level:
        _logger.setLevel(level)
    return handler
