"""``ScopesSettings``: every option from ``FASTMCP_SCOPES_*`` variables, ``.env``, or keyword arguments.

Lists accept JSON (``["a","b"]``) or comma/space separated text (``a, b`` / ``a b``). Invalid values
stop start-up with a :class:`~fastmcp_scopes.errors.ConfigurationError` naming the variable and the
value; every scope token is checked against RFC 6749 §3.3 here, so nothing unvalidated ever reaches a
header.
"""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_serializer, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = ["ENV_PREFIX", "KINDS", "Kind", "ScopesSettings", "load_settings"]

ENV_PREFIX = "FASTMCP_SCOPES_"

Kind = Literal["tools", "prompts", "resources"]
"""The kinds of MCP primitive; resource templates count as ``resources``."""
KINDS: tuple[Kind, ...] = ("tools", "prompts", "resources")

_Scopes = Annotated[list[str], NoDecode]


def _split(value: Any) -> Any:
    """JSON, or comma/space separated text, into a list; other values pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"invalid JSON: {err.msg} at position {err.pos}") from None
    return [part for part in text.replace(",", " ").split() if part]


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as err:
            raise ValueError(f"invalid JSON: {err.msg} at position {err.pos}") from None
    return value


def _scope_list(value: Any) -> list[str]:
    value = _split(value)
    if not isinstance(value, list):
        raise ValueError("expected a list of scopes")
    return [validate_scope_token(s) for s in value]


class ScopesSettings(BaseSettings):
    """All fastmcp-scopes options. Field ``x`` is read from ``FASTMCP_SCOPES_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # -- token verification and protected resource metadata (RFC 9728, RFC 9068) ------------------
    issuer: str | None = None
    """Exact ``iss`` the access tokens must carry."""
    jwks_uri: str | None = None
    """Where the issuer's signing keys are published."""
    audience: _Scopes = Field(default_factory=list)
    """Accepted ``aud`` values; defaults to ``resource_url``."""
    resource_url: str | None = None
    """Canonical server URL: PRM ``resource`` and the default audience."""
    authorization_servers: _Scopes = Field(default_factory=list)
    """PRM ``authorization_servers``; defaults to ``issuer``."""
    scopes_supported: _Scopes = Field(default_factory=list)
    """Baseline scopes: 401 ``scope`` and PRM ``scopes_supported`` (never the whole catalogue)."""
    algorithms: _Scopes = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    """Signature algorithms accepted (asymmetric only)."""
    leeway: float = Field(default=30.0, ge=0, le=300)
    """Seconds of clock skew allowed for ``exp``, ``nbf`` and ``iat``."""
    require_typ: bool = False
    """Require the RFC 9068 ``typ: at+jwt`` header."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    """Largest JSON-RPC body inspected before dispatch; larger bodies are refused (413)."""

    # -- layered scopes -----------------------------------------------------------------------------
    connect_scopes: _Scopes = Field(default_factory=list)
    """Scopes every request needs."""
    list_scopes: Annotated[dict[Kind, list[str]], NoDecode] = Field(default_factory=dict)
    """Scopes a listing needs: a list (every kind) or ``{"tools": [...], "prompts": [...]}``."""
    call_scopes: Annotated[dict[Kind, list[str]], NoDecode] = Field(default_factory=dict)
    """Scopes a call needs: a list (every kind) or ``{"tools": [...], ...}``."""

    # -- per-primitive scopes -----------------------------------------------------------------------
    tool_scopes: Annotated[dict[str, Requirement], NoDecode] = Field(default_factory=dict)
    """Static per-tool requirements, ANDed with decorators: ``{"tool": "a b" | ["a"] | [["a"], ["b"]]}``."""
    hierarchy: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    """Scope implications: ``{"employees:write": ["employees:read"], "admin": ["*"]}``."""
    wildcard_scopes: _Scopes = Field(default_factory=list)
    """Wildcard patterns honoured when they arrive on a token (``files:*``)."""
    max_alternatives: int = Field(default=DEFAULT_MAX_ALTERNATIVES, ge=1, le=10_000)
    """Cap on alternatives after combining requirements."""

    # -- policy -------------------------------------------------------------------------------------
    hide_unauthorized: bool = True
    """Hide what the caller may not call; ``false`` lists everything with its scopes in ``_meta``."""
    hidden_calls: Literal["challenge", "not_found"] = "challenge"
    """A call to a primitive the caller cannot see: step-up challenge, or exactly like an unknown one."""
    undeclared: Literal["allow", "deny"] = "allow"
    """Primitives with no declared scopes: allowed under the layered scopes, or treated as absent."""
    scope_challenge_include_token_scopes: bool = False
    """Union challenges with the token's scopes, for clients that replace instead of accumulate."""
    stdio_scopes: Annotated[list[str] | None, NoDecode] = None
    """Scopes granted to callers without a token (stdio, in-process). Unset: they are refused."""
    audit: bool = True
    """Write one event per decision to the ``fastmcp_scopes.audit`` logger."""

    # -- GraphQL ------------------------------------------------------------------------------------
    graphql_schema: str | None = None
    """SDL file, introspection JSON file, or URL to introspect at start-up."""
    graphql_strict: bool = False
    """Fail on a schema that does not pass strict SDL validation instead of warning."""

    @field_validator(
        "audience", "authorization_servers", "algorithms", "wildcard_scopes", "connect_scopes", mode="before"
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("scopes_supported", "connect_scopes", "wildcard_scopes", mode="after")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return [validate_scope_token(s) for s in value]

    @field_validator("stdio_scopes", mode="before")
    @classmethod
    def _optional_scopes(cls, value: Any) -> Any:
        return None if value is None else _scope_list(value)

    @field_validator("scopes_supported", mode="before")
    @classmethod
    def _baseline(cls, value: Any) -> Any:
        value = _split(value)
        if isinstance(value, list) and "offline_access" in value:
            # RFC 9728 scopes_supported is what a client needs to start; refresh is the AS's business.
            raise ValueError("offline_access does not belong in the baseline scopes")
        return value

    @field_validator("list_scopes", "call_scopes", mode="before")
    @classmethod
    def _per_kind(cls, value: Any) -> Any:
        value = _split(value)
        if isinstance(value, list):
            scopes = _scope_list(value)
            return dict.fromkeys(KINDS, scopes)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(KINDS))
            if unknown:
                raise ValueError(f"unknown kind(s) {unknown}; expected some of {list(KINDS)}")
            return {kind: _scope_list(scopes) for kind, scopes in value.items()}
        raise ValueError('expected a list of scopes or {"tools": [...], "prompts": [...], "resources": [...]}')

    @field_validator("tool_scopes", mode="before")
    @classmethod
    def _tool_scopes(cls, value: Any) -> Any:
        value = _json_object(value)
        if not isinstance(value, dict):
            raise ValueError('expected a JSON object {"tool": "scope ..." | ["a", "b"] | [["a"], ["b"]]}')
        return {name: Requirement.parse(spec, where=f"tool {name!r}") for name, spec in value.items()}

    @field_serializer("tool_scopes")
    def _dump_tool_scopes(self, value: dict[str, Requirement]) -> dict[str, list[list[str]]]:
        # The configuration shape (not the dataclass internals), so that ``model_dump()`` and JSON
        # dumps read back through ``load_settings`` unchanged.
        return {name: requirement.to_json() for name, requirement in value.items()}

    @field_validator("hierarchy", mode="before")
    @classmethod
    def _hierarchy(cls, value: Any) -> Any:
        value = _json_object(value)
        if not isinstance(value, dict):
            raise ValueError('expected a JSON object {"scope": ["implied", ...]}')
        return {validate_scope_token(k): _scope_list(v) for k, v in value.items()}


def load_settings(**overrides: Any) -> ScopesSettings:
    """Build settings from the environment, ``.env`` and ``overrides`` (keyword arguments win).

    Raises:
        ConfigurationError: naming the ``FASTMCP_SCOPES_*`` variable and the value that is wrong, or a
            keyword argument that is not an option.
    """
    # Keyword arguments are checked by name: the model ignores extra input (so that a ``.env`` may hold
    # other variables), which would let a misspelt option (``hide_unauthorised=False``) pass silently.
    # Leading-underscore names are pydantic-settings' own options (``_env_file``).
    unknown = sorted(name for name in overrides if not name.startswith("_") and name not in ScopesSettings.model_fields)
    if unknown:
        problems = []
        for name in unknown:
            close = difflib.get_close_matches(name, ScopesSettings.model_fields, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"unknown option {name}={overrides[name]!r}{hint}")
        raise ConfigurationError("invalid fastmcp-scopes configuration:\n  " + "\n  ".join(problems))
    try:
        return ScopesSettings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            shown = repr(error.get("input"))
            if len(shown) > 80:
                shown = shown[:77] + "..."
            message = error["msg"].removeprefix("Value error, ")
            # Named both ways: the value may have come from the environment, .env or a keyword argument.
            problems.append(f"{ENV_PREFIX}{field.upper()} (or {field}=) = {shown}: {message}")
        raise ConfigurationError("invalid fastmcp-scopes configuration:\n  " + "\n  ".join(problems)) from None
