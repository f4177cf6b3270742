"""A deny-only policy hook: rules beyond "holds scope X", asked after the scope decision allowed a call.

The hook is an async callable ``hook(caller, operation)`` given the :class:`~fastmcp_scopes.policy.Caller`
(subject, client id, issuer, granted scopes, the token's claims; ``None`` for a caller without a token) and
the :class:`PolicyOperation` (method, the canonical primitive reached, its declared scopes and annotations, the
arguments). It answers ``None`` to let the call through or a :class:`PolicyDenial` with a reason to refuse it.

It can only refuse. Scopes decide first; the hook is asked only when they allow, so it never turns a refusal
into an allow and never runs for a request the scopes refused. Its refusal names no scope (holding more would
not help, so asking for a step-up would only start a re-authorization loop): over HTTP a plain ``403`` with
no ``WWW-Authenticate`` challenge (RFC 9110 §15.5.4: the credentials were understood and are not enough, and
the client should not repeat the request with them; RFC 6750 §3.1's ``insufficient_scope`` would tell the
client that another scope would do), and everywhere a JSON-RPC error whose ``data`` carries the reason, which
the audit event records too (outcome ``policy_denied``).

Fail closed: an exception in the hook, an answer that is neither ``None`` nor a denial, or no answer within
``FASTMCP_SCOPES_POLICY_HOOK_TIMEOUT`` seconds is a refusal whose reason says so without its details (they are
logged). Answers may be remembered for ``FASTMCP_SCOPES_POLICY_CACHE_SECONDS`` (default ``0``: ask every
time), per caller (identity, scopes and every claim) and operation (method, primitive, arguments), in a
bounded cache: another caller's answer, or the answer for other arguments, never applies.

Listings are filtered by scopes only; the hook governs the methods that reach a primitive (``tools/call``,
``prompts/get``, ``resources/read``, subscriptions, completions), each reaching the primitive the server
itself would run, whatever name, hash, version or URI the request used.

Pure apart from ``asyncio``, ``hashlib`` and ``logging``: no server framework.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.settings import Kind

if TYPE_CHECKING:
    from fastmcp_scopes.policy import Caller, Decision

__all__ = [
    "PolicyCheck",
    "PolicyDenial",
    "PolicyHook",
    "PolicyOperation",
    "annotations_of",
    "import_hook",
]

logger = logging.getLogger("fastmcp_scopes")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_monotonic = time.monotonic  # looked up per use: a test can move the cache's clock alone, not the event loop's
MAX_REASON = 256
"""Characters kept of a hook's reason: it is sent to the client and written to the audit log."""

FAILED = "The policy hook failed"
TIMED_OUT = "The policy hook did not answer in time"
UNEXPECTED = "The policy hook gave no valid answer"
"""Fixed reasons of a hook that could not decide: the details go to the log, never to the client."""


@dataclass(frozen=True, slots=True)
class PolicyOperation:
    """What a call reaches, as the policy hook sees it."""

    method: str
    """The JSON-RPC method: ``tools/call``, ``prompts/get``, ``resources/read``, ``completion/complete``, ..."""
    kind: Kind
    name: str
    """The primitive's canonical identity, as it is registered and listed (a tool's name, a resource's URI,
    a template's URI template), never the alias, hash or version the request may have used."""
    target: str
    """What the request named: for a resource read through a template, the concrete URI."""
    scopes: tuple[tuple[str, ...], ...] = ()
    """The primitive's own declared requirement: alternatives, each all of its scopes (``()``: undeclared)."""
    annotations: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """The primitive's annotations as the protocol spells them (``destructiveHint``, ``readOnlyHint``, ...)."""
    arguments: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class PolicyDenial:
    """A hook's refusal. ``reason`` is shown to the client and written to the audit log: fixed text of the
    operator's, not the caller's input."""

    reason: str = "Refused by policy"


PolicyHook: TypeAlias = Callable[["Caller | None", PolicyOperation], Awaitable["PolicyDenial | None"]]
"""``async def hook(caller, operation) -> PolicyDenial | None``: ``None`` lets the call through."""


def annotations_of(raw: object) -> Mapping[str, Any]:
    """A primitive's annotations (the protocol's ``ToolAnnotations``, a resource's ``Annotations``, a mapping,
    or ``None``) as a JSON-ready mapping in the protocol's spelling, without unset members."""
    if raw is None:
        return _EMPTY
    if isinstance(raw, Mapping):
        return MappingProxyType(dict(raw))
    dump = getattr(raw, "model_dump", None)
    if dump is None:
        return _EMPTY
    dumped: dict[str, Any] = dump(mode="json", by_alias=True, exclude_none=True)
    return MappingProxyType(dumped)


def import_hook(path: str) -> PolicyHook:
    """The callable ``FASTMCP_SCOPES_POLICY_HOOK`` names, as ``package.module:attribute``.

    Raises:
        ConfigurationError: a path that is not ``module:attribute``, a module that cannot be imported, an
            attribute it lacks, or one that is not callable.
    """
    module_name, _, attribute = path.partition(":")
    where = f"FASTMCP_SCOPES_POLICY_HOOK (or policy_hook=) = {path!r}"
    if not module_name or not attribute:
        raise ConfigurationError(f"{where}: expected package.module:attribute")
    try:
        module = import_module(module_name)
    except ImportError as err:
        raise ConfigurationError(f"{where}: cannot import {module_name!r} ({err})") from None
    hook: object = module
    for part in attribute.split("."):
        if not hasattr(hook, part):
            raise ConfigurationError(f"{where}: {module_name!r} has no attribute {attribute!r}")
        hook = getattr(hook, part)
    if not callable(hook):
        raise ConfigurationError(f"{where}: {attribute!r} is not callable")
    return hook  # an async callable by contract; its answers are checked per call


class PolicyCheck:
    """Asks one hook about allowed decisions, with its timeout and its cache of answers."""

    def __init__(
        self,
        hook: PolicyHook,
        *,
        timeout: float,
        cache_seconds: float = 0.0,
        cache_size: int = 1024,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.hook = hook
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self.clock = clock
        """Seconds, for the cache's expiry; ``None``: :func:`time.monotonic`."""
        self._answers: OrderedDict[bytes, tuple[float, str | None]] = OrderedDict()

    async def decide(self, decision: Decision, operations: Sequence[PolicyOperation]) -> Decision:
        """``decision`` if it refuses already or the hook lets every operation through; otherwise the same
        decision refused: outcome ``policy_denied``, with the first refusal's reason."""
        if not decision.allowed:
            return decision  # the scopes refused: the hook is not asked
        for operation in operations:
            reason = await self.refusal(decision.caller, operation)
            if reason is not None:
                return dataclasses.replace(decision, outcome="policy_denied", reason=reason)
        return decision

    async def refusal(self, caller: Caller | None, operation: PolicyOperation) -> str | None:
        """The hook's reason to refuse ``operation`` to ``caller``; ``None`` to let it through."""
        key = _cache_key(caller, operation) if self.cache_seconds > 0 else None
        if key is not None:
            remembered = self._answers.get(key)
            if remembered is not None:
                if remembered[0] > (self.clock or _monotonic)():
                    return remembered[1]
                self._answers.pop(key, None)  # pop, not del: another thread's request may have taken it already
        try:
            async with asyncio.timeout(self.timeout):  # no task of its own, unlike wait_for: cheaper per call
                answer = await self.hook(caller, operation)
        except TimeoutError:
            logger.warning(
                "fastmcp-scopes: the policy hook gave no answer in %ss for %s", self.timeout, _named(operation)
            )
            return TIMED_OUT
        except Exception:
            logger.exception("fastmcp-scopes: the policy hook failed for %s", _named(operation))
            return FAILED
        reason = _reason_of(answer, operation)
        if key is not None and reason is not UNEXPECTED:
            while len(self._answers) >= self.cache_size:
                try:
                    self._answers.popitem(last=False)  # the oldest: memory stays bounded whatever callers send
                except KeyError:
                    break
            self._answers[key] = ((self.clock or _monotonic)() + self.cache_seconds, reason)
        return reason


def _reason_of(answer: object, operation: PolicyOperation) -> str | None:
    if answer is None or answer is True:
        return None
    if isinstance(answer, PolicyDenial):
        reason = answer.reason if isinstance(answer.reason, str) and answer.reason else "Refused by policy"
        return reason if len(reason) <= MAX_REASON else f"{reason[:MAX_REASON]}..."
    if answer is False:
        return "Refused by policy"
    logger.error("fastmcp-scopes: the policy hook answered %s for %s", type(answer).__name__, _named(operation))
    return UNEXPECTED


def _named(operation: PolicyOperation) -> str:
    return f"{operation.method} {operation.kind[:-1]} {operation.name!r}"


def _cache_key(caller: Caller | None, operation: PolicyOperation) -> bytes | None:
    """A digest of everything the hook is given, so that an answer is reused only for the same caller (every
    claim, scope and identity) and the same operation (arguments included); ``None`` when some of it is not
    JSON (such a request is not cached: two values with the same ``repr`` must never share an answer)."""
    who = (
        None
        if caller is None
        else [caller.subject, caller.client_id, caller.issuer, sorted(caller.scopes), caller.claims]
    )
    what = [operation.method, operation.kind, operation.name, operation.target, dict(operation.arguments)]
    try:
        text = _ENCODER.encode([who, what])
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.blake2b(text.encode(), digest_size=32).digest()


# One encoder for every key: building one per call (json.dumps with options) costs a third of the key.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False, allow_nan=False)
