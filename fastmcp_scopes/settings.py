"""``ScopesSettings``: every option from ``FASTMCP_SCOPES_*`` variables, ``.env``, or keyword arguments.

Lists accept JSON (``["a","b"]``) or comma/space separated text (``a, b`` / ``a b``). Invalid values
stop start-up with a :class:`~fastmcp_scopes.errors.ConfigurationError` naming the variable and the
value; every scope token is checked against RFC 6749 §3.3 here, so nothing unvalidated ever reaches a
header.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_serializer, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.claims import ClaimScopes
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = [
    "ENV_PREFIX",
    "HTTP_SETTINGS_HELP",
    "KINDS",
    "Kind",
    "ScopesSettings",
    "load_settings",
    "missing_http_settings",
    "missing_http_settings_error",
]

ENV_PREFIX = "FASTMCP_SCOPES_"

Kind = Literal["tools", "prompts", "resources"]
"""The kinds of MCP primitive; resource templates count as ``resources``."""
KINDS: tuple[Kind, ...] = ("tools", "prompts", "resources")

_Scopes = Annotated[list[str], NoDecode]

DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    r"(?i:pass(?:word|wd|phrase)?|secret|token|auth|api[-_]?key|cookie|credential|private[-_]?key|session)",
)
"""Argument names whose values an audit event never shows (``FASTMCP_SCOPES_AUDIT_REDACT_KEYS``)."""
DEFAULT_REDACT_VALUES: tuple[str, ...] = (
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",  # e-mail addresses
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*",  # JWTs (a JSON header, base64url)
    r"(?i:bearer\s+[A-Za-z0-9._~+/=-]+)",  # credentials as sent in a header
)
"""Text an audit event never shows inside a string value (``FASTMCP_SCOPES_AUDIT_REDACT_VALUES``)."""


_BOOLEAN: TypeAdapter[bool] = TypeAdapter(bool)
"""pydantic's own reading of a boolean setting, for a setting that takes ``auto`` too."""


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


def _tool_requirement(name: str, spec: Any, *, what: str = "tool") -> Requirement:
    where = f"{what} {name!r}"
    if isinstance(spec, str):
        # A string is one scope. "a b" used to mean both, ANDed, so a scope mistyped with a space
        # ("employees read") silently became two; what was meant is not ours to guess.
        tokens = spec.split()
        for token in tokens:
            validate_scope_token(token, where=where)
        if len(tokens) != 1:
            raise ValueError(
                f"{where}: {spec!r} is not one scope; write a list: "
                + (
                    "[] for no scope of its own"
                    if not tokens
                    else f"{json.dumps(tokens)} for all of them, or {json.dumps([[t] for t in tokens])} for any one"
                )
            )
    return Requirement.parse(spec, where=where)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def _checked_url(value: str, *, identifier: bool = False) -> str:
    """``value`` unchanged if it is an absolute ``https`` URL (``http`` on a loopback host only).

    These URLs are published (protected resource metadata, ``WWW-Authenticate``) and fetched (keys,
    schemas): a relative or mistyped one would be handed to clients or silently fetched over plain
    HTTP. ``identifier``: an issuer identifier, which has no query either (RFC 8414 §2).
    """
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("a URL has no spaces, control or non-ASCII characters (percent-encode them)")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("expected an absolute https URL, such as https://auth.example.com")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"http is allowed on loopback hosts only (127.0.0.0/8, ::1, localhost), not {parts.hostname!r}; use https"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("a URL here carries no user name or password")
    if parts.fragment or value.endswith("#"):
        raise ValueError("a URL here has no fragment (#...)")
    if identifier and (parts.query or value.endswith("?")):
        raise ValueError("an issuer identifier has no query (?...) (RFC 8414 §2)")
    return value


class _KnownNamesOnly(PydanticBaseSettingsSource):
    """A ``.env`` source that contributes known settings only.

    With ``extra="forbid"`` pydantic-settings would pass every other line of a ``.env`` on as an
    extra (depending on its version, unprefixed ones too), but a ``.env`` is shared with other
    programs; unknown ``FASTMCP_SCOPES_*`` names are reported by :class:`_UnknownPrefixedNames`.
    """

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in self._inner().items() if name in self.settings_cls.model_fields}


class _UnknownPrefixedNames(PydanticBaseSettingsSource):
    """Every ``FASTMCP_SCOPES_*`` name in the environment or ``.env`` that is not a setting, as an extra
    input (prefix removed), which ``extra="forbid"`` then refuses exactly like a misspelt keyword
    argument. pydantic-settings itself skips such names, so a typo would leave its default in force."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prefix = ENV_PREFIX.lower()
        unknown: dict[str, Any] = {}
        for source in self._sources:
            variables: Mapping[str, str | None] = source.env_vars if isinstance(source, EnvSettingsSource) else {}
            for name, value in variables.items():
                key = name.lower()
                if key.startswith(prefix) and key[len(prefix) :] not in self.settings_cls.model_fields:
                    unknown[key[len(prefix) :]] = value
        return unknown


def _suggestion(name: str) -> str | None:
    close = difflib.get_close_matches(name.lower(), ScopesSettings.model_fields, n=1)
    return close[0] if close else None


_SERVERS_OWN = (
    "a token verifier is the server's, not the guard's: MCPServer(token_verifier=..., auth=AuthSettings(...)) "
    "(the MCP SDK 1.x FastMCP alike) or fastmcp's FastMCP(auth=...); install(server) then uses it"
)
"""What to say of an option that belongs on the server: the closest setting's name would mislead."""


def _unknown_name_problem(name: str, value: Any, *, keyword: bool) -> str:
    """One message for a name that is not a setting, whichever way it came in."""
    close = _suggestion(name)
    if keyword and name in ("token_verifier", "auth"):
        return f"unknown option {name}={value!r}; {_SERVERS_OWN}"
    if keyword:
        hint = f"; did you mean {close}?" if close else "; see ScopesSettings for the options"
        return f"unknown option {name}={value!r}{hint}"
    variable = f"{ENV_PREFIX}{name.upper()}"
    hint = (
        f"; did you mean {ENV_PREFIX}{close.upper()}?"
        if close
        else "; no fastmcp-scopes setting has this name (another program's variable needs another prefix)"
    )
    return f"unknown setting {variable}{hint}"


class ScopesSettings(BaseSettings):
    """All fastmcp-scopes options. Field ``x`` is read from ``FASTMCP_SCOPES_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # Unknown names stop start-up (keyword arguments here, FASTMCP_SCOPES_* variables through
        # _UnknownPrefixedNames): a misspelt option must not leave its default in force silently.
        extra="forbid",
        frozen=True,
    )

    # -- token verification and protected resource metadata (RFC 9728, RFC 9068) ------------------
    issuer: str | None = None
    """Exact ``iss`` the access tokens must carry: an ``https`` URL (``http`` on loopback only)."""
    jwks_uri: str | None = None
    """Where the issuer's signing keys are published (``https``; ``http`` on loopback only)."""
    audience: _Scopes = Field(default_factory=list)
    """Accepted ``aud`` values; defaults to ``resource_url``."""
    resource_url: str | None = None
    """Canonical server URL: PRM ``resource`` and the default audience (``https``; ``http`` on loopback only)."""
    authorization_servers: _Scopes = Field(default_factory=list)
    """PRM ``authorization_servers`` (issuer URLs); defaults to ``issuer``."""
    scopes_supported: _Scopes = Field(default_factory=list)
    """Baseline scopes: 401 ``scope`` and PRM ``scopes_supported`` (never the whole catalogue)."""
    algorithms: _Scopes = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    """Signature algorithms accepted (asymmetric only)."""
    leeway: float = Field(default=30.0, ge=0, le=300)
    """Seconds of clock skew allowed for ``exp``, ``nbf`` and ``iat``."""
    require_typ: bool = False
    """Require the RFC 9068 ``typ: at+jwt`` header."""
    require_identity_claims: bool = True
    """Refuse tokens without ``sub`` or a client id (``client_id``, ``azp``, ``cid``), both required by
    RFC 9068 §2.2. Relaxed, such tokens share one principal: one caller can end another's session."""
    introspection_url: str | None = None
    """RFC 7662 introspection endpoint, for opaque access tokens (instead of ``ISSUER``/``JWKS_URI``)."""
    introspection_client_id: str | None = None
    """This resource server's client id at the introspection endpoint."""
    introspection_client_secret: SecretStr | None = None
    """This resource server's client secret at the introspection endpoint (never shown in ``repr``)."""
    introspection_cache_max_age: float = Field(default=60.0, ge=0, le=3600)
    """Longest an introspection answer is reused (never past the token's ``exp``): a token revoked at the
    authorization server is refused within this many seconds. ``0``: ask every time."""
    token_cache_size: int = Field(default=2048, ge=0, le=1_000_000)
    """Verified JWTs remembered (by a digest of the token), so that a repeated token is not verified again;
    an entry goes at its ``exp``, when its key leaves the JWKS, and after the JWKS cache time. ``0``: none."""
    claim_scopes: Annotated[dict[str, dict[str, list[str]]], NoDecode] = Field(default_factory=dict)
    """Claims to scopes, for roles and permissions in other claims: ``{"realm_access.roles": {"research-agent":
    ["docs:read"]}}`` (a dotted claim path, ``\\.`` for a literal dot; each value's scopes). Granted = the token's
    scopes plus the mapped ones, then the hierarchy. A claim of another shape grants nothing from its path."""
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
    """Static per-tool requirements, ANDed with decorators: ``{"tool": "a" | ["a", "b"] | [["a"], ["b"]]}`` (a string
    is one scope; a list, all of them; a list of lists, any one)."""
    method_scopes: Annotated[dict[str, Requirement], NoDecode] = Field(default_factory=dict)
    """Request methods the guard does not know (an extension's ``tasks/get``, a server's own method), let
    through with these scopes and the connect layer: ``{"tasks/get": ["tasks:read"]}`` (shapes as
    ``tool_scopes``). Every other unknown method is refused: it may reach code the guard cannot see into."""
    public_tools: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Tools callable without a token, beside protected ones (as ``@public``): names, JSON or comma/space
    separated. A caller without a token may then initialize, list (public ones only) and call them."""
    public_prompts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Prompts reachable without a token (as ``public_tools``)."""
    public_resources: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Resources and resource templates readable without a token: URIs and URI templates, as listed (a JSON
    list where one holds a comma)."""
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
    scope_challenge_include_token_scopes: bool | Literal["auto"] = "auto"
    """Union a 403 challenge's scopes with the token's, for clients that replace their scopes instead of adding to
    them: ``true`` always; ``false`` never (the precise challenge of MCP 2026-07-28); ``auto`` for requests on a
    protocol version before 2026-07-28, or on one that is absent, malformed or self-contradicting (see
    :func:`fastmcp_scopes.operation.stated_version`)."""
    stdio_scopes: Annotated[list[str] | None, NoDecode] = None
    """Scopes granted to callers without a token (stdio, in-process). Unset: they are refused."""
    audit: bool = True
    """Write one event per decision to the ``fastmcp_scopes.audit`` logger, and one when a permitted call ends."""
    audit_argument_values: bool = False
    """Show a call's argument values in its completion event (after redaction); by default only their names,
    types and sizes."""
    audit_redact_keys: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_REDACT_KEYS))
    """Regular expressions (searched): an argument or member whose name matches one is shown as ``[redacted]``."""
    audit_redact_values: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_REDACT_VALUES))
    """Regular expressions: text matching one, anywhere in a string value, is shown as ``[redacted]``."""

    # -- policy hook (deny-only, after the scopes allow a call) --------------------------------------
    policy_hook: str | None = None
    """Import path (``package.module:attribute``) of an async deny-only hook (:mod:`fastmcp_scopes.policy_hook`);
    ``ScopeGuard(policy_hook=...)`` also takes the callable itself."""
    cedar_policies: str | None = None
    """A Cedar policy file for the embedded engine (the ``cedar`` extra): ``forbid`` rules, checked at start-up."""
    policy_hook_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds the hook may take; no answer by then is a refusal."""
    policy_cache_seconds: float = Field(default=0.0, ge=0, le=86_400)
    """How long the hook's answer for one caller and operation (arguments included) is reused; ``0``: never."""
    policy_cache_size: int = Field(default=1024, ge=1, le=1_000_000)
    """Most answers remembered; the oldest goes first."""

    # -- GraphQL ------------------------------------------------------------------------------------
    graphql_schema: str | None = None
    """SDL file, introspection JSON file, or URL to introspect at start-up."""
    graphql_strict: bool = False
    """Fail on a schema that does not pass strict SDL validation instead of warning."""
    graphql_no_scope_directives: bool = False
    """Declare that the GraphQL schema has no ``@requiresScopes``/``@authenticated``: lets an introspection result
    (which cannot carry them) load, and refuses a schema that has some."""
    graphql_input_directives: bool = False
    """Count scope directives on argument and input types too (Apollo Router does not enforce them)."""
    graphql_max_query_bytes: int = Field(default=16_384, ge=1)
    """Largest ``execute_graphql`` query analysed (UTF-8 bytes); larger ones are refused before parsing."""
    graphql_max_query_tokens: int = Field(default=2_000, ge=1)
    """Most parser tokens in an ``execute_graphql`` query; past it parsing stops and the call is refused."""
    graphql_max_query_depth: int = Field(default=12, ge=1)
    """Deepest field nesting in an ``execute_graphql`` query (fragments expanded); deeper ones are refused."""

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

    @field_validator(
        "issuer",
        "jwks_uri",
        "resource_url",
        "graphql_schema",
        "introspection_url",
        "introspection_client_id",
        "introspection_client_secret",
        "policy_hook",
        "cedar_policies",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # FASTMCP_SCOPES_ISSUER= (empty) means "not set", as it does for the lists.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("issuer", mode="after")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        # Returned unchanged: `iss` is compared as an exact string (RFC 9068 §4), never normalised.
        return None if value is None else _checked_url(value, identifier=True)

    @field_validator("jwks_uri", "resource_url", mode="after")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _checked_url(value)

    @field_validator("graphql_schema", mode="after")
    @classmethod
    def _schema_url(cls, value: str | None) -> str | None:
        # A file path or a URL; only a URL (anything with a scheme) is checked as one.
        return value if value is None or "://" not in value else _checked_url(value)

    @field_validator("authorization_servers", mode="after")
    @classmethod
    def _issuer_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            try:
                _checked_url(url, identifier=True)
            except ValueError as err:
                raise ValueError(f"{url!r}: {err}") from None
        return value

    @field_validator("audit_redact_keys", "audit_redact_values", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> Any:
        # A pattern may hold commas and spaces: JSON for a list, any other text is one pattern.
        if isinstance(value, str):
            text = value.strip()
            return _split(text) if text.startswith("[") else ([text] if text else [])
        return value

    @field_validator("audit_redact_keys", "audit_redact_values", mode="after")
    @classmethod
    def _compiled(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(
                    f"{pattern!r} is not a regular expression ({err}); "
                    'write flags scoped, as "(?i:secret)", and escape literal characters'
                ) from None
        try:  # they are searched joined as alternatives, where a global flag such as (?i) is an error
            re.compile("|".join(f"(?:{p})" for p in value))
        except re.error as err:
            raise ValueError(f'the patterns cannot be joined ({err}); scope flags to each, as "(?i:secret)"') from None
        return value

    @field_validator("scope_challenge_include_token_scopes", mode="before")
    @classmethod
    def _auto_or_bool(cls, value: Any) -> Any:
        text = value.strip().lower() if isinstance(value, str) else None
        if text == "" or text == "auto":
            return "auto"  # empty means unset, as for every setting
        try:
            return _BOOLEAN.validate_python(text if text is not None else value, strict=False)
        except ValidationError:
            pass
        close = difflib.get_close_matches(text, ("auto", "true", "false"), n=1, cutoff=0.5) if text else []
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(f"expected auto, true or false{hint}")

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
            raise ValueError('expected a JSON object {"tool": "scope" | ["a", "b"] | [["a"], ["b"]]}')
        return {name: _tool_requirement(name, spec) for name, spec in value.items()}

    @field_validator("method_scopes", mode="before")
    @classmethod
    def _method_scopes(cls, value: Any) -> Any:
        value = _json_object(value)
        if not isinstance(value, dict):
            raise ValueError('expected a JSON object {"method": "scope" | ["a", "b"] | [["a"], ["b"]]}')
        return {name: _tool_requirement(name, spec, what="method") for name, spec in value.items()}

    @field_validator("public_tools", "public_prompts", "public_resources", mode="before")
    @classmethod
    def _public(cls, value: Any) -> Any:
        value = _split(value if value is not None else [])
        if not isinstance(value, list) or not all(isinstance(name, str) and name.strip() for name in value):
            raise ValueError('expected names: ["search", "about"] or "search, about"')
        return value

    @field_serializer("tool_scopes", "method_scopes")
    def _dump_tool_scopes(self, value: dict[str, Requirement]) -> dict[str, list[list[str]]]:
        # The configuration shape (not the dataclass internals), so that ``model_dump()`` and JSON
        # dumps read back through ``load_settings`` unchanged.
        return {name: requirement.to_json() for name, requirement in value.items()}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources in its order (arguments, environment, ``.env``), plus the unknown
        ``FASTMCP_SCOPES_*`` names of the last two, the environment's winning."""
        return (
            init_settings,
            env_settings,
            _KnownNamesOnly(dotenv_settings),
            file_secret_settings,
            _UnknownPrefixedNames(settings_cls, dotenv_settings, env_settings),
        )

    @field_validator("introspection_url", mode="after")
    @classmethod
    def _introspection_url(cls, value: str | None) -> str | None:
        return None if value is None else _checked_url(value)

    @field_validator("claim_scopes", mode="before")
    @classmethod
    def _claim_scopes(cls, value: Any) -> Any:
        value = _json_object(value if value is not None else {})
        ClaimScopes(value)  # every path, value and scope checked; raises ValueError naming the bad one
        return {
            path: {v: [s] if isinstance(s, str) else s for v, s in values.items()} for path, values in value.items()
        }

    @field_validator("hierarchy", mode="before")
    @classmethod
    def _hierarchy(cls, value: Any) -> Any:
        value = _json_object(value)
        if not isinstance(value, dict):
            raise ValueError('expected a JSON object {"scope": ["implied", ...]}')
        return {validate_scope_token(k): _scope_list(v) for k, v in value.items()}


HTTP_SETTINGS_HELP = 'see "Serving over HTTP" in the README'
"""Where the settings :func:`missing_http_settings` reports are explained."""

_HTTP_SETTINGS: dict[str, str] = {
    "issuer": "the exact `iss` your authorization server puts in its access tokens (its issuer URL)",
    "jwks_uri": "where that server publishes its signing keys (`jwks_uri` in its metadata)",
    "resource_url": "this server's canonical URL, such as https://mcp.example.com/mcp: the audience its tokens "
    "must carry and the `resource` of its metadata",
}


def missing_http_settings(settings: ScopesSettings, *, resource_url_known: bool, verifier_known: bool) -> list[str]:
    """The ``FASTMCP_SCOPES_*`` variables that serving over HTTP needs and ``settings`` lacks, all of
    them, in a fixed order (``ISSUER``, ``JWKS_URI``, ``RESOURCE_URL``); empty when nothing is missing.

    Pure: reads ``settings`` only. ``resource_url_known``: the server supplies its canonical URL itself
    (the SDK's ``AuthSettings.resource_server_url``, a fastmcp provider's ``base_url``), so
    ``RESOURCE_URL`` is not needed. ``verifier_known``: the server verifies tokens itself (a
    ``token_verifier``, a fastmcp ``auth`` provider), so ``ISSUER`` and ``JWKS_URI`` are not needed.
    ``AUDIENCE`` is never missing: it defaults to the resource URL. Turn a non-empty result into the
    error with :func:`missing_http_settings_error`.
    """
    missing = []
    if not verifier_known:
        if not settings.issuer:
            missing.append(f"{ENV_PREFIX}ISSUER")
        if not settings.jwks_uri:
            missing.append(f"{ENV_PREFIX}JWKS_URI")
    if not resource_url_known and not settings.resource_url:
        missing.append(f"{ENV_PREFIX}RESOURCE_URL")
    return missing


def missing_http_settings_error(missing: list[str], *, alternatives: str | None = None) -> ConfigurationError:
    """One :class:`ConfigurationError` naming every variable in ``missing`` (from
    :func:`missing_http_settings`), its keyword argument and what it is for, and pointing at the README.

    ``alternatives``: what the server could supply instead, appended as given (for instance ``"pass
    token_verifier= instead of ISSUER and JWKS_URI"``).
    """
    lines = [
        f"serving over HTTP needs {len(missing)} more setting{'s' if len(missing) != 1 else ''} ({HTTP_SETTINGS_HELP}):"
    ]
    for variable in missing:
        keyword = variable.removeprefix(ENV_PREFIX).lower()
        lines.append(f"  {variable} (or {keyword}=): {_HTTP_SETTINGS.get(keyword, 'see the README')}")
    if alternatives:
        lines.append(f"or {alternatives}")
    return ConfigurationError("\n".join(lines))


def load_settings(**overrides: Any) -> ScopesSettings:
    """Build settings from the environment, ``.env`` and ``overrides`` (keyword arguments win).

    Raises:
        ConfigurationError: naming the ``FASTMCP_SCOPES_*`` variable and the value that is wrong, every
            ``FASTMCP_SCOPES_*`` variable (environment or ``.env``) and keyword argument that is not an
            option, each with the closest real name; all problems in one error.
    """
    try:
        return ScopesSettings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            if error["type"] == "extra_forbidden":
                # A name that is not a setting: a keyword argument, or a FASTMCP_SCOPES_* variable of
                # the environment or .env (see _UnknownPrefixedNames). Arguments win, as for values.
                problems.append(_unknown_name_problem(field, error.get("input"), keyword=field in overrides))
                continue
            shown = repr(error.get("input"))
            if len(shown) > 80:
                shown = shown[:77] + "..."
            message = error["msg"].removeprefix("Value error, ")
            # Named both ways: the value may have come from the environment, .env or a keyword argument.
            problems.append(f"{ENV_PREFIX}{field.upper()} (or {field}=) = {shown}: {message}")
        raise ConfigurationError("invalid fastmcp-scopes configuration:\n  " + "\n  ".join(problems)) from None
