"""Signing keys for JWT verification: a JWKS (RFC 7517) fetched asynchronously and cached, or a static one.

:class:`JWKSCache` holds the asymmetric signing keys of one issuer, timed with a monotonic clock and
refreshed at a bounded rate whatever key ids the tokens name.
:func:`fits` tells whether a key's type suits a JWS algorithm (RFC 7518 §3.1), so an RSA key never
verifies an HMAC.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio
import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fastmcp_scopes.errors import ConfigurationError

__all__ = ["SUPPORTED_ALGORITHMS", "JWKSCache", "PublicKey", "fingerprint", "fits"]

logger = logging.getLogger(__name__)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
"""The public key types a JWKS entry may hold for us."""

# Every asymmetric JWS algorithm we know how to match to a key type. Symmetric (HS*) and `none`
# are absent on purpose: a verifier that publishes keys must never accept MACs (RFC 8725 §2.1, §3.1).
_KEY_TYPES: Final[dict[str, Callable[[object], bool]]] = {
    **{
        alg: (lambda key: isinstance(key, rsa.RSAPublicKey))
        for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    },
    "ES256": lambda key: isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1),
    "ES384": lambda key: isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1),
    "ES512": lambda key: isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP521R1),
    "EdDSA": lambda key: isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey),
    "Ed25519": lambda key: isinstance(key, ed25519.Ed25519PublicKey),
}
SUPPORTED_ALGORITHMS: Final[frozenset[str]] = frozenset(_KEY_TYPES)
"""Algorithms that may appear in ``algorithms``; anything else is a configuration error."""

_MIN_RSA_BITS: Final = 2048
_MAX_JWKS_BYTES: Final = 512 * 1024


def fits(alg: str, key: object) -> bool:
    """Whether ``key`` is of the type (and curve) the JWS algorithm ``alg`` needs; ``False`` for unknown ``alg``."""
    check = _KEY_TYPES.get(alg)
    return check is not None and check(key)


def fingerprint(key: PublicKey) -> bytes:
    """The key's public material (DER SubjectPublicKeyInfo): equal for two parses of the same JWK, as the key
    objects are not."""
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


class JWKSCache:
    """Signing keys of one issuer: a JWKS document fetched asynchronously, or a static one.

    - Timed with a monotonic clock: keys older than ``ttl`` seconds (less up to 20% jitter, drawn at each fetch,
      so that many workers do not refresh together) are refetched in the background while the held ones keep
      answering; :meth:`start` fetches them at start-up, else the first request waits for them.
    - An unknown ``kid`` triggers a refetch, but at most one fetch per ``min_refresh_interval``
      seconds, whatever the tokens say: a stream of forged ``kid`` values costs no outbound requests
      beyond that rate. Concurrent callers share one fetch.
    - A failed fetch keeps the keys already held (serving them past their ``ttl``) and is logged;
      the failure counts against the rate limit, so an unreachable issuer is not hammered either.
    - Only asymmetric signing keys are kept (``oct`` keys, ``use`` other than ``sig``, RSA below
      2048 bits and unparseable entries are dropped).
    """

    def __init__(
        self,
        *,
        jwks_uri: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        ttl: float = 300.0,
        min_refresh_interval: float = 30.0,
        timeout: float = 5.0,
        http_client: httpx2.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if (jwks_uri is None) == (jwks is None):
            raise ConfigurationError("give exactly one of jwks_uri (fetched) or jwks (static keys)")
        if jwks_uri is not None and not jwks_uri.startswith(("https://", "http://")):
            raise ConfigurationError(f"jwks_uri must be an http(s) URL, got {jwks_uri!r}")
        for name, value in (("ttl", ttl), ("min_refresh_interval", min_refresh_interval), ("timeout", timeout)):
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")
        self.jwks_uri = jwks_uri
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._timeout = timeout
        self._client = http_client
        self._monotonic = monotonic
        self._keys: dict[str | None, list[tuple[PublicKey, str | None]]] = {}
        self._held: frozenset[tuple[str | None, bytes]] = frozenset()
        # (kid, alg) -> the keys that may verify it, with their fingerprints: worked out once per key set, not
        # per token. Only found keys are remembered, so forged kid values cannot grow it.
        self._signers: dict[tuple[str | None, str], tuple[tuple[PublicKey, bytes], ...]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._generation = 0
        self._lock = anyio.Lock()
        self._refresh_after = ttl
        self._background: asyncio.Task[None] | None = None
        self.fetch_count = 0
        """Outbound JWKS requests made so far (successful or not)."""
        if jwks is not None:
            self._set_keys(self._parse(jwks))
            if not self._keys:
                raise ConfigurationError("the static jwks holds no usable asymmetric signing key")

    @property
    def kids(self) -> frozenset[str | None]:
        """The key ids currently held (``None`` for keys published without one)."""
        return frozenset(self._keys)

    async def candidates(self, kid: str | None) -> list[tuple[PublicKey, str | None]]:
        """Keys that may have signed a token with this ``kid``: ``(key, alg pinned by the JWK or None)``.

        A token without ``kid`` matches the keys published without one, or, when the set holds a
        single key, that key. Fetches first when nothing is held or the keys are older than ``ttl``,
        and once more (rate-limited) when the ``kid`` is unknown.
        """
        if self.jwks_uri is not None:
            now = self._monotonic()
            if self._fetched_at is None:
                await self._refresh(self._generation)
            elif now - self._fetched_at >= self._refresh_after:
                # Stale: answer with the keys held while a refresh runs in the background (a request must not
                # wait on the issuer for keys that most likely did not change).
                self._refresh_in_background()
            found = self._lookup(kid)
            if found:
                return found
            await self._refresh(self._generation)
        return self._lookup(kid)

    async def signers(self, kid: str | None, alg: str) -> tuple[tuple[PublicKey, bytes], ...]:
        """The keys that may have signed a token with this ``kid`` and ``alg``, each with its :func:`fingerprint`:
        the :meth:`candidates` of a type that :func:`fits` ``alg`` and not pinned by their JWK to another one.
        Fetches as :meth:`candidates` does; the filtering is done once per key set and ``(kid, alg)``."""
        memo = self._signers.get((kid, alg))
        if memo is not None and (self.jwks_uri is None or not self._due()):
            return memo
        found = tuple(
            (key, fingerprint(key))
            for key, pinned in await self.candidates(kid)
            if (pinned is None or pinned == alg) and fits(alg, key)
        )
        if found:
            self._signers[(kid, alg)] = found
        return found

    def _due(self) -> bool:
        """Whether :meth:`candidates` would fetch or refresh now (nothing held yet, or the keys are stale)."""
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= self._refresh_after

    def holds(self, kid: str | None, fingerprint: bytes) -> bool:
        """Whether the key of this :func:`fingerprint` is still published under ``kid`` (the same key material,
        however often the set was refetched). A cached verification whose key left the set is not trusted."""
        return (kid, fingerprint) in self._held

    def _set_keys(self, keys: dict[str | None, list[tuple[PublicKey, str | None]]]) -> None:
        self._keys = keys
        self._signers = {}
        self._held = frozenset((kid, fingerprint(key)) for kid, entries in keys.items() for key, _ in entries)

    async def start(self) -> None:
        """Fetch the keys now (at start-up), so that the first request does not wait for them. A failure is
        logged and the next request tries again (rate-limited)."""
        if self.jwks_uri is not None and self._fetched_at is None:
            await self._refresh(self._generation)

    async def settle(self) -> None:
        """Wait until a background refresh in flight, if any, has finished (for tests and orderly shutdown)."""
        if self._background is not None:
            await asyncio.shield(self._background)

    def _refresh_in_background(self) -> None:
        if self._background is not None and not self._background.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - not under asyncio (trio): the next miss refreshes
            return
        self._background = loop.create_task(self._refresh(self._generation), name="fastmcp-scopes JWKS refresh")

    def _lookup(self, kid: str | None) -> list[tuple[PublicKey, str | None]]:
        if kid is None and None not in self._keys and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid, [])

    async def _refresh(self, seen_generation: int) -> None:
        async with self._lock:
            if self._generation != seen_generation:
                return  # another caller fetched while we waited; look again with its result
            now = self._monotonic()
            if self._attempted_at is not None and now - self._attempted_at < self.min_refresh_interval:
                return  # rate limit: a forged kid must not buy an outbound request
            self._attempted_at = now
            self._generation += 1
            try:
                document = await self._fetch()
                keys = self._parse(document)
            except Exception as err:  # keep serving what we have; the issuer may be restarting
                logger.warning(
                    "JWKS fetch from %s failed, keeping %d cached key ids: %s", self.jwks_uri, len(self._keys), err
                )
                return
            if not keys:
                logger.warning("JWKS at %s holds no usable signing key; keeping the cached ones", self.jwks_uri)
                return
            self._set_keys(keys)
            self._fetched_at = self._monotonic()
            # Jitter: workers started together (or served by one fetch) refresh apart, not all at once.
            self._refresh_after = self.ttl * random.uniform(0.8, 1.0)

    async def _fetch(self) -> Mapping[str, Any]:
        if self.jwks_uri is None:  # pragma: no cover - guarded by the caller
            raise RuntimeError("static key set")
        self.fetch_count += 1
        client = self._client or httpx2.AsyncClient(timeout=self._timeout, follow_redirects=False)
        try:
            async with client.stream("GET", self.jwks_uri, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise ValueError(f"HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_JWKS_BYTES:
                        raise ValueError(f"JWKS larger than {_MAX_JWKS_BYTES} bytes")
        finally:
            if self._client is None:
                await client.aclose()
        document = json.loads(bytes(body))
        if not isinstance(document, dict):
            raise ValueError("JWKS is not a JSON object")
        return document

    @staticmethod
    def _parse(document: Mapping[str, Any]) -> dict[str | None, list[tuple[PublicKey, str | None]]]:
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ValueError("JWKS has no 'keys' array")
        keys: dict[str | None, list[tuple[PublicKey, str | None]]] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # symmetric or unknown key types are never signing keys for us
            if entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            alg = entry.get("alg")
            if (kid is not None and not isinstance(kid, str)) or (alg is not None and alg not in SUPPORTED_ALGORITHMS):
                continue
            try:
                key = jwt.PyJWK(dict(entry)).key
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue
            if not isinstance(key, PublicKey) or (isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS):
                continue  # a private key in a JWKS is a publishing mistake; we still never use it
            keys.setdefault(kid, []).append((key, alg))
        return keys
