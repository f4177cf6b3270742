"""The one guarded request pipeline every server lineage runs: operation → primitive → decision → answer.

An adapter supplies a :class:`Registry`, which finds a server's primitives with the server's own rules
(names, hashed names, mounted servers, URIs in template order), and hooks the server's listings and
calls. Everything else happens here, once, for every lineage and both transports:

1. the operation is read once (:class:`~fastmcp_scopes.operation.Operation`);
2. each primitive it reaches is resolved exactly as the server's dispatcher resolves it;
3. the static requirement (layers and the primitive's own scopes) is decided first; only a request that
   passes it has a per-call requirement computed, off the event loop, and a failure there is a refusal;
4. the :class:`~fastmcp_scopes.policy.Decision` is audited once and handed on: over HTTP the server's own
   hook finds it already taken for that very request (:meth:`Pipeline.handing`);
5. a primitive answered "not found" is concealed from the server's lookups for that one request
   (:mod:`fastmcp_scopes.concealment`), so the server itself gives the answer it gives for a name it does not have.

Pure apart from ``asyncio`` and ``logging``: no server framework.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, Protocol, TypeVar

from fastmcp_scopes import audit, telemetry
from fastmcp_scopes.anonymous import ANONYMOUS, PublicPrimitives
from fastmcp_scopes.concealment import concealing
from fastmcp_scopes.decorators import ScopeDeclaration
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.operation import INVALID_PARAMS, NOT_FOUND_REPLIES, Operation
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard
from fastmcp_scopes.policy_hook import PolicyCheck, PolicyOperation, annotations_of
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import Kind

__all__ = [
    "HANDED_STATE",
    "InstallReport",
    "authorize",
    "Pipeline",
    "Primitive",
    "Registry",
]

logger = logging.getLogger("fastmcp_scopes")

_T = TypeVar("_T")
_CACHE_SIZE = 4096
_PER_CALL_METHODS = frozenset({"tools/call", "prompts/get"})


@dataclass(frozen=True, slots=True)
class Primitive:
    """A tool, prompt, resource or resource template as its server registered it."""

    kind: Kind
    key: str
    """Its identity in listings and ``FASTMCP_SCOPES_TOOL_SCOPES``: a name, a URI, or a URI template."""
    declaration: ScopeDeclaration | None
    annotations: Any = field(default=None, compare=False)
    """Its annotations as the server holds them (``ToolAnnotations``, ...), for the policy hook."""


class Registry(Protocol):
    """How one server finds its primitives. Supplied by the server's adapter; the only lineage-specific
    part of deciding a request."""

    def primitives(self) -> Iterable[Primitive]:
        """Everything registered, mounted servers' primitives included (at install: reported, resolved)."""
        ...

    async def resolve(self, kind: Kind, target: str, operation: Operation) -> Primitive | None:
        """The primitive the server's dispatcher runs for ``target`` in ``operation`` (``None``: it would
        answer "not found"). Completion refs name a prompt or a resource template by its identity."""
        ...


@dataclass(frozen=True, slots=True)
class InstallReport:
    """What ``install`` found: primitives without declared scopes, as ``"tools:name"``."""

    undeclared: tuple[str, ...]


# The decision already taken for the request being handled, and the operation it was taken on.
_handed: ContextVar[tuple[Decision, Operation] | None] = ContextVar("fastmcp_scopes_handed", default=None)


# The pipeline, caller and refusal of the request being handled, for what a handler does on its behalf.
_serving: ContextVar[tuple[Pipeline, Caller | None, Callable[[Mapping[str, Any]], Exception]] | None] = ContextVar(
    "fastmcp_scopes_serving", default=None
)


async def authorize(method: str, params: Mapping[str, Any]) -> Decision:
    """Decide, as the caller of the request being handled, an operation a handler is about to perform on
    the caller's behalf (``await authorize("resources/read", {"uri": uri})`` before ``ctx.read_resource(uri)``).
    A server's own reads skip its guard; this one is decided and audited like the caller's own request.

    Raises:
        Exception: the server's own JSON-RPC error (``MCPError``) carrying the refusal, which servers pass on
            to the caller unchanged, so that it can step up; a hidden or missing primitive is refused alike.
        RuntimeError: called outside a request to a guarded server.
    """
    serving = _serving.get()
    if serving is None:
        raise RuntimeError("authorize() decides for the caller of a guarded request; none is being handled")
    pipeline, caller, refusal = serving
    operation = Operation.of(method, params, "on-behalf")
    decision = await pipeline.decide(operation, caller, on_behalf=True)
    if decision.outcome == "not_found":  # hidden or missing, refused alike before the handler's own lookup
        raise refusal({"code": INVALID_PARAMS, "message": f"Unknown {(operation.kind or 'primitives')[:-1]}"})
    if not decision.allowed:
        raise refusal(decision.jsonrpc_error())
    return decision


HANDED_STATE = "fastmcp_scopes.handed"
"""The key of ``(decision, operation)`` in an HTTP request's ASGI ``state``."""


class Pipeline:
    """Decides requests for one server: a :class:`ScopeGuard` and that server's :class:`Registry`."""

    tool_errors: tuple[type[BaseException], ...] = ()
    """Exceptions a server answers, above the adapter's hook, as a tool result marked ``isError`` (fastmcp's
    ``ToolError``): a call ending with one is audited as a ``tool_error``, as where the server returns the result
    itself. Set by the adapter."""

    def __init__(
        self,
        guard: ScopeGuard,
        registry: Registry,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.guard = guard
        self.registry = registry
        self.clock = clock
        self._own: dict[tuple[Kind, str], tuple[ScopeDeclaration | None, Requirement | None]] = {}
        s = guard.settings
        self.policy = (
            None
            if guard.policy_hook is None
            else PolicyCheck(
                guard.policy_hook,
                timeout=s.policy_hook_timeout,
                cache_seconds=s.policy_cache_seconds,
                cache_size=s.policy_cache_size,
            )
        )
        """The guard's deny-only hook, asked once a call's scopes allow it (``None``: no hook)."""
        self.public = PublicPrimitives(guard.settings)
        self.anonymous = self.public.configured
        """Whether something is public, so that a request without a token has an anonymous caller instead of its
        refusal (:mod:`fastmcp_scopes.anonymous`); set again by :meth:`install_report`."""

    @classmethod
    def installed(
        cls, guard: ScopeGuard, registry: Registry, *, required_scopes: Iterable[str] | None = ()
    ) -> tuple[Pipeline, InstallReport]:
        """The pipeline of a server being guarded, and its install report: the server's own
        ``required_scopes`` join the connect layer, and every registered primitive is resolved now.

        Raises:
            ConfigurationError: see :meth:`install_report`.
        """
        if required_scopes:
            guard.require_for_every_request(required_scopes)
        pipeline = cls(guard, registry)
        return pipeline, pipeline.install_report()

    # -- requirements -------------------------------------------------------------------------------

    def requirement(self, primitive: Primitive) -> Requirement | None:
        """A primitive's own static requirement (``None``: undeclared), remembered per declaration.

        Raises:
            ConfigurationError: a declaration that cannot be resolved.
        """
        # By identity: hashing a declaration (a tree of frozen values) costs more than the decision itself.
        key = (primitive.kind, primitive.key)
        cached = self._own.get(key)
        if cached is not None and cached[0] is primitive.declaration:
            return cached[1]
        own = self.public.own_requirement(primitive.kind, primitive.key, primitive.declaration)
        if own is None:
            own = self.guard.own_requirement(primitive.kind, primitive.key, primitive.declaration)
        if len(self._own) >= _CACHE_SIZE:
            self._own.clear()  # keys are what the server registers, but servers can register without bound
        self._own[key] = (primitive.declaration, own)
        return own

    def install_report(self) -> InstallReport:
        """Resolve every registered primitive's requirement (one that cannot be computed stops start-up),
        check that ``FASTMCP_SCOPES_TOOL_SCOPES`` names real tools, and list the undeclared primitives.

        Raises:
            ConfigurationError: an unresolvable declaration, or a tool scope for a tool the server lacks.
        """
        primitives = list(self.registry.primitives())
        undeclared = [f"{p.kind}:{p.key}" for p in primitives if self.requirement(p) is None]
        tools = sorted({p.key for p in primitives if p.kind == "tools"})
        for name in self.guard.settings.tool_scopes:
            if name not in tools:
                close = get_close_matches(name, tools, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; the server's tools are {tools}"
                raise ConfigurationError(f"FASTMCP_SCOPES_TOOL_SCOPES names {name!r}, which is not a tool{hint}")
        if undeclared:
            policy = "refused" if self.guard.settings.undeclared == "deny" else "allowed under the layered scopes"
            logger.warning("fastmcp-scopes: no scopes declared for %s (%s)", ", ".join(undeclared), policy)
        self.anonymous = self.public.check((p.kind, p.key, p.declaration) for p in primitives)
        return InstallReport(undeclared=tuple(undeclared))

    def refresh_public(self) -> None:
        """Learn again whether something is public, from what the server has registered now: its HTTP app is built
        after ``install``, and a primitive registered in between is public over HTTP too.

        Raises:
            ConfigurationError: as :meth:`PublicPrimitives.check`.
        """
        self.anonymous = self.public.check((p.kind, p.key, p.declaration) for p in self.registry.primitives())

    # -- deciding -----------------------------------------------------------------------------------

    async def decide(
        self,
        operation: Operation,
        caller: Caller | None,
        *,
        transport: str | None = None,
        session: str | None = None,
        on_behalf: bool = False,
    ) -> Decision:
        """The decision for ``operation``, taken once: the one already handed on for this very request
        (:meth:`handing`), or a new one, audited in the MCP ``session`` (over HTTP, its ``Mcp-Session-Id``), which
        the call's completion event names too. ``on_behalf``: a handler acts for its caller (:func:`authorize`),
        so a target that does not exist is "not found" here, as a hidden one is."""
        handed = _handed.get()
        if handed is not None and handed[0].caller is ANONYMOUS:
            caller = ANONYMOUS  # the HTTP layer found no token: whatever a later layer finds, this request has none
        elif caller is None and self.anonymous and self.guard.settings.stdio_scopes is None:
            caller = ANONYMOUS  # in-process or stdio without a token, where something is public
        if handed is not None:
            decision, decided = handed
            # The same request, read by another layer: its method, id (a server may hold it as a string),
            # targets and arguments. A middleware in between that rewrote any of them gets a new decision.
            if (
                decided.method == operation.method
                and str(decided.request_id) == str(operation.request_id)
                and decided.targets == operation.targets
                and decided.arguments == operation.arguments
            ):
                return decision
        start = time.perf_counter()
        decision = await self._decide(operation, caller, on_behalf)
        telemetry.record(decision, operation, time.perf_counter() - start)
        if self.guard.settings.audit:
            audit.emit(decision, clock=self.clock, transport=transport, session=session)
        return decision

    async def run(
        self,
        operation: Operation,
        caller: Caller | None,
        proceed: Callable[[], Awaitable[_T]],
        refusal: Callable[[Mapping[str, Any]], Exception],
        result: Callable[[Mapping[str, Any]], _T] | None = None,
    ) -> _T | None:
        """Decide ``operation`` and act on it, as every adapter's request hook does: ``proceed`` (the server's
        own handling) with the decision handed on; with the targets concealed when the server is to answer
        "not found"; or raise ``refusal(error)``, the server's own exception for a JSON-RPC ``error``. A refused
        notification is dropped (``None``): it gets no answer. ``result`` builds the server's result for a
        :data:`~fastmcp_scopes.operation.NOT_FOUND_REPLIES` result where the hook answers it itself; without
        it, the server produces that answer, with the user's handler concealed."""
        decision = await self.decide(operation, caller)
        telemetry.annotate(decision)  # the span around the server's own handling (a decision handed on included)
        if operation.is_notification:
            return await proceed() if decision.allowed else None
        if decision.outcome == "not_found":
            member, value = NOT_FOUND_REPLIES.get(operation.method, ("result", {}))
            if member == "error":
                raise refusal(value)
            if result is not None and operation.method in NOT_FOUND_REPLIES:
                return result(value)
        elif not decision.allowed:
            raise refusal(decision.jsonrpc_error())
        reset = _serving.set((self, decision.caller, refusal))  # as decided: an anonymous request stays anonymous
        try:
            with self.handing(decision, operation):
                if decision.allowed and operation.action == "call" and self.guard.settings.audit:
                    return await self._completed(decision, operation, proceed)
                return await proceed()
        finally:
            _serving.reset(reset)

    async def _completed(self, decision: Decision, operation: Operation, proceed: Callable[[], Awaitable[_T]]) -> _T:
        """``proceed()``, followed by the call's completion event (:func:`~fastmcp_scopes.audit.emit_completion`)
        however it ends: its result, a tool error, an exception (re-raised), or cancellation."""
        if not audit.completion_enabled():
            return await proceed()
        status: audit.Status = "exception"
        error: str | None = None
        size: int | None = None
        ended: float | None = None
        start = time.perf_counter()  # monotonic: a wall-clock step during the call does not change its duration
        try:
            result = await proceed()
            ended = time.perf_counter()  # the server's work only, not measuring its result below
            is_error, size = audit.result_facts(result)
            status = "tool_error" if is_error else "ok"
            return result
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except self.tool_errors:
            status = "tool_error"  # the server answers it as a result marked isError, as it does a returned one
            raise
        except BaseException as exc:
            error = type(exc).__name__  # never its message: it may repeat the caller's input
            raise
        finally:
            duration = (ended if ended is not None else time.perf_counter()) - start
            settings = self.guard.settings
            arguments = audit.arguments_summary(
                operation.arguments,
                values=settings.audit_argument_values,
                redact_keys=settings.audit_redact_keys,
                redact_values=settings.audit_redact_values,
            )
            audit.emit_completion(
                decision,
                status=status,
                now=self.clock(),
                duration=duration,
                arguments=arguments,
                result_bytes=size,
                error=error,
                decision_id=audit.decision_id(decision),
                session=audit.decision_session(decision),
                trace_id=telemetry.current_trace_id(),
            )

    @contextmanager
    def handed_in(self, state: Mapping[str, Any] | None) -> Iterator[None]:
        """Take up the decision the HTTP layer handed on in the request's ASGI ``state`` (see
        :data:`HANDED_STATE`), for a server whose handlers run in another task than the request's, where the
        context it was handed in does not reach (a stateful mcp 1.x session)."""
        handed = (state or {}).get(HANDED_STATE)
        if handed is None:
            yield
            return
        with self.handing(*handed):
            yield

    @contextmanager
    def handing(self, decision: Decision, operation: Operation) -> Iterator[None]:
        """Hand ``decision`` to the server's own hook for the request it was taken on, and conceal what it
        answers "not found"."""
        reset = _handed.set((decision, operation))
        try:
            with concealing(decision, operation):
                yield
        finally:
            _handed.reset(reset)

    async def _decide(self, operation: Operation, caller: Caller | None, on_behalf: bool = False) -> Decision:
        if caller is not None and caller.anonymous:
            return await self._anonymous(operation, caller)
        guard = self.guard
        request_id = operation.request_id
        era = operation.unions_itself  # a refusal challenges as the request's protocol era asks
        if not operation.known and operation.method not in guard.settings.method_scopes:
            return guard.refuse("method_not_found", operation.method, caller=caller, request_id=request_id)
        if operation.action != "call" or operation.kind is None:
            return guard.decide(operation.method, caller=caller, request_id=request_id, unions_itself=era)
        kind, name = operation.kind, operation.name
        found, reached = await self._resolved(operation, kind)
        try:
            own = self._own_of(found)
        except ConfigurationError:
            logger.exception("fastmcp-scopes: the requirement of %s %r cannot be computed", kind[:-1], name)
            return guard.refuse("invalid_params", operation.method, caller=caller, name=name, request_id=request_id)
        known = len(found) == len(operation.targets)
        if not known and (on_behalf or operation.method in NOT_FOUND_REPLIES):
            return guard.refuse("not_found", operation.method, caller=caller, name=name, request_id=request_id)
        decision = guard.decide(
            operation.method,
            caller=caller,
            name=name,
            own=own,
            known=known,
            kind=kind,
            request_id=request_id,
            unions_itself=era,
        )
        per_call = [p.declaration for p in found if p.declaration is not None and p.declaration.per_call]
        if not decision.allowed or not per_call or operation.method not in _PER_CALL_METHODS or own is None:
            return await self._policy(decision, operation, found, reached)
        # Only now, with the static requirement met, is the caller's input analysed: off the event loop,
        # so an expensive argument stalls no other request, and any failure is a refusal.
        try:
            own = await asyncio.to_thread(self._per_call, own, per_call, operation.arguments, kind, name)
        except Exception:
            logger.warning("fastmcp-scopes: no per-call requirement for %s %r", kind[:-1], name, exc_info=True)
            return guard.refuse("invalid_params", operation.method, caller=caller, name=name, request_id=request_id)
        # The caller can list this primitive now: a per-call refusal asks for the step-up, it does not hide it.
        decision = guard.decide(
            operation.method,
            caller=caller,
            name=name,
            own=own,
            known=known,
            kind=kind,
            request_id=request_id,
            visible=True,
            unions_itself=era,
        )
        return await self._policy(decision, operation, found, reached)

    async def _resolved(self, operation: Operation, kind: Kind) -> tuple[list[Primitive], list[str]]:
        """The primitives ``operation``'s targets reach, as the server resolves them, each with the target that
        named it (fewer than the targets when one is missing)."""
        found: list[Primitive] = []
        reached: list[str] = []
        for target in operation.targets:
            primitive = await self.registry.resolve(kind, target, operation)
            if primitive is not None:
                found.append(primitive)
                reached.append(target)
        return found, reached

    async def _anonymous(self, operation: Operation, caller: Caller) -> Decision:
        """The decision for a caller without a token (:meth:`PublicPrimitives.decide`), on the primitives a call
        reaches as the server resolves them."""
        found: list[Primitive] = []
        targets: list[str] = []
        if operation.rule is not None and operation.action == "call" and operation.kind is not None:
            found, targets = await self._resolved(operation, operation.kind)
        try:
            own = self._own_of(found) if found else None
        except ConfigurationError:
            own = None
        reached = [(p.kind, p.key, p.declaration) for p in found]
        decision = self.public.decide(self.guard, operation, caller, reached, own)
        return await self._policy(decision, operation, found, targets)  # a public call is asked about too

    async def _policy(
        self, decision: Decision, operation: Operation, found: list[Primitive], reached: list[str]
    ) -> Decision:
        """``decision``, or its refusal by the policy hook, asked only when the scopes allow, about each canonical
        primitive the request reaches (:mod:`fastmcp_scopes.policy_hook`)."""
        if self.policy is None or not decision.allowed or not found:
            return decision
        asked = []
        for primitive, target in zip(found, reached, strict=True):
            own = self.requirement(primitive)
            asked.append(
                PolicyOperation(
                    method=operation.method,
                    kind=primitive.kind,
                    name=primitive.key,
                    target=target,
                    scopes=tuple(tuple(a) for a in own.to_json()) if own is not None else (),
                    annotations=annotations_of(primitive.annotations),
                    arguments=operation.arguments,
                )
            )
        return await self.policy.decide(decision, asked)

    def _own_of(self, found: list[Primitive]) -> Requirement | None:
        """The AND of every reached primitive's own requirement; ``None`` when one is undeclared and
        undeclared primitives are refused, or when none declares anything."""
        owns = [self.requirement(p) for p in found]
        declared = [o for o in owns if o is not None]
        if not declared or (len(declared) < len(owns) and self.guard.settings.undeclared == "deny"):
            return None
        own = declared[0]
        for other in declared[1:]:
            own = own.combine(other, cap=self.guard.settings.max_alternatives)
        return own

    def _per_call(
        self,
        own: Requirement,
        declarations: list[ScopeDeclaration],
        arguments: Mapping[str, Any],
        kind: Kind,
        name: str | None,
    ) -> Requirement:
        cap = self.guard.settings.max_alternatives
        for declaration in declarations:
            for compute in declaration.per_call:
                own = own.combine(compute(arguments), cap=cap, where=f"{kind[:-1]} {name!r}")
        return own

    # -- listings -----------------------------------------------------------------------------------

    def is_public(self, primitive: Primitive | None) -> bool:
        """Whether a listed primitive is public (``@public`` or ``FASTMCP_SCOPES_PUBLIC_*``): its listing's annotation
        says a client may call it without a token."""
        return primitive is not None and self.public.is_public(primitive.kind, primitive.key, primitive.declaration)

    def listed(
        self, decision: Decision, items: Iterable[_T], primitive_of: Callable[[_T], Primitive | None]
    ) -> list[tuple[_T, Requirement | None]]:
        """The items of an allowed listing the caller may see, with their own requirements (for the
        ``_meta`` annotation when everything is listed). An item that cannot be identified, or whose
        requirement cannot be computed, is left out: fail closed."""
        visible = self.guard.visibility(decision.method, decision.granted)
        # A caller without a token sees only what it may call: the public primitives (with hide_unauthorized=false,
        # everything declared, as any caller does, each with the scopes it needs).
        public = self.public.is_public
        anonymous = decision.caller is not None and decision.caller.anonymous and self.guard.settings.hide_unauthorized
        kept: list[tuple[_T, Requirement | None]] = []
        for item in items:
            primitive = primitive_of(item)
            if primitive is None:
                continue
            try:
                own = self.requirement(primitive)
            except ConfigurationError:
                logger.error("fastmcp-scopes: hiding %s %r: its requirement cannot be computed", *_named(primitive))
                continue
            if public(primitive.kind, primitive.key, primitive.declaration) if anonymous else visible(own):
                kept.append((item, own))
        return kept


def _named(primitive: Primitive) -> tuple[str, str]:
    return primitive.kind[:-1], primitive.key
