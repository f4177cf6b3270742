"""Forged and broken access tokens, one per known attack or mistake, for negative tests.

:func:`forged_tokens` builds them against a running
:class:`~fastmcp_scopes.testing.authserver.DevAuthorizationServer`; every one must be refused
(``InvalidTokenError`` from the verifier, ``401 invalid_token`` over HTTP) by a verifier configured
with the server's issuer, its JWKS and ``audience``. :func:`valid_token` is the control: the same
construction, unforged, which must be accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from fastmcp_scopes.testing.authserver import OMIT, DevAuthorizationServer
from fastmcp_scopes.testing.keys import SigningKey

__all__ = ["forged_tokens", "valid_token"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: Any) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    # Computed by hand: PyJWT rightly refuses to use a PEM public key as an HMAC secret.
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _swap(token: str, index: int, replacement: str) -> str:
    parts = token.split(".")
    parts[index] = replacement
    return ".".join(parts)


def valid_token(server: DevAuthorizationServer, audience: str, scopes: tuple[str, ...] = ("read",)) -> str:
    """A correctly signed token for ``audience``: the control every forgery is a variation of."""
    return server.issue_token(scopes, audience=audience)


def forged_tokens(
    server: DevAuthorizationServer,
    audience: str,
    *,
    require_typ: bool = False,
    max_token_bytes: int = 16 * 1024,
) -> list[tuple[str, str]]:
    """``(case id, token)`` pairs, each of which a correctly configured verifier must refuse.

    ``require_typ`` adds the cases that only a verifier enforcing RFC 9068 ``typ: at+jwt`` refuses;
    ``max_token_bytes`` is the verifier's size cap (the oversized case exceeds it).
    """
    key = server.signing_key
    now = int(time.time())
    claims = server.claims(scopes=["read"], audience=audience, subject="mallory", client_id="evil-client")
    header = {"alg": key.algorithm, "typ": "at+jwt", "kid": key.kid}
    good = key.sign(claims)
    attacker = SigningKey.generate(key.algorithm)
    same_kid_attacker = SigningKey.generate(key.algorithm, kid=key.kid)
    issue = server.issue_token

    cases: list[tuple[str, str]] = [
        # -- algorithm confusion (RFC 8725 §2.1, §3.1) ------------------------------------------------
        ("alg-none-unsigned", f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}."),
        ("alg-none-with-signature", _swap(good, 0, _segment({**header, "alg": "none"}))),
        ("alg-None-capitalised", f"{_segment({**header, 'alg': 'None'})}.{_segment(claims)}.AAAA"),
        ("alg-missing", key.sign_raw({"typ": "at+jwt", "kid": key.kid}, claims)),
        ("alg-not-a-string", _swap(good, 0, _segment({**header, "alg": ["RS256"]}))),
        ("hs256-with-public-key-pem", _hs256({**header, "alg": "HS256"}, claims, key.public_pem())),
        (
            "hs256-with-public-jwk-json",
            _hs256({**header, "alg": "HS256"}, claims, json.dumps(key.public_jwk()).encode()),
        ),
        ("alg-switched-keeping-signature", _swap(good, 0, _segment({**header, "alg": _other_alg(key.algorithm)}))),
        # -- keys: only the configured JWKS may supply them -------------------------------------------
        ("unknown-kid", issue(["read"], audience=audience, key=attacker)),
        ("no-kid-attacker-key", attacker.sign_raw({"alg": attacker.algorithm, "typ": "at+jwt"}, claims)),
        ("same-kid-other-key", issue(["read"], audience=audience, key=same_kid_attacker)),
        (
            "embedded-jwk-header",
            issue(["read"], audience=audience, key=attacker, headers={"jwk": attacker.public_jwk()}),
        ),
        (
            "embedded-jwk-header-known-kid",
            issue(
                ["read"],
                audience=audience,
                key=same_kid_attacker,
                headers={"jwk": same_kid_attacker.public_jwk()},
            ),
        ),
        (
            "jku-header-injection",
            issue(["read"], audience=audience, key=attacker, headers={"jku": "http://127.0.0.1:9/jwks.json"}),
        ),
        (
            "x5u-header-injection",
            issue(["read"], audience=audience, key=attacker, headers={"x5u": "http://127.0.0.1:9/cert.pem"}),
        ),
        ("kid-path-traversal", issue(["read"], audience=audience, key=attacker, headers={"kid": "../../dev/null"})),
        ("kid-not-a-string", key.sign_raw({**header, "kid": 1}, claims)),
        ("crit-unknown-extension", key.sign_raw({**header, "crit": ["urn:example:x"], "urn:example:x": 1}, claims)),
        # -- tampering and malformed compact serialisation -------------------------------------------
        ("tampered-payload", _swap(good, 1, _segment({**claims, "scope": "read admin"}))),
        ("tampered-header", _swap(good, 0, _segment({**header, "x-tampered": True}))),
        ("truncated-signature", good[:-8]),
        ("signature-stripped", good.rsplit(".", 1)[0] + "."),
        ("signature-of-another-token", _swap(good, 2, issue(["admin"], audience=audience).split(".")[2])),
        ("two-segments", good.rsplit(".", 1)[0]),
        ("five-segments-jwe-shape", good + ".AAAA.AAAA"),
        ("empty", ""),
        ("whitespace", "   "),
        ("garbage", "not-a-jwt"),
        ("non-ascii", good[:-4] + "\u00e9\u00e9\u00e9\u00e9"),
        ("bearer-prefix-left-on", "Bearer " + good),
        ("header-not-json", _swap(good, 0, _b64(b"{not json"))),
        ("payload-not-an-object", key.sign_raw(header, b'["iss","aud"]')),
        ("duplicate-aud-claim", key.sign_raw(header, _duplicate(claims, "aud", "https://elsewhere.example"))),
        ("duplicate-alg-header", key.sign_raw(_duplicate(header, "alg", "none"), claims)),
        ("oversized", issue(["read"], audience=audience, padding="x" * max_token_bytes)),
        ("deeply-nested-payload", key.sign_raw(header, b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")),
        # -- issuer, audience, time (RFC 9068 §4, RFC 7519 §4.1) --------------------------------------
        ("wrong-issuer", issue(["read"], audience=audience, iss="https://evil.example")),
        ("issuer-trailing-slash", issue(["read"], audience=audience, iss=server.issuer + "/")),
        ("issuer-missing", issue(["read"], audience=audience, iss=OMIT)),
        ("issuer-as-array", issue(["read"], audience=audience, iss=[server.issuer])),
        ("wrong-audience", issue(["read"], audience="https://other.example/mcp")),
        ("audience-prefix-of-ours", issue(["read"], audience=audience.rstrip("/") + "x")),
        ("audience-missing", issue(["read"], audience=audience, aud=OMIT)),
        ("audience-list-without-us", issue(["read"], audience=["https://a.example", "https://b.example"])),
        ("expired", issue(["read"], audience=audience, iat=now - 7200, exp=now - 3600)),
        ("exp-missing", issue(["read"], audience=audience, exp=OMIT)),
        ("exp-not-a-number", issue(["read"], audience=audience, exp="tomorrow")),
        ("not-yet-valid-nbf", issue(["read"], audience=audience, nbf=now + 3600)),
        ("iat-in-the-future", issue(["read"], audience=audience, iat=now + 3600)),
        # -- claims we read --------------------------------------------------------------------------
        ("scope-not-a-string", issue((), audience=audience, scope=42)),
        ("scope-object", issue((), audience=audience, scope={"read": True})),
        ("scope-with-quote", issue((), audience=audience, scope='read "admin')),
        ("scope-with-backslash", issue((), audience=audience, scope="read\\admin")),
        ("scope-with-newline", issue((), audience=audience, scope="read\nadmin")),
        ("scp-array-with-non-string", issue((), audience=audience, scope=OMIT, scp=["read", 7])),
        ("scp-array-entry-with-space", issue((), audience=audience, scope=OMIT, scp=["read admin"])),
        ("sub-not-a-string", issue(["read"], audience=audience, sub=1234)),
        ("client-id-not-a-string", key.sign({**claims, "client_id": ["a", "b"]})),
    ]
    if require_typ:
        cases += [
            ("typ-JWT-when-strict", issue(["read"], audience=audience, headers={"typ": "JWT"})),
            ("typ-missing-when-strict", key.sign_raw({"alg": key.algorithm, "kid": key.kid}, claims)),
            ("typ-id-token-when-strict", issue(["read"], audience=audience, headers={"typ": "id_token+jwt"})),
        ]
    return cases


def _other_alg(alg: str) -> str:
    return {"RS256": "PS256", "PS256": "RS256", "ES256": "RS256", "EdDSA": "ES256"}[alg]


def _duplicate(obj: dict[str, Any], name: str, first_value: Any) -> bytes:
    """JSON for ``obj`` with ``name`` appearing twice: ``first_value`` first, the real value last."""
    body = json.dumps(obj, separators=(",", ":"))
    return ("{" + json.dumps(name) + ":" + json.dumps(first_value) + "," + body[1:]).encode()
