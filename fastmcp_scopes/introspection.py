"""Opaque access tokens, verified by asking the authorization server (OAuth 2.0 Token Introspection, RFC 7662).

:class:`IntrospectionVerifier` implements the MCP SDK's ``TokenVerifier`` protocol like
:class:`~fastmcp_scopes.tokens.JWTVerifier`, and its :meth:`~IntrospectionVerifier.verify` raises the same
:class:`~fastmcp_scopes.errors.InvalidTokenError` with a fixed client-safe ``description``. Everything that is not
a clear "active, for us, now" is a refusal (401 ``invalid_token``): ``active: false``, an HTTP error, a timeout, a
body that is not the JSON object RFC 7662 §2.2 describes, an audience or issuer that is not ours.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx2

from fastmcp_scopes._json import loads_unique_names
from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError, InvalidScopeError, InvalidTokenError
from fastmcp_scopes.settings import ScopesSettings
from fastmcp_scopes.tokens import (
    BAD_CLAIMS,
    EXPIRED,
    MALFORMED,
    NO_IDENTITY,
    NOT_YET_VALID,
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    BearerToken,
    VerifiedAccessToken,
)

__all__ = ["INACTIVE", "UNAVAILABLE", "IntrospectionVerifier"]

logger = logging.getLogger(__name__)

INACTIVE: Final = "The access token is not active"
UNAVAILABLE: Final = "The access token could not be checked"
_MAX_RESPONSE_BYTES: Final = 64 * 1024

_Entry = tuple[VerifiedAccessToken, float, float]
"""A cached answer: the token, until when it may be used (wall clock: ``exp``), and when it was stored
(monotonic)."""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class IntrospectionVerifier:
    """Verify opaque access tokens at the authorization server's RFC 7662 introspection endpoint.

    The resource server authenticates with its own client credentials (HTTP Basic, RFC 7662 §2.1). An active
    answer must carry ``aud`` containing one of ``audience`` (default: ``resource_url``; the MCP authorization
    spec requires audience validation), ``iss`` equal to ``issuer`` when one is configured, a future ``exp``
    (required unless ``require_exp`` is false) and a ``nbf``/``iat`` not in the future, ``sub`` and
    ``client_id`` unless ``require_identity_claims`` is false, and a ``scope`` of RFC 6749 §3.3 scope-tokens.

    Answers are remembered (keyed by a BLAKE2b digest of the token, never the token), up to ``cache_size``
    entries, each for at most ``cache_max_age`` seconds and never past the token's ``exp``, so a token revoked
    at the server is refused here within ``cache_max_age``. Refusals and failures are never remembered.

    Raises:
        ConfigurationError: at construction, on a URL that is not http(s), no client credentials, no audience,
            or a negative size, age or timeout.
    """

    def __init__(
        self,
        *,
        introspection_url: str,
        client_id: str,
        client_secret: str,
        audience: str | Sequence[str] | None = None,
        resource_url: str | None = None,
        issuer: str | None = None,
        leeway: float = 30.0,
        require_exp: bool = True,
        require_identity_claims: bool = True,
        timeout: float = 5.0,
        cache_size: int = 2048,
        cache_max_age: float = 60.0,
        max_token_bytes: int = 16 * 1024,
        http_client: httpx2.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(introspection_url, str) or not introspection_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"introspection_url must be an http(s) URL, got {introspection_url!r}")
        if not client_id or not client_secret:
            raise ConfigurationError(
                "introspection needs the resource server's client credentials (client_id and client_secret): "
                "RFC 7662 §2.1 requires the caller of the endpoint to authenticate"
            )
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if not audiences and resource_url:
            audiences = [resource_url]
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise ConfigurationError("no audience: set audience or resource_url (tokens must be issued for us)")
        for name, value in (("timeout", timeout), ("cache_max_age", cache_max_age), ("leeway", leeway)):
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigurationError(f"cache_size must be an integer >= 0 (0: no cache), got {cache_size!r}")
        self.introspection_url = introspection_url
        self.audiences: tuple[str, ...] = tuple(audiences)
        self.issuer = issuer
        self.leeway = leeway
        self.require_exp = require_exp
        self.require_identity_claims = require_identity_claims
        self.cache_size = cache_size
        self.cache_max_age = cache_max_age
        self.max_token_bytes = max_token_bytes
        self._auth = (client_id, client_secret)
        self._timeout = timeout
        self._client = http_client
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[bytes, _Entry] = {}
        self.request_count = 0
        """Introspection requests made so far."""

    @classmethod
    def from_settings(cls, settings: ScopesSettings, *, resource_url: str) -> IntrospectionVerifier:
        """The verifier ``FASTMCP_SCOPES_INTROSPECTION_URL``, ``INTROSPECTION_CLIENT_ID``,
        ``INTROSPECTION_CLIENT_SECRET``, ``INTROSPECTION_CACHE_MAX_AGE``, ``AUDIENCE`` (default: ``resource_url``),
        ``ISSUER`` (checked when set), ``LEEWAY`` and ``REQUIRE_IDENTITY_CLAIMS`` describe.

        Raises:
            ConfigurationError: naming each of the three introspection variables that is unset.
        """
        secret = settings.introspection_client_secret
        missing = [
            f"FASTMCP_SCOPES_{name.upper()}"
            for name, value in (
                ("introspection_url", settings.introspection_url),
                ("introspection_client_id", settings.introspection_client_id),
                ("introspection_client_secret", secret.get_secret_value() if secret else None),
            )
            if not value
        ]
        if missing or not settings.introspection_url or not settings.introspection_client_id or secret is None:
            raise ConfigurationError(
                f"opaque tokens need {', '.join(missing)}: the RFC 7662 endpoint and this resource server's "
                "client credentials there"
            )
        return cls(
            introspection_url=settings.introspection_url,
            client_id=settings.introspection_client_id,
            client_secret=secret.get_secret_value(),
            audience=settings.audience or None,
            resource_url=resource_url,
            issuer=settings.issuer,
            leeway=settings.leeway,
            require_identity_claims=settings.require_identity_claims,
            cache_max_age=settings.introspection_cache_max_age,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.introspection_url!r}, client_id={self._auth[0]!r})"  # never the secret

    async def verify_token(self, token: str) -> VerifiedAccessToken | None:
        """``TokenVerifier`` protocol: the verified token, or ``None`` for any token that is not verified."""
        try:
            return await self.verify(token)
        except InvalidTokenError as err:
            logger.debug("bearer token refused: %s", err.detail)
            return None

    async def verify(self, token: str | BearerToken) -> VerifiedAccessToken:
        """The token as the authorization server describes it, checked.

        Raises:
            InvalidTokenError: every refusal, with a fixed ``description`` and a ``detail`` for logs.
        """
        raw = token.reveal() if isinstance(token, BearerToken) else token
        if not isinstance(raw, str) or not raw or len(raw) > self.max_token_bytes or not raw.isascii():
            raise InvalidTokenError(MALFORMED, detail="token is empty, not ASCII or too long")
        digest = hashlib.blake2b(raw.encode(), digest_size=32).digest()
        entry = self._cache.get(digest)
        if entry is not None:
            cached, until, stored_at = entry
            if self._clock() < until and self._monotonic() - stored_at < self.cache_max_age:
                return cached
            del self._cache[digest]
        answer = await self._introspect(raw)
        verified, until = self._checked(raw, answer)
        if self.cache_size and self.cache_max_age:
            if len(self._cache) >= self.cache_size:
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = (verified, until, self._monotonic())
        return verified

    async def _introspect(self, raw: str) -> dict[str, Any]:
        self.request_count += 1
        client = self._client or httpx2.AsyncClient(timeout=self._timeout, follow_redirects=False)
        try:
            async with client.stream(
                "POST",
                self.introspection_url,
                data={"token": raw, "token_type_hint": "access_token"},
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            ) as response:
                if response.status_code != 200:
                    raise InvalidTokenError(UNAVAILABLE, detail=f"introspection answered HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_RESPONSE_BYTES:
                        raise InvalidTokenError(UNAVAILABLE, detail="introspection answer too large")
        except InvalidTokenError:
            raise
        except Exception as err:  # timeouts, refused connections, TLS: a refusal, never an allow
            raise InvalidTokenError(UNAVAILABLE, detail=f"introspection failed: {type(err).__name__}") from None
        finally:
            if self._client is None:
                await client.aclose()
        try:
            answer = loads_unique_names(bytes(body))
        except (ValueError, RecursionError):
            raise InvalidTokenError(UNAVAILABLE, detail="introspection answer is not JSON") from None
        if not isinstance(answer, dict):
            raise InvalidTokenError(UNAVAILABLE, detail="introspection answer is not a JSON object")
        return answer

    def _checked(self, raw: str, answer: Mapping[str, Any]) -> tuple[VerifiedAccessToken, float]:
        if answer.get("active") is not True:  # exactly true: "true", 1 and a missing member are all refusals
            raise InvalidTokenError(INACTIVE, detail="introspection says the token is not active")
        now = self._clock()
        for name in ("exp", "nbf", "iat"):
            if name in answer and not _number(answer[name]):
                raise InvalidTokenError(BAD_CLAIMS, detail=f"{name} is not a number")
        exp = answer.get("exp")
        if exp is None and self.require_exp:
            raise InvalidTokenError(BAD_CLAIMS, detail="no exp in the introspection answer")
        if exp is not None and exp <= now - self.leeway:
            raise InvalidTokenError(EXPIRED, detail="exp is in the past")
        for name in ("nbf", "iat"):
            if name in answer and answer[name] > now + self.leeway:
                raise InvalidTokenError(NOT_YET_VALID, detail=f"{name} is in the future")
        if self.issuer is not None and answer.get("iss") != self.issuer:
            raise InvalidTokenError(WRONG_ISSUER, detail="iss differs from the configured issuer")
        aud = answer.get("aud")
        token_audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        resource = next((a for a in self.audiences if a in token_audiences), None)
        if resource is None:
            raise InvalidTokenError(WRONG_AUDIENCE, detail="aud is missing or names none of the configured audiences")
        subject, client_id = answer.get("sub"), answer.get("client_id")
        if (subject is not None and not isinstance(subject, str)) or (
            client_id is not None and not isinstance(client_id, str)
        ):
            raise InvalidTokenError(BAD_CLAIMS, detail="sub or client_id is not a string")
        if self.require_identity_claims and not (subject and client_id):
            raise InvalidTokenError(NO_IDENTITY, detail="the introspection answer lacks sub or client_id")
        scope = answer.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidTokenError(BAD_CLAIMS, detail="scope is not a string (RFC 7662 §2.2)")
        try:
            scopes = list(dict.fromkeys(validate_scope_token(s, where="scope") for s in scope.split(" ") if s))
        except InvalidScopeError:
            raise InvalidTokenError(BAD_CLAIMS, detail="scope holds a value that is not a scope-token") from None
        until = float(exp) if exp is not None else math.inf
        verified = VerifiedAccessToken(
            token=raw,
            client_id=client_id or "",
            scopes=scopes,
            expires_at=int(exp) if exp is not None else None,
            resource=resource,
            subject=subject,
            claims=dict(answer),
        )
        return verified, until + self.leeway if exp is not None else until
