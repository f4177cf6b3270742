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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

from fastmcp_scopes.challenge import BearerChallenge, format_scope
from fastmcp_scopes.claims import ClaimScopes
from fastmcp_scopes.decorators import ScopeDeclaration
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.hierarchy import GrantedScopes, ScopeHierarchy
from fastmcp_scopes.operation import INVALID_PARAMS, METHOD_NOT_FOUND, METHODS, Action
from fastmcp_scopes.policy_hook import PolicyHook, import_hook
from fastmcp_scopes.requirements import Requirement
from fastmcp_scopes.settings import KINDS, Kind, ScopesSettings, load_settings

if TYPE_CHECKING:
    from fastmcp_scopes.graphql import ScopedSchema
    from fastmcp_scopes.pipeline import InstallReport

__all__ = [
    "ADAPTERS_GROUP",
    "INSUFFICIENT_SCOPE",
    "POLICY_DENIED",
    "UNAUTHENTICATED",
    "Action",
    "Caller",
    "ChallengeMode",
    "Decision",
    "Outcome",
    "ScopeGuard",
    "adapter_for",
]

INSUFFICIENT_SCOPE = -32003
"""JSON-RPC code of a refusal for missing scopes: in the implementation-defined band -32000..-32019,
clear of the SDK's -32000/-32001 and the retired -32002."""
UNAUTHENTICATED = -32004
"""JSON-RPC code of a refusal for want of an access token (stdio and in-process callers)."""
POLICY_DENIED = -32005
"""JSON-RPC code of a refusal by the policy hook (:mod:`fastmcp_scopes.policy_hook`): no scope would lift it."""

ADAPTERS_GROUP = "fastmcp_scopes.adapters"
"""The entry-point group through which server adapters make themselves known to :meth:`ScopeGuard.install`."""

Outcome = Literal[
    "allow", "insufficient_scope", "not_found", "unauthenticated", "invalid_params", "method_not_found", "policy_denied"
]

ChallengeMode = Literal["precise", "union"]
"""How a refusal's challenge was built: the operation's scopes only, or unioned with the token's."""

_FIXED_ERRORS: Mapping[str, tuple[int, str]] = {
    "invalid_params": (INVALID_PARAMS, "Invalid arguments: no scope requirement can be computed"),
    "method_not_found": (METHOD_NOT_FOUND, "Method not found"),
}
"""Refusals that no scope would lift: a fixed JSON-RPC error, no challenge, no ``data``."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as far as a decision and an audit event need to know. Never the token."""

    scopes: frozenset[str]
    subject: str | None = None
    client_id: str | None = None
    issuer: str | None = None
    claims: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The verified token's claims, for the policy hook (never compared: the identity above is the caller's; never in
    ``repr``: they may hold personal data, and a repr ends up in logs and tracebacks)."""
    anonymous: bool = False
    """No token at all, on a server where something is public (:mod:`fastmcp_scopes.anonymous`): it may reach only
    what is public, and the audit names it as anonymous."""


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
    challenge_mode: ChallengeMode | None = None
    """How ``challenge_scope`` was built, for an ``insufficient_scope`` refusal (``None``: no challenge to render)."""
    reason: str | None = None
    """Why the policy hook refused (outcome ``policy_denied``): shown to the client and audited."""

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
        if self.outcome == "policy_denied":
            return "Refused by policy"
        if self.outcome in _FIXED_ERRORS:
            return _FIXED_ERRORS[self.outcome][1]
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
        fixed = _FIXED_ERRORS.get(self.outcome)
        if fixed is not None:
            return {"code": fixed[0], "message": fixed[1]}
        if self.outcome == "policy_denied":  # no scope would help: the reason, and nothing to step up to
            data = {"error": self.outcome, "reason": self.reason or self.description}
            return {"code": POLICY_DENIED, "message": f"{self.outcome}: {self.description}", "data": data}
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

    def __init__(
        self, settings: ScopesSettings | None = None, *, policy_hook: PolicyHook | str | None = None, **overrides: Any
    ) -> None:
        if isinstance(policy_hook, str):
            overrides["policy_hook"] = policy_hook  # an import path: a setting like any other
            policy_hook = None
        if settings is not None and overrides:
            settings = load_settings(**{**settings.model_dump(), **overrides})
        self.settings: ScopesSettings = settings if settings is not None else load_settings(**overrides)
        s = self.settings
        known = sorted(set(s.method_scopes) & set(METHODS))
        if known:
            raise ConfigurationError(
                f"FASTMCP_SCOPES_METHOD_SCOPES names {known}, which the guard decides itself (on the primitive "
                "they reach, as a listing, or with the connect layer): configure their scopes with the layers"
            )
        self.hierarchy = ScopeHierarchy(s.hierarchy, s.wildcard_scopes)
        self.claim_scopes = ClaimScopes(s.claim_scopes)
        """``FASTMCP_SCOPES_CLAIM_SCOPES``, compiled: the scopes a caller's claims grant, on every path to a caller."""
        connect = Requirement.all_of(*s.connect_scopes)
        self._combined: dict[tuple[str, Requirement], Requirement] = {}
        self._layers = _Layers(
            connect=connect,
            list={k: Requirement.all_of(*s.list_scopes.get(k, ())) for k in KINDS},
            call={k: Requirement.all_of(*s.call_scopes.get(k, ())) for k in KINDS},
        )
        self._build_layers(connect)
        self._expanded: dict[frozenset[str], GrantedScopes] = {}
        self._planned: dict[tuple[Kind, Requirement], tuple[tuple[str, ...], ...]] = {}
        self._derived: dict[ScopeDeclaration, Requirement] = {}
        self._graphql: ScopedSchema | None = None
        self.policy_hook: PolicyHook | None = policy_hook or _configured_hook(s)
        """The deny-only hook asked after the scopes allow a call (:mod:`fastmcp_scopes.policy_hook`): given as
        ``policy_hook=``, else ``FASTMCP_SCOPES_POLICY_HOOK`` or ``FASTMCP_SCOPES_CEDAR_POLICIES``, loaded now."""

    # -- requirements -------------------------------------------------------------------------------

    def _build_layers(self, connect: Requirement) -> None:
        cap = self.settings.max_alternatives
        self._layers = _Layers(connect, self._layers.list, self._layers.call)
        self._action_layers: dict[tuple[Action, Kind], Requirement] = {
            (action, kind): connect.combine(
                (self._layers.list if action == "list" else self._layers.call)[kind], cap=cap
            )
            for action in ("list", "call")
            for kind in KINDS
        }
        self._combined.clear()
        self._planned = {}  # the layers changed (a server's own required scopes joined them)

    def require_for_every_request(self, scopes: Iterable[str]) -> None:
        """Add ``scopes`` to the connect layer: a server's own ``required_scopes`` (from its auth settings),
        so that the guard's answer names them too. Called by ``install``, before any request is decided."""
        extra = Requirement.all_of(*scopes)
        self._build_layers(self._layers.connect.combine(extra, cap=self.settings.max_alternatives))

    def layer_requirement(self, method: str, kind: Kind | None = None) -> Requirement:
        """The layered scopes a request for ``method`` needs (connect, plus list or call per kind);
        ``kind`` for a method whose kind comes from its params (``completion/complete``)."""
        rule = METHODS.get(method)
        if rule is None and method in self.settings.method_scopes:
            return self._required(method, self._layers.connect, self.settings.method_scopes[method])
        if rule is None or rule.action == "connect":
            return self._layers.connect
        kind = rule.kind or kind
        if kind is None:
            return self._layers.connect
        return self._action_layers[(rule.action, kind)]

    def _required(self, method: str, layers: Requirement, own: Requirement) -> Requirement:
        """``layers AND own``, remembered: the same few combinations recur on every request."""
        key = (method, own)
        required = self._combined.get(key)
        if required is None:
            if len(self._combined) >= _CACHE_SIZE:
                self._combined.clear()  # per-call requirements can vary without bound
            required = self._combined[key] = layers.combine(own, cap=self.settings.max_alternatives)
        return required

    def requirement(self, method: str, own: Requirement | None, kind: Kind | None = None) -> Requirement:
        """What ``method`` needs on a primitive (of ``kind``) whose own requirement is ``own``: the layered scopes
        AND ``own`` (``None``: undeclared, the layers alone), remembered as :meth:`decide` remembers it."""
        layers = self.layer_requirement(method, kind)
        return layers if own is None else self._required(f"{method} {kind}", layers, own)

    def scopes_to_call(self, kind: Kind, own: Requirement) -> tuple[tuple[str, ...], ...]:
        """What a client asks its authorization server for to call a primitive of ``kind`` whose own requirement is
        ``own``: one set of scopes per alternative (any one will do), each the connect and call layers with the
        primitive's own, less what the hierarchy implies (as a challenge asks), sorted. For a listing that lets a
        client plan its step-up (``hide_unauthorized=false``)."""
        key = (kind, own)
        planned = self._planned.get(key)
        if planned is None:
            if len(self._planned) >= _CACHE_SIZE:
                self._planned.clear()
            required = self._required(f"call {kind}", self._action_layers[("call", kind)], own)
            alternatives = (tuple(sorted(self.hierarchy.reduce(a))) for a in required.alternatives)
            planned = self._planned[key] = tuple(dict.fromkeys(alternatives))
        return planned

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

            self._graphql = load_schema(
                self.settings.graphql_schema,
                strict=self.settings.graphql_strict,
                input_directives=self.settings.graphql_input_directives,
                no_scope_directives=self.settings.graphql_no_scope_directives,
            )
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
        kind: Kind | None = None,
        request_id: str | int | None = None,
        visible: bool = False,
        unions_itself: bool = False,
    ) -> Decision:
        """Decide one request.

        ``own`` is the target primitive's requirement (``None``: undeclared, or no target);
        ``known`` is false when the call names a primitive the server does not have (then only the
        layered scopes apply and the SDK answers "unknown"); ``kind`` is the kind of primitive reached,
        for a method that can reach several (``completion/complete``); ``visible`` says the caller can already
        list the primitive (its static requirement is met), so a refusal is a challenge, never "not found";
        ``unions_itself``: the request speaks MCP 2026-07-28 or later, whose clients add a challenge's scopes to
        their own (:attr:`Operation.unions_itself <fastmcp_scopes.operation.Operation.unions_itself>`), so
        ``scope_challenge_include_token_scopes=auto`` challenges it precisely.
        """
        layers = self.layer_requirement(method, kind)
        granted = self.granted(caller)
        era = unions_itself
        if own is None and known and name is not None and self.settings.undeclared == "deny":
            return self._decision("not_found", method, name, layers, granted, caller, request_id, era)
        required = layers if own is None else self._required(f"{method} {kind}", layers, own)
        if granted is None:
            return self._decision("unauthenticated", method, name, required, granted, caller, request_id, era)
        if required.is_satisfied_by(granted):
            # Nothing to challenge: skip working out the closest alternative.
            return Decision("allow", method, name, required, granted, _EMPTY, _EMPTY, (), caller, request_id)
        if (
            name is not None
            and not visible
            and self.settings.hidden_calls == "not_found"
            and self.settings.hide_unauthorized
        ):
            # Past the connect layer, a primitive the caller cannot list is answered exactly like one
            # that does not exist, and a missing one likewise: nothing tells the two apart.
            connect = self._layers.connect
            if not connect.is_satisfied_by(granted):
                return self._decision("insufficient_scope", method, name, connect, granted, caller, request_id, era)
            return self._decision("not_found", method, name, connect, granted, caller, request_id, era)
        return self._decision("insufficient_scope", method, name, required, granted, caller, request_id, era)

    def refuse(
        self,
        outcome: Literal["invalid_params", "method_not_found", "not_found"],
        method: str,
        *,
        caller: Caller | None,
        name: str | None = None,
        request_id: str | int | None = None,
        unions_itself: bool = False,
    ) -> Decision:
        """A refusal that no scope would lift: a method the guard does not know (it may reach code the guard
        cannot see into), arguments from which no requirement can be computed, or a target that does not
        exist where the server would not say so itself. ``unions_itself``: as for :meth:`decide`."""
        connect = self._layers.connect
        granted = self.granted(caller)
        return self._decision(outcome, method, name, connect, granted, caller, request_id, unions_itself)

    def visible(self, method: str, own: Requirement | None, granted: GrantedScopes) -> bool:
        """Whether a listing for ``method`` shows a primitive with requirement ``own``: declared (or
        undeclared allowed) and, with ``hide_unauthorized``, callable with the caller's scopes."""
        return self.visibility(method, granted)(own)

    def visibility(self, method: str, granted: GrantedScopes) -> Callable[[Requirement | None], bool]:
        """:meth:`visible` for one listing: what does not depend on the primitive is worked out once."""
        undeclared_shown = self.settings.undeclared == "allow"
        if not self.settings.hide_unauthorized:
            return lambda own: own is not None or undeclared_shown
        kind = METHODS[method].kind
        assert kind is not None, method
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
        unions_itself: bool = False,
    ) -> Decision:
        held = granted if granted is not None else self.hierarchy.expand(())
        closest = required.closest(held)
        missing = frozenset(s for s in closest if s not in held)
        mode: ChallengeMode | None = None
        if outcome == "unauthenticated":
            scope: frozenset[str] = frozenset(self.settings.scopes_supported) or closest
        else:
            # Ask for the fewest scopes that, expanded through the hierarchy, cover the operation.
            scope = self.hierarchy.reduce(closest)
            include = self.settings.scope_challenge_include_token_scopes
            # auto: a client of the per-request era adds the challenge's scopes to its own (SEP-2350); any other,
            # or one whose version is unclear, may replace its scopes with them and drop those it holds.
            union = include is True or (include == "auto" and not unions_itself)
            if union:
                scope |= held.token_scopes
            if outcome == "insufficient_scope":  # the refusals a challenge is rendered for
                mode = "union" if union else "precise"
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
            challenge_mode=mode,
        )

    # -- installation -------------------------------------------------------------------------------

    def install(self, server: Any) -> InstallReport:
        """Hook the guard into ``server``: any server a registered adapter accepts (the MCP SDK's
        ``MCPServer`` and ``FastMCP``, standalone ``fastmcp``'s ``FastMCP``).

        Returns a report listing the primitives with no declared scopes. Raises
        :class:`ConfigurationError` when a declaration cannot be resolved (bad GraphQL, too many
        alternatives): a requirement that cannot be computed stops start-up, never means "no scope".

        Raises:
            TypeError: no adapter accepts ``server``.
        """
        report: InstallReport = adapter_for(server).install(self, server)
        return report


def _configured_hook(settings: ScopesSettings) -> PolicyHook | None:
    """The hook the settings name, loaded and checked at start-up (a policy file that does not parse stops it).

    Raises:
        ConfigurationError: both kinds of hook configured, or one that cannot be loaded.
    """
    if settings.policy_hook and settings.cedar_policies:
        raise ConfigurationError(
            "FASTMCP_SCOPES_POLICY_HOOK and FASTMCP_SCOPES_CEDAR_POLICIES are both set; a guard asks one policy hook"
        )
    if settings.policy_hook:
        return import_hook(settings.policy_hook)
    if settings.cedar_policies:
        from fastmcp_scopes.cedar import CedarPolicyHook  # the optional extra, imported only when configured

        return CedarPolicyHook.from_file(settings.cedar_policies)
    return None


def adapter_for(server: object) -> Any:
    """The adapter module that accepts ``server`` (see :mod:`fastmcp_scopes.adapters`).

    Adapters make themselves known through entry points, so the core imports none of them (and no framework):
    each is loaded only to ask whether it accepts this server; one whose framework is not installed cannot.

    Raises:
        TypeError: no adapter accepts ``server``.
    """
    names, unloadable = [], []
    for entry in sorted(entry_points(group=ADAPTERS_GROUP), key=lambda e: e.name):
        try:
            adapter = entry.load()
        except Exception as err:  # its framework is absent here, or another major of it: not this server's
            unloadable.append(f"{entry.name} ({type(err).__name__}: {err})")
            continue
        names.append(adapter.DESCRIPTION)
        if adapter.accepts(server):
            return adapter
    supported = ", ".join(names) or "none (is fastmcp-scopes installed?)"
    message = f"install() supports {supported}; got {type(server).__module__}.{type(server).__name__}"
    if unloadable:
        message += f" (adapters that cannot load here: {'; '.join(unloadable)})"
    raise TypeError(message)
