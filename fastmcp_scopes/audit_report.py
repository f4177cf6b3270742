"""What an operator wants first from a JSON-lines audit log (``fastmcp-scopes audit FILE``): denials and
step-ups per primitive and per caller, the scopes most often missing, and calls that failed after they were
allowed. Pure: it reads lines, it prints nothing.

Lines are the events :func:`fastmcp_scopes.audit.write_json_lines` writes; a log line whose JSON object holds
the event under ``"audit"`` (a formatter that dumps a record's extras) is read too. Anything else is counted
as skipped, never fatal: a log is often cut or mixed with other output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AuditSummary", "STEP_UP", "summarise"]

STEP_UP = "insufficient_scope"
"""The outcome a caller can cure by asking for more scopes (the 403 challenge); other refusals cannot."""
_FAILED = ("tool_error", "exception")


@dataclass
class _Tally:
    allowed: int = 0
    denied: int = 0
    step_ups: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "denied": self.denied,
            "step_ups": self.step_ups,
            "denials_by_outcome": dict(self.outcomes.most_common()),
            "failed_after_allow": self.failed,
            "errors": dict(self.errors.most_common()),
        }


@dataclass
class AuditSummary:
    """Counts from one audit log. ``primitives`` are keyed ``"tools/call update_salary"``; ``callers`` by
    ``sub`` (or ``client_id``, or ``"anonymous"``)."""

    lines: int = 0
    skipped: int = 0
    decisions: int = 0
    completions: int = 0
    primitives: dict[str, _Tally] = field(default_factory=dict)
    callers: dict[str, _Tally] = field(default_factory=dict)
    missing: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        """The summary as JSON; ``top`` limits the primitives, callers and missing scopes listed."""
        return {
            "lines": self.lines,
            "skipped": self.skipped,
            "decisions": self.decisions,
            "completions": self.completions,
            "completion_statuses": dict(self.statuses.most_common()),
            "primitives": {k: self.primitives[k].to_json() for k in _ranked(self.primitives, top)},
            "callers": {k: self.callers[k].to_json() for k in _ranked(self.callers, top)},
            "missing_scopes": dict(self.missing.most_common(top)),
        }


def _ranked(tallies: Mapping[str, _Tally], top: int | None) -> list[str]:
    # Most refused first, then most failed; the name breaks ties so that the order is stable.
    keys = sorted(tallies, key=lambda k: (-tallies[k].denied, -tallies[k].failed, -tallies[k].allowed, k))
    return keys if top is None else keys[:top]


def _event_of(line: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("audit"), dict):
        parsed = parsed["audit"]
    if not isinstance(parsed, dict) or not isinstance(parsed.get("method"), str):
        return None
    # Events logged before completion events existed have no "event" member: decisions.
    kind = parsed.get("event", "decision" if "outcome" in parsed else None)
    if kind not in ("decision", "completion"):
        return None
    return {**parsed, "event": kind}


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _caller_key(event: Mapping[str, Any]) -> str:
    caller = event.get("caller")
    if not isinstance(caller, Mapping):
        return "anonymous"
    return _text(caller.get("sub")) or _text(caller.get("client_id")) or "anonymous"


def summarise(lines: Iterable[str]) -> AuditSummary:
    """Count the audit events in ``lines`` (JSON lines; others are skipped)."""
    summary = AuditSummary()
    for line in lines:
        if not line.strip():
            continue
        summary.lines += 1
        event = _event_of(line)
        if event is None:
            summary.skipped += 1
            continue
        primitive = f"{event['method']} {_text(event.get('name'))}".rstrip()
        tallies = (
            summary.primitives.setdefault(primitive, _Tally()),
            summary.callers.setdefault(_caller_key(event), _Tally()),
        )
        if event["event"] == "decision":
            summary.decisions += 1
            outcome = _text(event.get("outcome"))
            for tally in tallies:
                if outcome == "allow":
                    tally.allowed += 1
                else:
                    tally.denied += 1
                    tally.step_ups += outcome == STEP_UP
                    tally.outcomes[outcome] += 1
            missing = event.get("missing")
            if outcome != "allow" and isinstance(missing, list):
                summary.missing.update(_text(scope) for scope in missing)
        else:
            summary.completions += 1
            status = _text(event.get("status"))
            summary.statuses[status] += 1
            if status in _FAILED:
                for tally in tallies:
                    tally.failed += 1
                    tally.errors[_text(event.get("error")) or status] += 1
    return summary
