"""Audit events are built for the handlers that write them: an event nobody would write costs its decision
nothing more, and a completion still names its decision and session, in whichever task or thread it ends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastmcp_scopes import Caller, ScopeGuard
from fastmcp_scopes.audit import (
    AUDIT_LOGGER,
    COMPLETION_LOGGER,
    completion_enabled,
    decision_id,
    decision_session,
    emit,
    emit_completion,
)
from fastmcp_scopes.policy import Decision


class Collect(logging.Handler):
    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(record.audit)  # type: ignore[attr-defined]


@contextmanager
def isolated() -> Iterator[tuple[logging.Logger, logging.Logger]]:
    """The audit and completion loggers at INFO without handlers, propagating no further than the audit logger,
    restored afterwards. Entered in the test itself: pytest attaches its capture handlers to the root logger and to
    every logger that does not propagate when the test starts."""
    audit, completion = logging.getLogger(AUDIT_LOGGER), logging.getLogger(COMPLETION_LOGGER)
    saved = [(log, log.level, log.propagate, list(log.handlers)) for log in (audit, completion)]
    audit.setLevel(logging.INFO)
    audit.propagate = False
    for log in (audit, completion):
        log.handlers.clear()
    try:
        yield audit, completion
    finally:
        for log, level, propagate, handlers in saved:
            log.setLevel(level)
            log.propagate = propagate
            log.handlers[:] = handlers


def allowed() -> Decision:
    return ScopeGuard().decide("tools/call", caller=Caller(frozenset({"a"}), subject="alice"), name="t", request_id=1)


def denied() -> Decision:
    guard = ScopeGuard(call_scopes={"tools": ["admin"]})
    return guard.decide("tools/call", caller=Caller(frozenset(), subject="eve"), name="t", request_id=2)


def test_no_completion_is_measured_for_nobody() -> None:
    with isolated() as (audit, _):
        audit.addHandler(logging.NullHandler())
        assert not completion_enabled()  # only the library's own kind of handler: nobody writes
        audit.addHandler(Collect(logging.WARNING))
        assert not completion_enabled()  # an INFO completion would reach no handler that takes it
        audit.addHandler(Collect(logging.INFO))
        assert completion_enabled()


def test_each_handler_gets_the_events_its_level_takes() -> None:
    with isolated() as (audit, _):
        warnings = Collect(logging.WARNING)
        audit.addHandler(warnings)
        emit(allowed(), clock=lambda: 0.0, session="s-1")
        emit(denied(), clock=lambda: 0.0, session="s-1")
    assert [(e["outcome"], e["session"]) for e in warnings.events] == [("insufficient_scope", "s-1")]


def test_a_completion_names_its_unwritten_decision() -> None:
    # Only completions are written: the decision event is not built, but its id and session are kept for them.
    with isolated() as (audit, completion):
        audit.addHandler(logging.NullHandler())
        written = Collect()
        completion.addHandler(written)
        completion.propagate = False  # restored by isolated()
        decision = allowed()
        emit(decision, clock=lambda: 0.0, session="s-2")
        emit_completion(
            decision,
            status="ok",
            now=0.0,
            duration=0.001,
            decision_id=decision_id(decision),
            session=decision_session(decision),
        )
    [event] = written.events
    assert event["decision_id"] is not None
    assert event["session"] == "s-2"


def test_a_decision_is_named_in_another_thread_and_never_borrowed() -> None:
    # A stateful mcp 1.x session ends a call in another task than the request that decided it.
    with isolated() as (audit, _):
        written = Collect()
        audit.addHandler(written)
        decision, other = allowed(), allowed()
        emit(decision, clock=lambda: 0.0, session="s-3")
    seen: list[tuple[str | None, str | None]] = []
    thread = threading.Thread(target=lambda: seen.append((decision_id(decision), decision_session(decision))))
    thread.start()
    thread.join()

    assert seen == [(written.events[0]["id"], "s-3")]
    assert other is not decision
    assert (decision_id(other), decision_session(other)) == (None, None)  # another decision: not the one logged


def test_decision_ids_are_unique() -> None:
    with isolated() as (audit, _):
        written = Collect()
        audit.addHandler(written)
        for _ in range(5000):
            emit(allowed(), clock=lambda: 0.0)
    ids = [e["id"] for e in written.events]
    assert len(set(ids)) == len(ids) == 5000
