"""What one JSON-RPC request asks for, read once: its method, the primitives it reaches, its arguments.

Every path to a primitive's code is listed in :data:`METHODS` (DESIGN.md, behaviour 8). A method is

- ``"call"``: decided on the primitive(s) it reaches: ``tools/call``, ``prompts/get``, ``resources/read``,
  ``resources/subscribe`` and ``resources/unsubscribe`` by URI, ``completion/complete`` by its ``ref``
  (a prompt, or a resource template), ``subscriptions/listen`` by each URI it subscribes to;
- ``"list"``: a listing, filtered per caller;
- ``"connect"``: reaches no primitive (``initialize``, ``ping``, ...), so it needs the connect layer only.

A method the table does not know is refused (:attr:`Operation.known` is false): whatever a server
registered for it is user code the guard cannot see into.

The protocol version a request speaks (:attr:`Operation.protocol_version`) is read here too, from every place
that states one, and nowhere else: it decides whether a refusal's challenge names the token's scopes
(``FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES=auto``, see :func:`stated_version`).

The same parse serves the HTTP layer (from the raw body and headers, before dispatch) and the in-process
hooks (from the method and params the server hands its middleware), so the two cannot read a request
differently. Pure: no framework, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from fastmcp_scopes.settings import Kind

__all__ = [
    "HEADER_MISMATCH",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "LISTED",
    "METHODS",
    "METHOD_NOT_FOUND",
    "NOT_FOUND_REPLIES",
    "PARSE_ERROR",
    "PER_REQUEST_ERA",
    "UNSTATED_HTTP_VERSION",
    "VERSION_META_KEY",
    "Action",
    "InvalidOperationError",
    "MethodRule",
    "Operation",
    "http_version",
    "stated_version",
]

# JSON-RPC 2.0 §5.1, and MCP 2026-07-28's code for an Mcp-* header that disagrees with the body.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020

Action = Literal["connect", "list", "call"]


@dataclass(frozen=True, slots=True)
class MethodRule:
    """How a method is decided: its action, the kind of primitive it concerns, and where its target is."""

    action: Action
    kind: Kind | None = None
    target: str | None = None
    """The ``params`` member naming the primitive (``"name"`` or ``"uri"``); ``None`` when found otherwise."""


_CONNECT = MethodRule("connect")

METHODS: Mapping[str, MethodRule] = {
    "initialize": _CONNECT,
    "ping": _CONNECT,
    "server/discover": _CONNECT,
    "logging/setLevel": _CONNECT,
    "tools/list": MethodRule("list", "tools"),
    "prompts/list": MethodRule("list", "prompts"),
    "resources/list": MethodRule("list", "resources"),
    "resources/templates/list": MethodRule("list", "resources"),
    "tools/call": MethodRule("call", "tools", "name"),
    "prompts/get": MethodRule("call", "prompts", "name"),
    "resources/read": MethodRule("call", "resources", "uri"),
    "resources/subscribe": MethodRule("call", "resources", "uri"),
    "resources/unsubscribe": MethodRule("call", "resources", "uri"),
    "completion/complete": MethodRule("call"),  # kind and target from params.ref
    "subscriptions/listen": MethodRule("call", "resources"),  # targets from params.notifications
}
"""Every request method the guard lets through, and how it is decided. Notifications need the connect
layer (they carry no operation and get no answer)."""

LISTED: Mapping[str, tuple[str, str]] = {
    "tools/list": ("tools", "name"),
    "prompts/list": ("prompts", "name"),
    "resources/list": ("resources", "uri"),
    "resources/templates/list": ("resourceTemplates", "uriTemplate"),
}
"""Each listing's result member, and the member of an item that names it (the protocol's spelling)."""

NOT_FOUND_REPLIES: Mapping[str, tuple[Literal["result", "error"], Mapping[str, Any]]] = {
    "completion/complete": ("result", {"completion": {"values": []}}),
    "resources/subscribe": ("error", {"code": INVALID_PARAMS, "message": "Unknown resource"}),
    "resources/unsubscribe": ("error", {"code": INVALID_PARAMS, "message": "Unknown resource"}),
    "subscriptions/listen": ("error", {"code": INVALID_PARAMS, "message": "Unknown resource"}),
}
"""The "not found" answer of a method whose server looks nothing up (one completion handler answers every
``ref``; a subscription to any URI is accepted), when it reaches a primitive that is hidden or does not exist:
the same answer for both, so nothing tells them apart, and the server's code never sees either. An error is
raised by the adapter's hook; a result is produced by the server from its own empty answer (its envelope
differs per protocol era), with the user's handler concealed."""

PER_REQUEST_ERA = "2026-07-28"
"""The first MCP version of the per-request era: no ``initialize`` handshake, every request states its version
in ``params._meta`` (:data:`VERSION_META_KEY`) and, over HTTP, in ``MCP-Protocol-Version`` too; and its clients
add a challenge's scopes to those they hold (SEP-2350), where older clients ask for exactly the challenge's."""

VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
"""The request ``_meta`` key stating its protocol version (2026-07-28 on; reserved, so older clients never send it)."""

UNSTATED_HTTP_VERSION = "2025-03-26"
"""The version of an HTTP request without an ``MCP-Protocol-Version`` header: the MCP transports specification
(2025-06-18 on) tells servers to assume it, for clients from before the header existed."""

_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RELEASED = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"})
"""The versions released so far: well-formed without a regular expression, on every request."""


def stated_version(*statements: object) -> str | None:
    """The protocol version a request speaks, given what each of its sources states (``None``: that source says
    nothing): the version they all state; ``None`` when none states one, when one states something that is not a
    version (``YYYY-MM-DD``), or when two disagree.

    ``None`` reads as the handshake era (:meth:`Operation.unions_itself` is false), the one whose clients replace
    their scopes on a challenge: the careful reading when a request does not say clearly who sent it. A union
    challenge is no privilege to fear: it adds only scopes the caller already holds (its token's, and those
    ``FASTMCP_SCOPES_CLAIM_SCOPES`` maps its own claims to), shown to that caller alone; a challenge grants nothing,
    the authorization server decides what a new token carries; and to a client that unions itself it makes no
    difference. A precise challenge to a client that replaces its scopes makes it drop what it holds, and loop.

    In-process, the adapters of mcp 2.x servers state the session's version (negotiated by ``initialize``, or the
    request's own in the per-request era); mcp 1.x sessions negotiate handshake versions only, so their adapters
    state none, which reads the same.
    """
    stated: str | None = None
    for statement in statements:
        if statement is None:
            continue
        if not isinstance(statement, str) or (statement not in _RELEASED and not _VERSION.fullmatch(statement)):
            return None  # malformed: neither era can be trusted from it
        if stated is not None and statement != stated:
            return None  # a request that disagrees with itself
        stated = statement
    return stated


def _meta_version(params: Mapping[str, Any] | None) -> object:
    meta = params.get("_meta") if params else None
    if not isinstance(meta, dict | Mapping) or VERSION_META_KEY not in meta:
        return None  # states nothing
    version = meta[VERSION_META_KEY]
    return "" if version is None else version  # present but null states something malformed


_REFS: Mapping[str, tuple[Kind, str]] = {"ref/prompt": ("prompts", "name"), "ref/resource": ("resources", "uri")}

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class InvalidOperationError(Exception):
    """A request that cannot be read as an operation; carries the JSON-RPC error to answer with.

    The message is fixed text: nothing the caller sent is echoed.
    """

    def __init__(self, code: int, message: str, request_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class Operation:
    """One request, as the guard decides it."""

    method: str
    request_id: str | int | None
    """``None`` for a notification."""
    params: Mapping[str, Any] | None
    """As received, so a later layer can check it is deciding the same request."""
    rule: MethodRule | None
    """``None``: a method the guard does not know (refused), or a notification."""
    kind: Kind | None = None
    targets: tuple[str, ...] = ()
    """The names or URIs of the primitives reached, in the request's order."""
    arguments: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    protocol_version: str | None = None
    """The version the request speaks, as :func:`stated_version` reads it from the ``MCP-Protocol-Version``
    header (over HTTP), ``params._meta`` (:data:`VERSION_META_KEY`), ``initialize``'s ``protocolVersion`` and the
    session's negotiated version (in-process); ``None`` when they are absent, malformed or disagree."""

    @property
    def action(self) -> Action:
        return self.rule.action if self.rule is not None else "connect"

    @property
    def is_notification(self) -> bool:
        return self.request_id is None

    @property
    def known(self) -> bool:
        """Whether the method is one the guard decides (notifications: always, they need connect only)."""
        return self.rule is not None or self.is_notification

    @property
    def unions_itself(self) -> bool:
        """Whether the request speaks :data:`PER_REQUEST_ERA` or later, whose clients add a challenge's scopes to
        those they hold: a precise challenge serves them. Versions are compared as the dates they are (checked
        by :func:`stated_version`); an absent, malformed or self-contradicting one is ``False``."""
        return self.protocol_version is not None and self.protocol_version >= PER_REQUEST_ERA

    @property
    def name(self) -> str | None:
        """The single target, for audit and answers; several are joined by a space (URIs have none)."""
        return " ".join(self.targets) if self.targets else None

    @classmethod
    def from_message(cls, message: object, headers: Mapping[str, str] | None = None) -> Operation:
        """Read a JSON-RPC message (already parsed JSON) and its HTTP headers (lower-case names; ``None``: not
        over HTTP). Over HTTP a request without ``MCP-Protocol-Version`` states :data:`UNSTATED_HTTP_VERSION`.

        Raises:
            InvalidOperationError: a batch, not a request or notification, a bad id or params, or an
                ``Mcp-Method``/``Mcp-Name`` header that disagrees with the body.
        """
        transport_version = http_version(headers) if headers is not None else None
        headers = headers or {}
        if isinstance(message, list):
            # JSON-RPC batching left MCP in 2025-06-18; one element could hide behind another.
            raise InvalidOperationError(INVALID_REQUEST, "Batches are not accepted")
        if not isinstance(message, dict):
            raise InvalidOperationError(INVALID_REQUEST, "Invalid request")
        method = message.get("method")
        request_id = message.get("id")
        header_method = headers.get("mcp-method")
        if header_method is not None and header_method != method:
            raise InvalidOperationError(HEADER_MISMATCH, "Mcp-Method does not match the body", _id(request_id))
        if not isinstance(method, str):
            # A response to one of the server's own requests (sampling, elicitation): no operation.
            return cls("", None, None, None, protocol_version=stated_version(transport_version))
        if "id" in message and (not isinstance(request_id, str | int) or isinstance(request_id, bool)):
            raise InvalidOperationError(INVALID_REQUEST, "Invalid request id")
        operation = cls.of(
            method,
            message.get("params"),
            request_id if "id" in message else None,
            protocol_version=transport_version,
        )
        header_name = headers.get("mcp-name")
        named = operation.rule is not None and operation.rule.target is not None
        if header_name is not None and named and (header_name,) != operation.targets:
            raise InvalidOperationError(HEADER_MISMATCH, "Mcp-Name does not match the body", operation.request_id)
        return operation

    @classmethod
    def of(
        cls,
        method: str,
        params: object,
        request_id: str | int | None,
        *,
        protocol_version: str | None = None,
    ) -> Operation:
        """The operation of ``method`` with ``params``, as a server's middleware sees it. ``protocol_version``: the
        version the transport or session states (the HTTP header, a session's negotiated version), read with what
        ``params`` state (:attr:`protocol_version`).

        Raises:
            InvalidOperationError: params that do not name what the method needs.
        """
        if params is not None and not isinstance(params, dict | Mapping):  # dict first: the ABC check is slow
            raise InvalidOperationError(INVALID_PARAMS, "Invalid request parameters", request_id)
        params = params or None
        if method != "initialize" and (not params or "_meta" not in params) and protocol_version in _RELEASED:
            version: str | None = protocol_version  # the usual request: one released version, stated once
        else:
            proposed = params.get("protocolVersion") if params and method == "initialize" else None
            version = stated_version(protocol_version, _meta_version(params), proposed)
        if request_id is None:
            return cls(method, None, params, None, protocol_version=version)
        rule = METHODS.get(method)
        if rule is None or rule.action != "call":
            return cls(method, request_id, params, rule, protocol_version=version)
        kind, targets = _targets(method, rule, params or _EMPTY, request_id)
        arguments = (params or _EMPTY).get("arguments") or _EMPTY
        if not isinstance(arguments, dict | Mapping):
            raise InvalidOperationError(INVALID_PARAMS, "Invalid request parameters", request_id)
        return cls(method, request_id, params, rule, kind, targets, arguments, version)


def http_version(headers: Mapping[str, str]) -> str:
    """The version an HTTP request's ``MCP-Protocol-Version`` header states (lower-case names), or
    :data:`UNSTATED_HTTP_VERSION` without one."""
    return headers.get("mcp-protocol-version", UNSTATED_HTTP_VERSION)


def _id(value: object) -> str | int | None:
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _targets(
    method: str, rule: MethodRule, params: Mapping[str, Any], request_id: str | int
) -> tuple[Kind | None, tuple[str, ...]]:
    invalid = InvalidOperationError(INVALID_PARAMS, "Invalid request parameters", request_id)
    if rule.target is not None:
        target = params.get(rule.target)
        if not isinstance(target, str):
            raise invalid
        return rule.kind, (target,)
    if method == "completion/complete":
        ref = params.get("ref")
        ref_type = ref.get("type") if isinstance(ref, Mapping) else None
        found = _REFS.get(ref_type) if isinstance(ref_type, str) else None
        if found is None or not isinstance(ref, Mapping):
            raise invalid
        kind, member = found
        target = ref.get(member)
        if not isinstance(target, str):
            raise invalid
        return kind, (target,)
    # subscriptions/listen: each resource URI subscribed to; list-changed notifications reach no primitive.
    notifications = params.get("notifications")
    if not isinstance(notifications, Mapping):
        raise invalid
    # The SDK's model accepts the field by alias and by name: two spellings could be read differently.
    spellings = [notifications[k] for k in ("resourceSubscriptions", "resource_subscriptions") if k in notifications]
    if len(spellings) > 1:
        raise invalid
    uris = spellings[0] if spellings else None
    if uris is None:
        return rule.kind, ()
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise invalid
    return rule.kind, tuple(dict.fromkeys(uris))
