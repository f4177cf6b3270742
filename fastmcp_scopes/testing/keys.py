"""Signing keys for the development authorization server and for tests that forge tokens.

A :class:`SigningKey` is a private key with its ``kid`` and JWS algorithm (RFC 7518 §3; RFC 8037 for
EdDSA): it publishes its public half as an RFC 7517 JWK and signs compact JWS (RFC 7515 §7.1),
including header and payload bytes no honest issuer would send. Nothing here is fit for production:
keys live in memory.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from fastmcp_scopes.errors import ConfigurationError

__all__ = ["SigningKey"]

Algorithm = Literal["RS256", "PS256", "ES256", "EdDSA"]


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A private signing key with its ``kid`` and JWS algorithm. Generate with :meth:`generate`."""

    kid: str
    algorithm: Algorithm
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, algorithm: Algorithm = "RS256", kid: str | None = None) -> SigningKey:
        """A fresh key: RSA 2048 for RS256/PS256, P-256 for ES256, Ed25519 for EdDSA."""
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        if algorithm in ("RS256", "PS256"):
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            private_key = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "EdDSA":
            private_key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ConfigurationError(f"unsupported algorithm {algorithm!r}")
        return cls(kid=kid or uuid.uuid4().hex[:16], algorithm=algorithm, private_key=private_key)

    def public_jwk(self) -> dict[str, Any]:
        """The RFC 7517 public JWK, with ``kid``, ``alg`` and ``use: sig``."""
        public = self.private_key.public_key()
        jwk: Any
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**dict(jwk), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM (what an HS256 key-confusion attack would use)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """A compact JWS over ``claims``; ``kid`` and ``typ: at+jwt`` unless ``headers`` override them."""
        # Serialised by hand rather than with jwt.encode, which refuses some of the broken claim
        # values (a non-string `iss`, say) that negative tests need.
        return self.sign_raw({"alg": self.algorithm, "kid": self.kid, "typ": "at+jwt", **(headers or {})}, claims)

    def sign_raw(self, header: bytes | Mapping[str, Any], payload: bytes | Mapping[str, Any]) -> str:
        """Sign exactly these header and payload bytes (for tests of malformed but signed tokens).

        Mappings are JSON-encoded; bytes are used as they are (duplicate names, non-objects...).
        The header is taken as given: nothing is added.
        """

        def segment(part: bytes | Mapping[str, Any]) -> bytes:
            raw = part if isinstance(part, bytes) else json.dumps(dict(part), separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=")

        signing_input = segment(header) + b"." + segment(payload)
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        signature = algorithm.sign(signing_input, algorithm.prepare_key(self.private_key))
        return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
