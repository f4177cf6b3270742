"""Callers without a token beside public primitives: what an anonymous caller may reach.

The MCP Apps extension's per-tool authorization (its "Authorization" document): public tools work without
a token, and the OAuth flow starts only when a protected tool is called, by the same HTTP ``401`` with
protected resource metadata that a server protected as a whole answers to every request without a token.
Only *when* the ``401`` comes differs. So a caller without a token (:data:`ANONYMOUS`) may

- open and keep a session: ``initialize``, ``ping``, ``server/discover``, notifications; over HTTP the
  ``GET`` stream and the ``DELETE`` that ends its own session (the SDK binds a session to the credential
  that opened it, so neither reaches another caller's);
- list: each listing shows only public primitives (everything declared, with ``hide_unauthorized=false``);
- call, get, read, complete or subscribe to public primitives, and nothing else.

Everything else, a protected primitive, a missing one, a method the guard does not know, is refused as
``unauthenticated``: over HTTP the ``401`` whose ``scope`` names what *that* operation needs, so the client
authorizes for exactly that. A token that is present is never anonymous, valid or not.

Public is an explicit choice, never a default: ``@public`` (:func:`fastmcp_scopes.decorators.public`) or
``FASTMCP_SCOPES_PUBLIC_TOOLS`` / ``_PUBLIC_PROMPTS`` / ``_PUBLIC_RESOURCES``. With nothing public no caller is
ever anonymous and every request without a token is refused exactly as before. Pure: no framework, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches

from fastmcp_scopes.decorators import ScopeDeclaration
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.operation import Operation
from fastmcp_scopes.policy import Caller, Decision, ScopeGuard
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import KINDS, Kind, ScopesSettings

__all__ = ["ANONYMOUS", "OPEN_METHODS", "PublicPrimitives"]

ANONYMOUS = Caller(frozenset(), anonymous=True)
"""The caller of a request without a token, where something is public: no scope, no identity."""

OPEN_METHODS = frozenset({"initialize", "ping", "server/discover", "GET", "DELETE"})
"""What an anonymous caller may do that reaches no primitive: open, keep and end its own session (``GET`` and
``DELETE`` are the HTTP verbs of the SSE stream and of ending a session). ``logging/setLevel`` is not among them:
it changes what the server sends, and nothing public needs it."""

_NOTHING: frozenset[str] = frozenset()

_SETTING: Mapping[Kind, str] = {
    "tools": "FASTMCP_SCOPES_PUBLIC_TOOLS",
    "prompts": "FASTMCP_SCOPES_PUBLIC_PROMPTS",
    "resources": "FASTMCP_SCOPES_PUBLIC_RESOURCES",
}


class PublicPrimitives:
    """Which primitives are public: declared ``@public``, or named in the ``PUBLIC_*`` settings.

    Raises:
        ConfigurationError: a tool both public and in ``FASTMCP_SCOPES_TOOL_SCOPES``.
    """

    def __init__(self, settings: ScopesSettings) -> None:
        self._configured: Mapping[Kind, frozenset[str]] = {
            "tools": frozenset(settings.public_tools),
            "prompts": frozenset(settings.public_prompts),
            "resources": frozenset(settings.public_resources),
        }
        self._tool_scopes = frozenset(settings.tool_scopes)
        both = sorted(self._configured["tools"] & self._tool_scopes)
        if both:
            raise ConfigurationError(
                f"FASTMCP_SCOPES_PUBLIC_TOOLS and FASTMCP_SCOPES_TOOL_SCOPES both name {both}: a public tool needs "
                "no token, so it cannot need scopes; remove it from one of the two"
            )
        self.configured = any(self._configured.values())
        """Whether the settings make anything public (then an anonymous caller is possible from the start)."""

    def is_public(self, kind: Kind, key: str, declaration: ScopeDeclaration | None) -> bool:
        """Whether the primitive ``key`` of ``kind`` (with its recorded ``declaration``) is public."""
        return (declaration is not None and declaration.public) or key in self._configured[kind]

    def own_requirement(self, kind: Kind, key: str, declaration: ScopeDeclaration | None) -> Requirement | None:
        """A primitive's own requirement when the settings make it public (none: it needs no scope, even with
        ``undeclared="deny"``); ``None`` when they do not, and its declaration decides."""
        if key in self._configured[kind]:
            return Requirement.none()
        return None

    def check(self, primitives: Iterable[tuple[Kind, str, ScopeDeclaration | None]]) -> bool:
        """Check the registered primitives against the settings, at install; whether any is public.

        Raises:
            ConfigurationError: a ``PUBLIC_*`` name the server does not have (with the closest one), a
                primitive made public by the settings that declares scopes with ``@requires_scopes``, or a
                ``@public`` tool given scopes by ``FASTMCP_SCOPES_TOOL_SCOPES``.
        """
        keys: dict[Kind, list[str]] = {kind: [] for kind in KINDS}
        found = False
        for kind, key, declaration in primitives:
            keys[kind].append(key)
            configured = key in self._configured[kind]
            if configured and declaration is not None and not declaration.public:
                raise ConfigurationError(
                    f"{_SETTING[kind]} names {key!r}, which declares scopes with @requires_scopes: a public "
                    f"{kind[:-1]} needs no token, so it cannot need scopes; remove one of the two"
                )
            if kind == "tools" and key in self._tool_scopes and declaration is not None and declaration.public:
                raise ConfigurationError(
                    f"FASTMCP_SCOPES_TOOL_SCOPES names {key!r}, which is declared @public: a public tool needs no "
                    "token, so it cannot need scopes; remove one of the two"
                )
            found = found or configured or (declaration is not None and declaration.public)
        for kind, names in self._configured.items():
            for name in sorted(names):
                if name not in keys[kind]:
                    close = get_close_matches(name, keys[kind], n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else f"; the server has {sorted(keys[kind])}"
                    raise ConfigurationError(f"{_SETTING[kind]} names {name!r}, which is not a {kind[:-1]}{hint}")
        return found

    def decide(
        self,
        guard: ScopeGuard,
        operation: Operation,
        caller: Caller,
        reached: Sequence[tuple[Kind, str, ScopeDeclaration | None]],
        own: Requirement | None,
    ) -> Decision:
        """The decision for an anonymous ``caller``: allowed where the module docstring says, else
        ``unauthenticated`` with the scopes the operation needs of a caller with a token.

        ``reached``: the primitives a call reaches, as the server resolves its targets (fewer than its targets when
        one is missing); ``own``: the AND of their own requirements (``None``: undeclared, or not computable).
        """
        method = operation.method
        if operation.is_notification and (method.startswith("notifications/") or method in OPEN_METHODS or not method):
            return self._allow(guard, operation, caller)  # "": a response to the server's own request
        if method in OPEN_METHODS or (operation.rule is not None and operation.action == "list"):
            return self._allow(guard, operation, caller)
        connect = guard.layer_requirement("ping")
        required = connect if operation.rule is not None else guard.layer_requirement(method)
        if operation.rule is not None and operation.action == "call" and operation.kind is not None:
            every = len(reached) == len(operation.targets) and bool(reached)
            if every and all(self.is_public(*primitive) for primitive in reached):
                return self._allow(guard, operation, caller)
            settings = guard.settings
            # A caller without a token sees only public primitives: with hidden_calls="not_found" a protected one is
            # answered exactly as a missing one (both: what every request needs), so nothing tells the two apart.
            concealed = settings.hidden_calls == "not_found" and settings.hide_unauthorized
            declared = own is not None or settings.undeclared == "allow"
            if every and declared and not concealed:
                required = guard.requirement(method, own, operation.kind)
        return self._unauthenticated(guard, operation, caller, required)

    def _allow(self, guard: ScopeGuard, operation: Operation, caller: Caller) -> Decision:
        held = guard.granted(caller) or guard.hierarchy.expand(())
        none = Requirement.none()
        return Decision(
            "allow", operation.method, operation.name, none, held, _NOTHING, _NOTHING, (), caller, operation.request_id
        )

    def _unauthenticated(
        self, guard: ScopeGuard, operation: Operation, caller: Caller, required: Requirement
    ) -> Decision:
        """The ``401`` for this operation: ``scope`` names what it needs (its closest alternative, reduced through
        the hierarchy), so the client authorizes for exactly that; the baseline when it needs no scope at all."""
        held = guard.granted(caller) or guard.hierarchy.expand(())
        closest = required.closest(held)
        scope = guard.hierarchy.reduce(closest) or frozenset(guard.settings.scopes_supported)
        return Decision(
            outcome="unauthenticated",
            method=operation.method,
            name=operation.name,
            required=required,
            granted=held,
            closest=closest,
            missing=closest,
            challenge_scope=tuple(sorted(scope)),
            caller=caller,
            request_id=operation.request_id,
        )
