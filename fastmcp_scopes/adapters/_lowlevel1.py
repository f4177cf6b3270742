"""The hook for servers on the mcp 1.x low-level ``Server`` (mcp 1.x ``FastMCP``, fastmcp 3.x), which has no
middleware: every entry of its ``request_handlers`` (keyed by request type, filled as handlers are
registered) is wrapped, so each request is decided by the pipeline before its handler runs, whichever
decorator registered it and whenever.

Refusals are raised from the wrapper, *outside* the handler: mcp 1.x's ``call_tool`` handler turns any
exception raised inside it into an ``isError`` tool result, code and ``data`` lost; raised here, the SDK
answers the JSON-RPC error whole. The caller is the current HTTP request's authenticated user where there is
one: a stateful 1.x session runs its handlers in the context of the request that created it, so the SDK's
``auth_context_var`` there holds that first request's token, not the current one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import import_module
from typing import Any

from fastmcp_scopes._compat import AuthenticatedUser, auth_context_var, mcp_error, types
from fastmcp_scopes.adapters import annotator
from fastmcp_scopes.claims import ClaimScopes
from fastmcp_scopes.http import caller_from_token
from fastmcp_scopes.operation import LISTED, METHODS, InvalidOperationError, Operation
from fastmcp_scopes.pipeline import Pipeline, Primitive
from fastmcp_scopes.policy import Caller, Decision
from fastmcp_scopes.settings import Kind

__all__ = ["Identify", "caller", "hook", "hooked"]

Identify = Callable[[Kind, Sequence[str]], Awaitable[Mapping[str, Primitive | None]]]
"""A listing's primitives, from their kind and identities (names, URIs or URI templates): all at once, as a server
whose lookups are asynchronous and costly (fastmcp) finds them faster in one listing of its own."""

_Handler = Callable[[Any], Awaitable[Any]]

# 1.x-only names, looked up at run time: the package is type-checked against mcp 2.x, where the low-level
# server keeps no request context variable and ServerResult is a union of result types, not a wrapper.
_lowlevel_server = import_module("mcp.server.lowlevel.server")
if not hasattr(_lowlevel_server, "request_ctx"):
    # An ImportError, so that ScopeGuard.install passes over the 1.x adapters beside mcp 2.x.
    raise ImportError("fastmcp_scopes.adapters._lowlevel1 needs the mcp 1.x low-level server")
request_ctx: Any = _lowlevel_server.request_ctx
_ServerResult: Any = types.ServerResult


def hook(lowlevel: Any, pipeline: Pipeline, identify: Identify) -> None:
    """Decide every request and notification ``lowlevel`` (an mcp 1.x ``Server``) handles, now and later.

    Raises:
        RuntimeError: a guard is already installed on this server.
    """
    if hooked(lowlevel):
        raise RuntimeError("a ScopeGuard is already installed on this server")
    lowlevel.request_handlers = _Guarded(
        lambda handler: _request(pipeline, identify, handler), lowlevel.request_handlers
    )
    lowlevel.notification_handlers = _Guarded(
        lambda handler: _notification(pipeline, handler), lowlevel.notification_handlers
    )


def hooked(lowlevel: Any) -> bool:
    """Whether a guard is already installed on ``lowlevel``."""
    return isinstance(lowlevel.request_handlers, _Guarded)


class _Guarded(dict[Any, _Handler]):
    """A handler table that wraps every handler put in it, so that one registered after ``install`` is
    guarded too (the SDK's decorators assign into the table)."""

    def __init__(self, wrap: Callable[[_Handler], _Handler], handlers: Mapping[Any, _Handler]) -> None:
        super().__init__()
        self._wrap = wrap
        for key, handler in handlers.items():
            self[key] = handler

    def __setitem__(self, key: Any, handler: _Handler) -> None:
        super().__setitem__(key, self._wrap(handler))


def caller(claim_scopes: ClaimScopes | None = None) -> Caller | None:
    """The caller of the request being handled: the current HTTP request's user, else the SDK's context."""
    context = request_ctx.get(None)
    request = getattr(context, "request", None)
    user = request.scope.get("user") if request is not None and hasattr(request, "scope") else None
    if not isinstance(user, AuthenticatedUser):
        user = auth_context_var.get()
    return caller_from_token(user.access_token, claim_scopes) if user is not None else None


def _operation(message: Any, request_id: str | int | None) -> Operation:
    params = message.params
    dumped = params.model_dump(by_alias=True, mode="json", exclude_none=True) if params is not None else None
    try:
        return Operation.of(message.method, dumped, request_id)
    except InvalidOperationError as err:
        raise mcp_error(err.code, err.message) from None


def _refusal(error: Mapping[str, Any]) -> Exception:
    return mcp_error(**error)


def _empty_completion(value: Mapping[str, Any]) -> Any:
    return _ServerResult(types.CompleteResult.model_validate(value))


def _request(pipeline: Pipeline, identify: Identify, handler: _Handler) -> _Handler:
    async def guarded(request: Any) -> Any:
        if request is None:
            # Not a client's request: the SDK refreshing its tool cache (Server._get_cached_tool_definition
            # calls the tools/list handler with None before validating a call's arguments).
            return await handler(request)
        context = request_ctx.get(None)
        operation = _operation(request, context.request_id if context is not None else None)
        who = caller(pipeline.guard.claim_scopes)

        async def proceed() -> Any:
            result = await handler(request)
            if operation.action != "list" or operation.method not in LISTED:
                return result
            decision = await pipeline.decide(operation, who)  # the one handed on: taken once, audited once
            return await _filtered(pipeline, identify, operation.method, result, decision)

        state = getattr(getattr(context, "request", None), "scope", {}).get("state")
        with pipeline.handed_in(state):  # a stateful session's handlers run in its own task, not the request's
            return await pipeline.run(operation, who, proceed, _refusal, _empty_completion)

    return guarded


def _notification(pipeline: Pipeline, handler: _Handler) -> _Handler:
    async def guarded(notification: Any) -> None:
        await pipeline.run(
            _operation(notification, None),
            caller(pipeline.guard.claim_scopes),
            lambda: handler(notification),
            _refusal,
        )

    return guarded


async def _filtered(pipeline: Pipeline, identify: Identify, method: str, result: Any, decision: Decision) -> Any:
    listing = getattr(result, "root", result)
    member, id_key = LISTED[method]
    items = getattr(listing, member, None)
    kind = METHODS[method].kind
    if not isinstance(items, list) or kind is None:
        return result
    found = await identify(kind, [str(key) for item in items if (key := getattr(item, id_key, None)) is not None])

    def primitive_of(item: Any) -> Primitive | None:
        key = getattr(item, id_key, None)
        return found.get(str(key)) if key is not None else None

    annotate = annotator(pipeline.guard, kind)
    kept = [
        item
        if annotate is None or (meta := annotate(own, item.meta, pipeline.is_public(primitive_of(item)))) is None
        else item.model_copy(update={"meta": meta})
        for item, own in pipeline.listed(decision, items, primitive_of)
    ]
    return _ServerResult(listing.model_copy(update={member: kept}))
