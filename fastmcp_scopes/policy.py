"""``ScopeGuard``: layered scopes, per-primitive requirements, and decisions as values.

Everything here is pure: no I/O, no server framework. An adapter asks :meth:`ScopeGuard.decide`
(or :meth:`ScopeGuard.visible` while filtering a listing) and renders the immutable
:class:`Decision` it gets back as a JSON-RPC error, an HTTP 403 challenge, an audit event.

The layers come from the Cosmo design: ``connect`` scopes for every request, ``list`` scopes per
kind for listings, ``call`` scopes per kind for calls, each ANDed with the primitive's own
requirement. The challenge names every scope of the closest alternative of that whole AND, so one
step-up covers the whole operation (MCP authorization, 2026-07-28).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastmcp_scopes.challenge import BearerChallenge, format_scope
from fastmcp_scopes.decorators import ScopeDeclaration
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.hierarchy import GrantedScopes, ScopeHierarchy
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import KINDS, Kind, ScopesSettings, load_settings

if TYPE_CHECKING:
    from fastmcp_scopes.adapters import InstallReport
    from fastmcp_scopes.graphql import ScopedSchema

__all__ = ["INSUFFICIENT_SCOPE", "METHODS", "UNAUTHENTICATED", "Action", "Caller", "Decision", "Outcome", "ScopeGuard"]

INSUFFICIENT_SCOPE = -32003
"""JSON-RPC code of a refusal for missing scopes: in the implementation-defined band -32000..-32019,
clear of the SDK's -32000/-32001 and the retired -32002."""
UNAUTHENTICATED = -32004
"""JSON-RPC code of a refusal for want of an access token (stdio and in-process callers)."""

Action = Literal["connect", "list", "call"]
Outcome = Literal["allow", "insufficient_scope", "not_found", "unauthenticated"]

METHODS: Mapping[str, tuple[Action, Kind]] = {
    "tools/list": ("list", "tools"),
    "tools/call": ("call", "tools"),
    "prompts/list": ("list", "prompts"),
    "prompts/get": ("call", "prompts"),
    "resources/list": ("list", "resources"),
    "resources/templates/list": ("list", "resources"),
    "resources/read": ("call", "resources"),
}
"""Guarded methods: what they do and to which kind. Every other request needs the connect layer."""

NAME_PARAMS: Mapping[str, str] = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""Where a call names its target."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as far as a decision and an audit event need to know. Never the token."""

    scopes: frozenset[str]
    subject: str | None = None
    client_id: str | None = None
    issuer: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request, computed once and rendered by whichever layer responds."""

    outcome: Outcome
    method: str
    name: str | None
    required: Requirement
    """Everything the operation needs: layered scopes ANDed with the primitive's own."""
    granted: GrantedScopes
    closest: frozenset[str]
    """The alternative of ``required`` with the fewest missing scopes (ties: first declared)."""
    missing: frozenset[str]
    challenge_scope: tuple[str, ...]
    """The 403 ``scope``: ``closest`` less what the hierarchy implies (unioned with the token's scopes
    when configured), sorted."""
    caller: Caller | None = None
    request_id: str | int | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    @property
    def description(self) -> str:
        """Fixed, client-safe text (no caller input) for ``error_description`` and the JSON-RPC message."""
        if self.outcome == "unauthenticated":
            return "An access token is required"
        if self.outcome == "not_found":
            return "Not found"
        if self.outcome == "allow":
            return "Allowed"
        return "Missing scopes: " + format_scope(self.missing)

    def error_data(self) -> dict[str, Any]:
        """The structured JSON-RPC ``data`` for a refusal (the same in-process and over HTTP)."""
        return {
            "error": self.outcome,
            "required": sorted(self.closest),
            "missing": sorted(self.missing),
            "alternatives": self.required.to_json(),
            "scope": format_scope(self.challenge_scope),
        }

    def jsonrpc_error(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` object (``code``, ``message``, ``data``) for a refusal."""
        code = UNAUTHENTICATED if self.outcome == "unauthenticated" else INSUFFICIENT_SCOPE
        return {"code": code, "message": f"{self.outcome}: {self.description}", "data": self.error_data()}

    def challenge(self, *, resource_metadata: str | None = None) -> BearerChallenge:
        """The RFC 6750 challenge: 403 ``insufficient_scope``, or 401 without ``error`` when no token was sent."""
        if self.outcome == "unauthenticated":
            return BearerChallenge(scope=self.challenge_scope, resource_metadata=resource_metadata)
        return BearerChallenge(
            error="insufficient_scope",
            error_description=self.description,
            scope=self.challenge_scope,
            resource_metadata=resource_metadata,
        )


@dataclass(frozen=True, slots=True)
class _Layers:
    connect: Requirement
    list: Mapping[Kind, Requirement]
    call: Mapping[Kind, Requirement]


_CACHE_SIZE = 4096
_EMPTY: frozenset[str] = frozenset()


class ScopeGuard:
    """Per-primitive OAuth scope enforcement for an MCP server.

    ``ScopeGuard()`` reads ``FASTMCP_SCOPES_*`` (and ``.env``); keyword arguments override them,
    for example ``ScopeGuard(connect_scopes=["mcp:connect"], hidden_calls="not_found")``.
    Then ``guard.install(mcp)`` hooks it into a server.

    Raises:
        ConfigurationError: invalid settings (naming the variable), invalid scopes.
    """

    def __init__(self, settings: ScopesSettings | None = None, **overrides: Any) -> None:
        if settings is not None and overrides:
            settings = load_settings(**{**settings.model_dump(), **overrides})
        self.settings: ScopesSettings = settings if settings is not None else load_settings(**overrides)
        s = self.settings
        self.hierarchy = ScopeHierarchy(s.hierarchy, s.wildcard_scopes)
        connect = Requirement.all_of(*s.connect_scopes)
        self._layers = _Layers(
            connect=connect,
            list={k: Requirement.all_of(*s.list_scopes.get(k, ())) for k in KINDS},
            call={k: Requirement.all_of(*s.call_scopes.get(k, ())) for k in KINDS},
        )
        self._method_layers: dict[str, Requirement] = {
            method: connect.combine(
                (self._layers.list if action == "list" else self._layers.call)[kind], cap=s.max_alternatives
            )
            for method, (action, kind) in METHODS.items()
        }
        self._combined: dict[tuple[str, Requirement], Requirement] = {}
        self._expanded: dict[frozenset[str], GrantedScopes] = {}
        self._derived: dict[ScopeDeclaration, Requirement] = {}
        self._graphql: ScopedSchema | None = None

    # -- requirements -------------------------------------------------------------------------------

    def layer_requirement(self, method: str) -> Requirement:
        """The layered scopes a request for ``method`` needs (connect, plus list or call per kind)."""
        return self._method_layers.get(method, self._layers.connect)

    def _required(self, method: str, layers: Requirement, own: Requirement) -> Requirement:
        """``layers AND own``, remembered: the same few combinations recur on every request."""
        key = (method, own)
        required = self._combined.get(key)
        if required is None:
            if len(self._combined) >= _CACHE_SIZE:
                self._combined.clear()  # per-call requirements can vary without bound
            required = self._combined[key] = layers.combine(own, cap=self.settings.max_alternatives)
        return required

    def own_requirement(self, kind: Kind, name: str, declaration: ScopeDeclaration | None) -> Requirement | None:
        """A primitive's own requirement: its decorators ANDed with ``FASTMCP_SCOPES_TOOL_SCOPES``.

        ``None`` when nothing is declared for it (see the ``undeclared`` setting).

        Raises:
            ConfigurationError: a GraphQL operation that cannot be analysed, or too many alternatives.
        """
        static = self.settings.tool_scopes.get(name) if kind == "tools" else None
        if declaration is None:
            return static
        derived = self._derived.get(declaration)
        if derived is None:
            derived = self._resolve(declaration, f"{kind[:-1]} {name!r}")
            self._derived[declaration] = derived
        if static is None:
            return derived
        return derived.combine(static, cap=self.settings.max_alternatives, where=f"{kind[:-1]} {name!r}")

    def _resolve(self, declaration: ScopeDeclaration, where: str) -> Requirement:
        requirement = declaration.requirement
        if declaration.graphql:
            schema = self.graphql_schema(where)
            for operation in declaration.graphql:
                derived = schema.requirement(
                    operation.document(), operation.operation_name, cap=self.settings.max_alternatives
                )
                requirement = requirement.combine(derived, cap=self.settings.max_alternatives, where=where)
        return requirement

    def graphql_schema(self, where: str = "the guard") -> ScopedSchema:
        """The schema from ``FASTMCP_SCOPES_GRAPHQL_SCHEMA``, loaded once.

        Raises:
            ConfigurationError: no schema configured, or one that cannot be loaded.
        """
        if self._graphql is None:
            if not self.settings.graphql_schema:
                raise ConfigurationError(
                    f"{where} declares a GraphQL operation but FASTMCP_SCOPES_GRAPHQL_SCHEMA is not set"
                )
            from fastmcp_scopes.graphql import load_schema

            self._graphql = load_schema(self.settings.graphql_schema, strict=self.settings.graphql_strict)
        return self._graphql

    def use_graphql_schema(self, schema: ScopedSchema) -> None:
        """Use an already loaded schema (``fastmcp_scopes.graphql.load_schema``) for GraphQL operations."""
        self._graphql = schema
        self._derived.clear()

    # -- decisions ----------------------------------------------------------------------------------

    def granted(self, caller: Caller | None) -> GrantedScopes | None:
        """The caller's scopes expanded through the hierarchy; ``stdio_scopes`` when there is no caller;
        ``None`` when there is neither (the request is refused: fail closed)."""
        if caller is not None:
            scopes = caller.scopes
        elif self.settings.stdio_scopes is not None:
            scopes = frozenset(self.settings.stdio_scopes)
        else:
            return None
        granted = self._expanded.get(scopes)
        if granted is None:
            if len(self._expanded) >= _CACHE_SIZE:
                self._expanded.clear()
            granted = self._expanded[scopes] = self.hierarchy.expand(scopes)
        return granted

    def decide(
        self,
        method: str,
        *,
        caller: Caller | None,
        name: str | None = None,
        own: Requirement | None = None,
        known: bool = True,
        request_id: str | int | None = None,
    ) -> Decision:
        """Decide one request.

        ``own`` is the target primitive's requirement (``None``: undeclared, or no target);
        ``known`` is false when the call names a primitive the server does not have (then only the
        layered scopes apply and the SDK answers "unknown").
        """
        layers = self.layer_requirement(method)
        granted = self.granted(caller)
        if own is None and known and name is not None and self.settings.undeclared == "deny":
            return self._decision("not_found", method, name, layers, granted, caller, request_id)
        required = layers if own is None else self._required(method, layers, own)
        if granted is None:
            return self._decision("unauthenticated", method, name, required, granted, caller, request_id)
        if required.is_satisfied_by(granted):
            # Nothing to challenge: skip working out the closest alternative.
            return Decision("allow", method, name, required, granted, _EMPTY, _EMPTY, (), caller, request_id)
        if name is not None and self.settings.hidden_calls == "not_found" and self.settings.hide_unauthorized:
            # Past the connect layer, a primitive the caller cannot list is answered exactly like one
            # that does not exist, and a missing one likewise: nothing tells the two apart.
            connect = self._layers.connect
            if not connect.is_satisfied_by(granted):
                return self._decision("insufficient_scope", method, name, connect, granted, caller, request_id)
            return self._decision("not_found", method, name, connect, granted, caller, request_id)
        return self._decision("insufficient_scope", method, name, required, granted, caller, request_id)

    def visible(self, method: str, own: Requirement | None, granted: GrantedScopes) -> bool:
        """Whether a listing for ``method`` shows a primitive with requirement ``own``: declared (or
        undeclared allowed) and, with ``hide_unauthorized``, callable with the caller's scopes."""
        return self.visibility(method, granted)(own)

    def visibility(self, method: str, granted: GrantedScopes) -> Callable[[Requirement | None], bool]:
        """:meth:`visible` for one listing: what does not depend on the primitive is worked out once."""
        undeclared_shown = self.settings.undeclared == "allow"
        if not self.settings.hide_unauthorized:
            return lambda own: own is not None or undeclared_shown
        _, kind = METHODS[method]
        if not self._layers.call[kind].is_satisfied_by(granted):
            return lambda own: False  # nothing is callable without the call layer
        return lambda own: own.is_satisfied_by(granted) if own is not None else undeclared_shown

    def _decision(
        self,
        outcome: Outcome,
        method: str,
        name: str | None,
        required: Requirement,
        granted: GrantedScopes | None,
        caller: Caller | None,
        request_id: str | int | None,
    ) -> Decision:
        held = granted if granted is not None else self.hierarchy.expand(())
        closest = required.closest(held)
        missing = frozenset(s for s in closest if s not in held)
        if outcome == "unauthenticated":
            scope: frozenset[str] = frozenset(self.settings.scopes_supported) or closest
        else:
            # Ask for the fewest scopes that, expanded through the hierarchy, cover the operation.
            scope = self.hierarchy.reduce(closest)
            if self.settings.scope_challenge_include_token_scopes:
                scope |= held.token_scopes
        return Decision(
            outcome=outcome,
            method=method,
            name=name,
            required=required,
            granted=held,
            closest=closest,
            missing=missing if outcome != "allow" else frozenset(),
            challenge_scope=tuple(sorted(scope)),
            caller=caller,
            request_id=request_id,
        )

    # -- installation -------------------------------------------------------------------------------

    def install(self, server: Any) -> InstallReport:
        """Hook the guard into ``server``: an MCP SDK 2.x ``MCPServer``, or a ``fastmcp.FastMCP`` (4.x).

        Returns a report listing the primitives with no declared scopes. Raises
        :class:`ConfigurationError` when a declaration cannot be resolved (bad GraphQL, too many
        alternatives): a requirement that cannot be computed stops start-up, never means "no scope".
        """
        # Dispatch by the server's package, imported only then: the core imports no framework.
        # By the classes it is built from, so that a user's own subclass of FastMCP counts too.
        if any(cls.__module__.split(".")[0] == "fastmcp" for cls in type(server).__mro__):
            from fastmcp_scopes.adapters import fastmcp

            return fastmcp.install(self, server)
        from fastmcp_scopes.adapters import mcpserver

        return mcpserver.install(self, server)
