"""JWT access token verification (RFC 9068, RFC 8725); the keys come from :mod:`fastmcp_scopes.jwks`.

:class:`JWTVerifier` implements the MCP SDK's one-method ``TokenVerifier`` protocol
(``verify_token``), so the policy core never learns about JWT. It also offers :meth:`JWTVerifier.verify`,
which raises :class:`~fastmcp_scopes.errors.InvalidTokenError` carrying a fixed client-safe
``description`` and a log-only ``detail``, for the HTTP layer's ``401 invalid_token`` answer
(RFC 6750 §3.1).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import httpx2
import jwt
from pydantic import Field

from fastmcp_scopes._compat import AccessToken
from fastmcp_scopes._json import _unique_names as unique_names
from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError, InvalidScopeError, InvalidTokenError
from fastmcp_scopes.jwks import SUPPORTED_ALGORITHMS, JWKSCache, PublicKey
from fastmcp_scopes.settings import ScopesSettings, missing_http_settings, missing_http_settings_error

__all__ = [
    "DEFAULT_ALGORITHMS",
    "SUPPORTED_ALGORITHMS",
    "BearerToken",
    "JWKSCache",
    "JWTVerifier",
    "VerifiedAccessToken",
]

logger = logging.getLogger(__name__)

DEFAULT_ALGORITHMS: Final[tuple[str, ...]] = ("RS256", "PS256", "ES256", "EdDSA")
"""Signature algorithms accepted unless configured otherwise."""

_MAX_KID_IN_DETAIL: Final = 64
_AT_JWT_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
# Headers and scope strings recur across an issuer's tokens (one key, one client's grant): each distinct one is
# parsed and checked once. Only those of tokens whose signature verified are kept, so a stream of forged tokens
# cannot churn them; a few dozen cover an issuer's key rotation and its clients' grants.
_HEADER_CACHE_SIZE: Final = 32
_SCOPE_CACHE_SIZE: Final = 256

# Fixed client-facing descriptions (RFC 6750 §3 error_description). Nothing from the token is ever
# interpolated here; the specifics go to `InvalidTokenError.detail`, which is for logs only.
MALFORMED: Final = "The access token is malformed"
UNVERIFIABLE: Final = "The access token signature could not be verified"
EXPIRED: Final = "The access token has expired"
NOT_YET_VALID: Final = "The access token is not yet valid"
WRONG_ISSUER: Final = "The access token was issued by an untrusted issuer"
WRONG_AUDIENCE: Final = "The access token was not issued for this resource"
WRONG_TYPE: Final = "The access token has the wrong type"
BAD_CLAIMS: Final = "The access token has invalid claims"
NO_IDENTITY: Final = "The access token does not identify its subject and client (sub, client_id)"
DESCRIPTIONS: Final[frozenset[str]] = frozenset(
    {
        MALFORMED,
        UNVERIFIABLE,
        EXPIRED,
        NOT_YET_VALID,
        WRONG_ISSUER,
        WRONG_AUDIENCE,
        WRONG_TYPE,
        BAD_CLAIMS,
        NO_IDENTITY,
    }
)
"""Every ``description`` :meth:`JWTVerifier.verify` can raise with."""


_Entry = tuple["VerifiedAccessToken", float | None, float | None, str | None, bytes, float]
"""A cached verification: the token, its ``exp``, the later of ``nbf``/``iat``, the ``kid`` and fingerprint of the
key that verified it, and when it was stored (monotonic)."""


class BearerToken:
    """A raw bearer token whose ``repr`` and ``str`` never show it, so it stays out of logs and tracebacks.

    Like Starlette's ``Secret``: call :meth:`reveal` at the one place that needs the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The token itself."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BearerToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class VerifiedAccessToken(AccessToken):
    """The SDK's :class:`~mcp.server.auth.provider.AccessToken` with the raw token kept out of ``repr``.

    ``subject`` is ``sub``, ``client_id`` comes from ``client_id`` (or ``azp``, ``cid``), ``resource``
    is the configured audience entry the token matched, and ``claims`` holds the whole verified
    payload (``iss`` included) for audit.
    """

    token: str = Field(repr=False)


# base64url to the standard alphabet for binascii's strict decoder; "+", "/" and "=" (padding) become "!", which it
# refuses, so only the 64 base64url characters decode (RFC 7515 §2: base64url without padding).
_TO_STANDARD: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING: Final = (b"", b"", b"==", b"=")
_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The last character of a segment whose length leaves 2 (or 3) characters over carries 4 (or 2) unused bits;
# canonical base64url leaves them zero.
_CANONICAL_LAST: Final[tuple[frozenset[str], ...]] = (
    frozenset(_ALPHABET),
    frozenset(),
    frozenset(_ALPHABET[::16]),
    frozenset(_ALPHABET[::4]),
)


def _b64url(segment: str) -> bytes:
    """Decode one ASCII base64url segment, refusing other characters, padding and non-canonical encodings.

    Two spellings of the same bytes would make two different strings the same token, which defeats
    any cache or deny-list keyed on the token text (PyJWT refuses them too). The only second spellings
    base64url has are unused bits set in the last character, checked here without encoding the bytes again.
    """
    if segment[-1:] not in _CANONICAL_LAST[len(segment) % 4]:
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(segment.encode().translate(_TO_STANDARD) + _PADDING[len(segment) % 4], strict_mode=True)


# One decoder for every token: ``json.loads`` builds a new one per call and sniffs the encoding, a tenth of the
# time a verification takes outside the signature check. JOSE JSON is UTF-8 (RFC 7515 §2), decoded strictly.
_DECODER: Final = json.JSONDecoder(object_pairs_hook=unique_names)


def _json_object(segment: str) -> dict[str, Any]:
    value = _DECODER.decode(_b64url(segment).decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _safe(value: object) -> str:
    """A short, quoted rendering of an attacker-controlled value for log-only detail."""
    text = repr(value)
    return text if len(text) <= _MAX_KID_IN_DETAIL else text[:_MAX_KID_IN_DETAIL] + "...'"


class JWTVerifier:
    """Verify RFC 9068 JWT access tokens and turn them into the MCP SDK's ``AccessToken``.

    Implements ``mcp.server.auth.provider.TokenVerifier``. What is checked, in order:

    1. size (``max_token_bytes``) and compact-JWS shape, before any parsing;
    2. header: a JSON object without duplicate names, ``alg`` in ``algorithms``, no ``crit``,
       ``typ`` of ``at+jwt`` when ``require_typ``; ``jku``, ``x5u``, ``jwk`` and ``x5c`` are ignored,
       keys only ever come from the configured ``jwks_uri``/``jwks``;
    3. signature, by PyJWT's algorithm implementation for ``alg`` with a key whose type fits it
       (an RSA key never verifies an HMAC); the compact serialisation is parsed here, once
       (canonical base64url, JSON objects without duplicate names), not by PyJWT's decoder, whose
       per-character checks in Python cost more than the RSA verification itself; the header text of a token
       that verified is remembered with its ``alg`` and ``kid``, and a scope string with its scopes, so the same
       text is not decoded and checked again for the next token of that issuer and client;
    4. ``iss`` equal to ``issuer`` (exact string), ``aud`` containing one of ``audience``
       (default: ``resource_url``), ``exp`` (required), ``nbf`` and ``iat`` (not in the future)
       with ``leeway`` seconds of skew;
    5. ``sub`` and client id strings, both present and non-empty unless ``require_identity_claims``
       is false (RFC 9068 §2.2 requires both: without them every such token is the same principal,
       so one caller could act on another's session); scopes from the first of ``scope_claims``
       present: a space-delimited string or an array of strings, every entry an RFC 6749 §3.3
       scope-token.

    A token that passed is remembered (up to ``token_cache_size``, keyed by a BLAKE2b digest of the token), so an
    agent sending it again costs a dictionary look-up: the entry is used only while ``exp`` and ``nbf``/``iat``
    still hold on the clock of that moment, the key that verified it is still published under its ``kid``, and it
    is younger than the JWKS ``ttl``; otherwise the token is verified afresh and fails with the precise reason.
    Refused tokens are never remembered.

    .. warning::

       Trust nothing in the token to choose how the token is checked (RFC 8725 §2.1, §3.1): the
       issuer, audiences and algorithm list are configuration, fixed here, never read from the
       token's header or claims. Never let one deployment accept both a symmetric algorithm (HS*)
       and an asymmetric one: a public key handed to an HMAC becomes a shared secret everybody
       knows. This verifier accepts asymmetric algorithms only and refuses to be configured
       otherwise.

    Raises:
        ConfigurationError: at construction, on an empty issuer, no audience, an algorithm outside
            :data:`SUPPORTED_ALGORITHMS`, or neither/both of ``jwks_uri`` and ``jwks``.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        audience: str | Sequence[str] | None = None,
        resource_url: str | None = None,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 30.0,
        require_typ: bool = False,
        require_identity_claims: bool = True,
        scope_claims: Sequence[str] = ("scope", "scp"),
        client_id_claims: Sequence[str] = ("client_id", "azp", "cid"),
        subject_claim: str = "sub",
        required_claims: Sequence[str] = ("exp", "iss", "aud"),
        max_token_bytes: int = 16 * 1024,
        token_cache_size: int = 2048,
        jwks_cache_ttl: float = 300.0,
        jwks_refresh_interval: float = 30.0,
        jwks_timeout: float = 5.0,
        http_client: httpx2.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("issuer must be a non-empty string (the exact `iss` value)")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if not audiences and resource_url:
            audiences = [resource_url]
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise ConfigurationError("no audience: set audience or resource_url (tokens must be issued for us)")
        algs = tuple(dict.fromkeys(algorithms))
        unsupported = [alg for alg in algs if alg not in SUPPORTED_ALGORITHMS]
        if not algs or unsupported:
            raise ConfigurationError(
                f"algorithms must be a non-empty subset of {sorted(SUPPORTED_ALGORITHMS)}; "
                f"refusing {unsupported or 'an empty list'} (never `none` or symmetric HS*)"
            )
        if not math.isfinite(leeway) or not 0 <= leeway <= 300:
            raise ConfigurationError(f"leeway must be between 0 and 300 seconds, got {leeway!r}")
        if max_token_bytes <= 0:
            raise ConfigurationError("max_token_bytes must be positive")
        if not isinstance(token_cache_size, int) or token_cache_size < 0:
            raise ConfigurationError(
                f"token_cache_size must be an integer >= 0 (0: no cache), got {token_cache_size!r}"
            )
        if not scope_claims or not client_id_claims:
            raise ConfigurationError("scope_claims and client_id_claims must name at least one claim")
        self.issuer = issuer
        self.audiences: tuple[str, ...] = tuple(audiences)
        self._audience_set = frozenset(audiences)
        self.algorithms: tuple[str, ...] = algs
        self.leeway = leeway
        self.require_typ = require_typ
        self.require_identity_claims = require_identity_claims
        self.scope_claims = tuple(scope_claims)
        self.client_id_claims = tuple(client_id_claims)
        self.subject_claim = subject_claim
        self.required_claims = tuple(required_claims)
        self.max_token_bytes = max_token_bytes
        self.keys = JWKSCache(
            jwks_uri=jwks_uri,
            jwks=jwks,
            ttl=jwks_cache_ttl,
            min_refresh_interval=jwks_refresh_interval,
            timeout=jwks_timeout,
            http_client=http_client,
            monotonic=monotonic,
        )
        self._clock = clock
        self._monotonic = monotonic
        self.token_cache_size = token_cache_size
        self._cache: dict[bytes, _Entry] = {}
        self._algorithm_impls = {alg: jwt.get_algorithm_by_name(alg) for alg in algs}
        self._headers: dict[str, tuple[str, str | None]] = {}  # header segment -> (alg, kid), checked
        self._scope_lists: dict[str, tuple[str, ...]] = {}  # scope claim string -> its validated scopes
        self._missing_descriptions = {name: _MISSING.get(name, BAD_CLAIMS) for name in self.required_claims}

    @classmethod
    def from_settings(cls, settings: ScopesSettings, *, resource_url: str, server_hint: str) -> JWTVerifier:
        """The verifier ``FASTMCP_SCOPES_ISSUER``, ``JWKS_URI``, ``AUDIENCE`` (default: ``resource_url``),
        ``ALGORITHMS``, ``LEEWAY``, ``REQUIRE_TYP``, ``REQUIRE_IDENTITY_CLAIMS`` and ``TOKEN_CACHE_SIZE`` describe.

        Raises:
            ConfigurationError: naming every unset variable it needs at once (issuer and JWKS URI), what
                each is for and the README section; ``server_hint`` says what the server could supply
                instead.
        """
        missing = missing_http_settings(settings, resource_url_known=True, verifier_known=False)
        if missing or not settings.issuer or not settings.jwks_uri:
            raise missing_http_settings_error(missing, alternatives=server_hint)
        return cls(
            issuer=settings.issuer,
            jwks_uri=settings.jwks_uri,
            audience=settings.audience or None,
            resource_url=resource_url,
            algorithms=settings.algorithms,
            leeway=settings.leeway,
            require_typ=settings.require_typ,
            require_identity_claims=settings.require_identity_claims,
            token_cache_size=settings.token_cache_size,
        )

    async def start(self) -> None:
        """Fetch the signing keys now, at start-up, so that the first request does not wait for them."""
        await self.keys.start()

    async def verify_token(self, token: str) -> AccessToken | None:
        """``TokenVerifier`` protocol: the verified token, or ``None`` for any invalid one."""
        try:
            return await self.verify(token)
        except InvalidTokenError as err:
            logger.debug("bearer token rejected: %s", err.detail)
            return None

    async def verify(self, token: str | BearerToken) -> VerifiedAccessToken:
        """Verify ``token`` and return it as a :class:`VerifiedAccessToken`.

        Raises:
            InvalidTokenError: with one of the fixed :data:`DESCRIPTIONS` (safe to send as the
                RFC 6750 ``error_description``) and a ``detail`` for logs. Neither contains the
                token; ``detail`` may contain a shortened ``repr`` of header values.
        """
        raw = token.reveal() if isinstance(token, BearerToken) else token
        if not isinstance(raw, str):
            raise InvalidTokenError(MALFORMED, detail="token is not a string")
        # Cap before parsing anything: a huge token must cost us nothing but a length check.
        if len(raw) > self.max_token_bytes or not raw.isascii():
            raise InvalidTokenError(MALFORMED, detail=f"token is not ASCII or longer than {self.max_token_bytes} bytes")
        digest = None
        if self.token_cache_size:
            # Keyed by a digest, not the token: the cache's keys give nothing away, and every spelling of a
            # token is a different key (base64url is checked canonical below, so no two spellings verify).
            digest = hashlib.blake2b(raw.encode(), digest_size=32).digest()
            cached = self._recall(digest)
            if cached is not None:
                return cached
        segments = raw.split(".")
        if len(segments) != 3:
            raise InvalidTokenError(MALFORMED, detail="not a compact JWS (three base64url segments)")
        header_segment, payload_segment, signature_segment = segments
        # A header seen on a token that verified was decoded and checked then: the same text gives the same answers.
        known = self._headers.get(header_segment)
        try:
            header = _json_object(header_segment) if known is None else {}
            payload = _json_object(payload_segment)
            signature = _b64url(signature_segment)
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as err:
            # RecursionError: deeply nested JSON arrays, which fit well within the size cap.
            raise InvalidTokenError(
                MALFORMED, detail=f"header, payload or signature does not decode: {err!r}"
            ) from None
        alg, kid = self._check_header(header) if known is None else known

        signers = await self.keys.signers(kid, alg)
        if not signers:
            raise InvalidTokenError(UNVERIFIABLE, detail=f"no {alg} key for kid {_safe(kid)}")
        # PyJWT's algorithm objects do the cryptography; the algorithm is the one the allow-list
        # admitted and the key type matched, never chosen by the key or widened by the token.
        signing_input = raw[: len(header_segment) + 1 + len(payload_segment)].encode()
        verify = self._algorithm_impls[alg].verify
        signer = next((entry for entry in signers if _signature_ok(verify, signing_input, entry[0], signature)), None)
        if signer is None:
            raise InvalidTokenError(
                UNVERIFIABLE, detail=f"signature does not verify with the key(s) for kid {_safe(kid)}"
            )
        if known is None:
            _bounded_put(self._headers, header_segment, (alg, kid), _HEADER_CACHE_SIZE)
        verified = self._access_token(raw, payload)
        if digest is not None:
            self._remember(digest, verified, payload, kid, signer[1])
        return verified

    def _check_header(self, header: dict[str, Any]) -> tuple[str, str | None]:
        """RFC 7515 §4.1 / RFC 9068 §4 / RFC 8725 §3.1: the header's ``alg`` (allow-listed) and ``kid``."""
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidTokenError(UNVERIFIABLE, detail=f"alg {_safe(alg)} is not in the allow-list")
        if "crit" in header:
            # RFC 7515 §4.1.11: we understand no extension, so any critical one makes the token unusable.
            raise InvalidTokenError(MALFORMED, detail="unsupported crit header")
        typ = header.get("typ")
        if self.require_typ and (not isinstance(typ, str) or typ.lower() not in _AT_JWT_TYPES):
            raise InvalidTokenError(WRONG_TYPE, detail=f"typ {_safe(typ)} is not at+jwt (RFC 9068 §4)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidTokenError(MALFORMED, detail="kid is not a string")
        return alg, kid

    def _recall(self, digest: bytes) -> VerifiedAccessToken | None:
        """The cached verification of this token, if every check it passed still holds now: not expired, valid
        already (a clock stepped back), its key still published, younger than the JWKS ``ttl``. Otherwise the
        entry goes and the token is verified again, so that it fails with the precise reason."""
        entry = self._cache.get(digest)
        if entry is None:
            return None
        token, exp, not_before, kid, key_print, stored_at = entry
        now = self._clock()
        if (
            (exp is None or exp > now - self.leeway)
            and (not_before is None or not_before <= now + self.leeway)
            and self.keys.holds(kid, key_print)
            and self._monotonic() - stored_at < self.keys.ttl
        ):
            return token
        self._cache.pop(digest, None)
        return None

    def _remember(
        self, digest: bytes, token: VerifiedAccessToken, payload: Mapping[str, Any], kid: str | None, key_print: bytes
    ) -> None:
        # The time claims passed _access_token: each is a number or absent.
        nbf, iat = payload.get("nbf"), payload.get("iat")
        not_before = iat if nbf is None else nbf if iat is None else max(nbf, iat)
        entry = (token, payload.get("exp"), not_before, kid, key_print, self._monotonic())
        # Oldest first: dicts keep insertion order. An agent's token is used in bursts, and one evicted
        # early is only verified again.
        _bounded_put(self._cache, digest, entry, self.token_cache_size)

    def _access_token(self, raw: str, payload: dict[str, Any]) -> VerifiedAccessToken:
        """The checks of RFC 7519 §4.1 / RFC 9068 §4 on a payload whose signature verified, each made once, here
        (PyJWT's decoder is not used, so no claim is checked twice): required claims, the time claims with
        ``leeway``, the exact issuer, the audience, the identity claims and the scopes."""
        for name, description in self._missing_descriptions.items():
            if name not in payload:
                raise InvalidTokenError(description, detail=f"{name} claim is missing")
        exp = payload.get("exp")
        nbf = payload.get("nbf")
        iat = payload.get("iat")
        for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)):
            # type(), not isinstance(): True is not a time. A JSON null is present, and not a number either. An int is
            # finite however long (math.isfinite would overflow on one past a float's range).
            if (value is not None or name in payload) and not (
                type(value) is int or (type(value) is float and math.isfinite(value))
            ):
                raise InvalidTokenError(MALFORMED, detail=f"{name} is not a number")
        now = self._clock()
        if exp is not None and exp <= now - self.leeway:
            raise InvalidTokenError(EXPIRED, detail="exp is in the past")
        if nbf is not None and nbf > now + self.leeway:
            raise InvalidTokenError(NOT_YET_VALID, detail="nbf is in the future")
        if iat is not None and iat > now + self.leeway:
            raise InvalidTokenError(NOT_YET_VALID, detail="iat is in the future")
        if "iss" in payload and payload["iss"] != self.issuer:
            # Exact string comparison: no normalisation, no prefix or substring match (RFC 9068 §4).
            raise InvalidTokenError(WRONG_ISSUER, detail="iss differs from the configured issuer")
        aud = payload.get("aud")
        resource: str | None
        if isinstance(aud, str):
            resource = aud if aud in self._audience_set else None
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            resource = next((a for a in self.audiences if a in aud), None)  # the first configured one it names
        else:
            raise InvalidTokenError(WRONG_AUDIENCE, detail="aud is neither a string nor an array of strings")
        if resource is None:
            raise InvalidTokenError(WRONG_AUDIENCE, detail="aud contains none of the configured audiences")
        subject = payload.get(self.subject_claim)
        if subject is not None and not isinstance(subject, str):
            raise InvalidTokenError(BAD_CLAIMS, detail=f"{self.subject_claim} is not a string")
        client_id = self._first_claim(payload, self.client_id_claims)
        if self.require_identity_claims and not (subject and client_id):
            absent = [self.subject_claim] if not subject else []
            absent += ["/".join(self.client_id_claims)] if not client_id else []
            raise InvalidTokenError(
                NO_IDENTITY,
                detail=f"no {' and no '.join(absent)} claim (RFC 9068 §2.2 requires sub and client_id); "
                "FASTMCP_SCOPES_REQUIRE_IDENTITY_CLAIMS=false accepts such tokens",
            )
        return VerifiedAccessToken(
            token=raw,
            client_id=client_id or "",
            scopes=self._scopes(payload),
            expires_at=None if exp is None else int(exp),
            resource=resource,
            subject=subject,
            claims=payload,
        )

    @staticmethod
    def _first_claim(payload: Mapping[str, Any], names: Sequence[str]) -> str | None:
        for name in names:
            if name in payload:
                value = payload[name]
                if not isinstance(value, str):
                    raise InvalidTokenError(BAD_CLAIMS, detail=f"{name} is not a string")
                return value
        return None

    def _scopes(self, payload: Mapping[str, Any]) -> list[str]:
        name = next((n for n in self.scope_claims if n in payload), None)
        if name is None:
            return []
        value = payload[name]
        if isinstance(value, str):
            known = self._scope_lists.get(value)
            if known is not None:
                return list(known)
            scopes = self._valid_scopes(name, [s for s in value.split(" ") if s])
            _bounded_put(self._scope_lists, value, tuple(scopes), _SCOPE_CACHE_SIZE)
            return scopes
        if isinstance(value, list):
            return self._valid_scopes(name, value)
        raise InvalidTokenError(BAD_CLAIMS, detail=f"{name} is neither a string nor an array")

    @staticmethod
    def _valid_scopes(name: str, items: Iterable[object]) -> list[str]:
        try:
            # Scope tokens end up in WWW-Authenticate challenges and audit logs: reject any that
            # RFC 6749 §3.3 does not allow rather than pass them on.
            return list(dict.fromkeys(validate_scope_token(s, where=f"the {name} claim") for s in items))
        except InvalidScopeError:
            raise InvalidTokenError(
                BAD_CLAIMS, detail=f"{name} holds a value that is not an RFC 6749 scope-token"
            ) from None


_MISSING: Final = {"aud": WRONG_AUDIENCE, "iss": WRONG_ISSUER}
"""What a missing required claim is reported as (any other: :data:`BAD_CLAIMS`)."""


def _signature_ok(
    verify: Callable[[bytes, Any, bytes], bool], signing_input: bytes, key: PublicKey, sig: bytes
) -> bool:
    try:
        return bool(verify(signing_input, key, sig))
    except (ValueError, TypeError, jwt.PyJWTError):
        return False  # e.g. an ES256 signature of the wrong length


def _bounded_put(cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
    """``cache[key] = value``, first dropping the oldest entry when ``cache`` holds ``size`` (dicts keep insertion
    order)."""
    if len(cache) >= size and key not in cache:
        del cache[next(iter(cache))]
    cache[key] = value
