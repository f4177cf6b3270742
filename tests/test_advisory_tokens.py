"""Security regressions for JWT access tokens: one test per forged or broken token.

Each case comes from :func:`fastmcp_scopes.testing.forgery.forged_tokens`, built against a real
development authorization server whose JWKS the verifier fetches over HTTP. Every case must raise
``InvalidTokenError`` with a fixed client-safe description (and ``verify_token`` must give ``None``);
the control token, built the same way but unforged, must verify, so no case fails for an unrelated
reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fastmcp_scopes.errors import InvalidTokenError
from fastmcp_scopes.testing.authserver import DevAuthorizationServer
from fastmcp_scopes.tokens import DESCRIPTIONS, JWTVerifier
from tests.forgery import forged_tokens, valid_token

AUDIENCE = "https://mcp.example/mcp"

# Case ids are computed from an unstarted server (no HTTP needed to build the list) so that each
# case is its own test with a readable id.
CASE_IDS = [name for name, _ in forged_tokens(DevAuthorizationServer(["read"]), AUDIENCE, require_typ=True)]
# Refused only by a verifier enforcing RFC 9068 `typ`; every other case must fail under the defaults.
STRICT_TYP_ONLY = set(CASE_IDS) - {name for name, _ in forged_tokens(DevAuthorizationServer(["read"]), AUDIENCE)}


@pytest.fixture(scope="module")
def server() -> Iterator[DevAuthorizationServer]:
    with DevAuthorizationServer(["read", "admin"], audience=AUDIENCE) as srv:
        yield srv


@pytest.fixture(scope="module")
def cases(server: DevAuthorizationServer) -> dict[str, str]:
    built = forged_tokens(server, AUDIENCE, require_typ=True)
    assert [name for name, _ in built] == CASE_IDS
    return dict(built)


def make_verifier(server: DevAuthorizationServer, *, require_typ: bool = False) -> JWTVerifier:
    return JWTVerifier(issuer=server.issuer, jwks_uri=server.jwks_uri, audience=AUDIENCE, require_typ=require_typ)


async def test_the_control_token_verifies(server: DevAuthorizationServer) -> None:
    token = await make_verifier(server, require_typ=True).verify(valid_token(server, AUDIENCE))
    assert token.scopes == ["read"]
    assert token.resource == AUDIENCE


def test_there_are_at_least_twenty_cases() -> None:
    assert len(CASE_IDS) >= 20
    assert len(set(CASE_IDS)) == len(CASE_IDS)
    assert {"typ-JWT-when-strict", "typ-missing-when-strict", "typ-id-token-when-strict"} == STRICT_TYP_ONLY


@pytest.mark.parametrize("case", CASE_IDS)
async def test_forged_token_is_refused(case: str, server: DevAuthorizationServer, cases: dict[str, str]) -> None:
    token = cases[case]
    verifier = make_verifier(server, require_typ=case in STRICT_TYP_ONLY)
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    assert caught.value.description in DESCRIPTIONS
    # Client-facing text never repeats the token or any part of it.
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in caught.value.description
            assert part not in (caught.value.detail or "")
    assert await verifier.verify_token(token) is None


async def test_forged_kids_cause_no_outbound_requests(server: DevAuthorizationServer, cases: dict[str, str]) -> None:
    verifier = make_verifier(server)
    await verifier.verify(valid_token(server, AUDIENCE))
    before = server.jwks_requests
    for token in cases.values():
        await verifier.verify_token(token)
    # The refresh interval (30 s) has not passed, so no forged kid bought a fetch.
    assert server.jwks_requests == before


async def test_attacker_kid_is_not_echoed(server: DevAuthorizationServer) -> None:
    from fastmcp_scopes.testing.keys import SigningKey

    hostile = 'x"><script>alert(1)</script>'
    token = server.issue_token(["read"], audience=AUDIENCE, key=SigningKey.generate(kid=hostile))
    with pytest.raises(InvalidTokenError) as caught:
        await make_verifier(server).verify(token)
    assert "script" not in caught.value.description
    assert '"' not in caught.value.description
