"""Concealment: a primitive the guard answers "not found" for is hidden from the server's own lookups for
that one request, so that the server itself gives the very answer it gives for a name it does not have.

The pipeline conceals (:func:`concealing`); an adapter wraps the server's lookups with :func:`unless_concealed`.
A context variable carries it, so it covers exactly the request being handled.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from fastmcp_scopes.settings import Kind

if TYPE_CHECKING:
    from fastmcp_scopes.operation import Operation
    from fastmcp_scopes.policy import Decision

__all__ = ["concealed", "concealing", "unless_concealed"]

# Names hidden from the server's own lookups for the current request only (see ``concealing``).
_concealed: ContextVar[frozenset[tuple[Kind, str]]] = ContextVar("fastmcp_scopes_concealed", default=frozenset())


def concealed(kind: Kind, target: str) -> bool:
    """Whether the server's lookups must answer "not found" for ``target`` during this request."""
    found = _concealed.get()
    return bool(found) and (kind, target) in found


@contextmanager
def concealing(decision: Decision, operation: Operation) -> Iterator[None]:
    """Hide ``operation``'s targets from the server's lookups while a ``not_found`` decision is answered
    by the server itself, so that nothing in the answer tells a hidden primitive from a missing one."""
    if decision.outcome != "not_found" or operation.kind is None or not operation.targets:
        yield
        return
    reset = _concealed.set(_concealed.get() | {(operation.kind, t) for t in operation.targets})
    try:
        yield
    finally:
        _concealed.reset(reset)


def _target(target: object, *_: object, **__: object) -> str:
    return str(target)


def unless_concealed(
    kind: Kind,
    lookup: Callable[..., Any],
    missing: Callable[[str], Any] = lambda target: None,
    *,
    target: Callable[..., str] = _target,
) -> Callable[..., Any]:
    """A server's own ``lookup`` (sync or async) answering ``missing(target)``, as for a primitive it does not
    have, while the target it is asked for is :func:`concealed`. ``target`` reads it from the call's arguments
    (by default the first)."""
    if inspect.iscoroutinefunction(lookup):

        async def masked(*args: Any, **kwargs: Any) -> Any:
            name = target(*args, **kwargs)
            return missing(name) if concealed(kind, name) else await lookup(*args, **kwargs)

        return masked

    def masked_sync(*args: Any, **kwargs: Any) -> Any:
        name = target(*args, **kwargs)
        return missing(name) if concealed(kind, name) else lookup(*args, **kwargs)

    return masked_sync
