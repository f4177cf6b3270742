"""JWTVerifier against the development authorization server, JWKS fetched over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any, cast

import anyio
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastmcp_scopes import jwks, tokens
from fastmcp_scopes.errors import ConfigurationError, InvalidTokenError
from fastmcp_scopes.settings import load_settings, missing_http_settings, missing_http_settings_error
from fastmcp_scopes.testing.authserver import OMIT, DevAuthorizationServer
from fastmcp_scopes.testing.keys import SigningKey
from fastmcp_scopes.testing.loopback import LoopbackServer
from fastmcp_scopes.tokens import (
    DESCRIPTIONS,
    EXPIRED,
    MALFORMED,
    NO_IDENTITY,
    NOT_YET_VALID,
    UNVERIFIABLE,
    WRONG_AUDIENCE,
    BearerToken,
    JWTVerifier,
    VerifiedAccessToken,
)

AUDIENCE = "https://mcp.example/mcp"


class FakeClock:
    """A monotonic clock the test moves by hand, so cache and rate-limit behaviour needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[DevAuthorizationServer]:
    with DevAuthorizationServer(["read", "write", "admin"], audience=AUDIENCE) as srv:
        yield srv


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def verifier_for(server: DevAuthorizationServer, monotonic: FakeClock | None = None, **kwargs: Any) -> JWTVerifier:
    options: dict[str, Any] = {"issuer": server.issuer, "jwks_uri": server.jwks_uri, "audience": AUDIENCE}
    if monotonic is not None:
        options["monotonic"] = monotonic
    return JWTVerifier(**{**options, **kwargs})


# -- good tokens ------------------------------------------------------------------------------------


async def test_good_token_gives_access_token_with_audit_fields(server: DevAuthorizationServer) -> None:
    raw = server.issue_token(["read", "write"], subject="alice", client_id="agent-7")
    token = await verifier_for(server).verify(raw)
    assert isinstance(token, VerifiedAccessToken)
    assert token.scopes == ["read", "write"]
    assert token.subject == "alice"
    assert token.client_id == "agent-7"
    assert token.resource == AUDIENCE
    assert token.claims is not None and token.claims["iss"] == server.issuer
    assert token.expires_at == token.claims["exp"]
    assert token.token == raw
    assert server.jwks_requests == 1


async def test_verify_token_protocol_returns_token_or_none(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server)
    assert (await verifier.verify_token(server.issue_token(["read"]))) is not None
    assert (await verifier.verify_token(server.issue_token(["read"], audience="https://other.example"))) is None


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param({"scope": "read  write read"}, ["read", "write"], id="scope-string-deduplicated"),
        pytest.param({"scope": OMIT, "scp": "read write"}, ["read", "write"], id="scp-string"),
        pytest.param({"scope": OMIT, "scp": ["write", "read"]}, ["write", "read"], id="scp-array"),
        pytest.param({"scope": OMIT, "scp": []}, [], id="scp-empty-array"),
        pytest.param({"scope": OMIT}, [], id="no-scope-claim"),
        pytest.param({"scope": "read", "scp": ["admin"]}, ["read"], id="scope-wins-over-scp"),
    ],
)
async def test_scopes_from_scope_or_scp(
    server: DevAuthorizationServer, claims: dict[str, Any], expected: list[str]
) -> None:
    token = await verifier_for(server).verify(server.issue_token(**claims))
    assert token.scopes == expected


async def test_scope_claim_names_are_configurable(server: DevAuthorizationServer) -> None:
    raw = server.issue_token(["read"], permissions=["admin", "write"])
    token = await verifier_for(server, scope_claims=["permissions"]).verify(raw)
    assert token.scopes == ["admin", "write"]


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param({"client_id": OMIT, "azp": "from-azp"}, "from-azp", id="azp"),
        pytest.param({"client_id": OMIT, "cid": "from-cid"}, "from-cid", id="cid"),
        pytest.param({"client_id": "cid-1", "azp": "azp-1"}, "cid-1", id="client_id-first"),
    ],
)
async def test_client_id_fallbacks(server: DevAuthorizationServer, claims: dict[str, Any], expected: str) -> None:
    token = await verifier_for(server).verify(server.issue_token(["read"], **claims))
    assert token.client_id == expected


# -- identity: RFC 9068 §2.2 requires sub and client_id ---------------------------------------------


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        pytest.param({"subject": OMIT}, "no sub claim", id="no-sub"),
        pytest.param({"subject": ""}, "no sub claim", id="empty-sub"),
        pytest.param({"client_id": OMIT}, "no client_id/azp/cid claim", id="no-client-id"),
        pytest.param({"client_id": "", "azp": "from-azp"}, "no client_id/azp/cid claim", id="empty-client-id"),
        pytest.param({"subject": OMIT, "client_id": OMIT}, "no sub and no client_id/azp/cid claim", id="neither"),
    ],
)
async def test_a_token_that_does_not_identify_its_caller_is_refused(
    server: DevAuthorizationServer, claims: dict[str, Any], detail: str
) -> None:
    # Without them, every such token is the same principal: one could end another's session.
    with pytest.raises(InvalidTokenError) as caught:
        await verifier_for(server).verify(server.issue_token(["read"], **claims))

    assert caught.value.description == NO_IDENTITY
    assert caught.value.detail == (
        f"{detail} (RFC 9068 §2.2 requires sub and client_id); "
        "FASTMCP_SCOPES_REQUIRE_IDENTITY_CLAIMS=false accepts such tokens"
    )


async def test_identity_claims_may_be_made_optional(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server, require_identity_claims=False)

    token = await verifier.verify(server.issue_token(["read"], subject=OMIT, client_id=OMIT))

    assert (token.subject, token.client_id, token.scopes) == (None, "", ["read"])


async def test_the_identity_setting_reaches_the_verifier(
    server: DevAuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = server.issue_token(["read"], subject=OMIT, client_id=OMIT)
    settings = load_settings(_env_file=None, issuer=server.issuer, jwks_uri=server.jwks_uri)
    with pytest.raises(InvalidTokenError):
        await JWTVerifier.from_settings(settings, resource_url=AUDIENCE, server_hint="-").verify(anonymous)

    monkeypatch.setenv("FASTMCP_SCOPES_REQUIRE_IDENTITY_CLAIMS", "false")
    relaxed = JWTVerifier.from_settings(
        load_settings(_env_file=None, issuer=server.issuer, jwks_uri=server.jwks_uri),
        resource_url=AUDIENCE,
        server_hint="-",
    )

    assert (await relaxed.verify(anonymous)).subject is None


async def test_resource_is_the_audience_entry_that_matched(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server, audience=["https://a.example/mcp", "https://b.example/mcp"])
    raw = server.issue_token(["read"], audience=["https://other.example", "https://b.example/mcp"])
    assert (await verifier.verify(raw)).resource == "https://b.example/mcp"


@pytest.mark.spec("rfc9068/audience")
async def test_audience_defaults_to_resource_url(server: DevAuthorizationServer) -> None:
    verifier = JWTVerifier(issuer=server.issuer, jwks_uri=server.jwks_uri, resource_url="https://rs.example/mcp")
    assert (await verifier.verify(server.issue_token(audience="https://rs.example/mcp"))).resource == (
        "https://rs.example/mcp"
    )
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(server.issue_token())
    assert caught.value.description == WRONG_AUDIENCE


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "EdDSA"])
async def test_each_default_algorithm_verifies(algorithm: Any) -> None:
    with DevAuthorizationServer(["read"], audience=AUDIENCE, algorithm=algorithm) as srv:
        token = await verifier_for(srv).verify(srv.issue_token(["read"]))
        assert token.scopes == ["read"]


@pytest.mark.spec("rfc9068/verification")
async def test_algorithm_outside_the_allow_list_is_refused() -> None:
    with DevAuthorizationServer(["read"], audience=AUDIENCE, algorithm="ES256") as srv:
        with pytest.raises(InvalidTokenError) as caught:
            await verifier_for(srv, algorithms=["RS256"]).verify(srv.issue_token(["read"]))
        assert caught.value.description == UNVERIFIABLE


async def test_leeway_applies_to_exp(server: DevAuthorizationServer) -> None:
    import time

    now = int(time.time())
    raw = server.issue_token(["read"], iat=now - 100, exp=now - 10)
    assert (await verifier_for(server, leeway=30).verify(raw)).scopes == ["read"]
    with pytest.raises(InvalidTokenError) as caught:
        await verifier_for(server, leeway=0).verify(raw)
    assert caught.value.description == EXPIRED


async def test_time_claims_use_the_injected_clock(server: DevAuthorizationServer) -> None:
    raw = server.issue_token(["read"], lifetime=600)
    exp = (await verifier_for(server).verify(raw)).expires_at
    assert exp is not None
    late = verifier_for(server, leeway=0, clock=lambda: exp + 3600)
    with pytest.raises(InvalidTokenError) as caught:
        await late.verify(raw)
    assert caught.value.description == EXPIRED
    early = verifier_for(server, leeway=0, clock=lambda: exp - 3600 * 24)
    with pytest.raises(InvalidTokenError) as caught:
        await early.verify(raw)
    assert caught.value.description == NOT_YET_VALID


async def test_time_claims_past_a_floats_range_are_times(server: DevAuthorizationServer) -> None:
    # A JSON integer has no size limit; one beyond a float's range is far in the future, not an error.
    assert (await verifier_for(server).verify(server.issue_token(["read"], exp=10**400))).expires_at == 10**400
    for claim in ("nbf", "iat"):
        with pytest.raises(InvalidTokenError) as caught:
            claims: dict[str, Any] = {claim: 10**400}
            await verifier_for(server).verify(server.issue_token(["read"], **claims))
        assert caught.value.description == NOT_YET_VALID


# -- one spelling per token -------------------------------------------------------------------------

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _spellable(key: SigningKey, claims: dict[str, Any]) -> tuple[str, str, str]:
    """Header, payload and signature segments of a token signed by ``key``, each 2 characters past a multiple of 4
    (its last character carries 4 unused bits) and holding a "-" or "_" (base64url's own characters)."""
    for pad in range(64):
        header = {"alg": key.algorithm, "kid": key.kid, "typ": "at+jwt", "x": "?>" * 3 + "x" * pad}
        payload = {**claims, "x": "?>" * 3 + "x" * pad}
        segments = [_segment(json.dumps(part).encode()) for part in (header, payload)]
        signed = _signed(key, *segments)
        segments.append(signed.split(".")[2])
        if all(len(s) % 4 == 2 and ("-" in s or "_" in s) for s in segments):
            return segments[0], segments[1], segments[2]
    raise AssertionError("no spellable token found")


def _signed(key: SigningKey, header: str, payload: str) -> str:
    """``header.payload`` signed as they are spelled."""
    algorithm = jwt.get_algorithm_by_name(key.algorithm)
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{_segment(algorithm.sign(signing_input, algorithm.prepare_key(key.private_key)))}"


# Other spellings of a base64url segment that lenient decoders read as the same bytes.
_RESPELLINGS: dict[str, Any] = {
    "unused-bits-set": lambda s: s[:-1] + _B64URL[_B64URL.index(s[-1]) + 1],
    "padding": lambda s: s + "==",
    "standard-alphabet": lambda s: s.replace("-", "+").replace("_", "/"),
    "line-break": lambda s: s[:8] + "\n" + s[8:],
    "space": lambda s: s[:8] + " " + s[8:],
}


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
@pytest.mark.parametrize("respelling", list(_RESPELLINGS))
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "after-the-canonical-spelling"])
async def test_a_token_has_one_spelling(server: DevAuthorizationServer, part: int, respelling: str, warm: bool) -> None:
    # A second spelling of a verified token would be a second cache key and a way past deny-lists keyed on the
    # token text. The header and payload respelled are signed as spelled, so only the spelling can refuse them.
    key = server.signing_key
    segments = list(_spellable(key, server.claims(scopes=["read"], audience=AUDIENCE, subject="s", client_id="c")))
    canonical = ".".join(segments)
    other = _RESPELLINGS[respelling](segments[part])
    assert other != segments[part]
    assert base64.urlsafe_b64decode(other.replace("+", "-").replace("/", "_") + "==") == base64.urlsafe_b64decode(
        segments[part] + "=="
    ), "not a respelling of the same bytes"
    segments[part] = other
    respelled = ".".join(segments) if part == 2 else _signed(key, segments[0], segments[1])
    verifier = verifier_for(server)
    if warm:
        assert (await verifier.verify(canonical)).scopes == ["read"]
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(respelled)
    assert caught.value.description == MALFORMED
    assert (await verifier.verify(canonical)).scopes == ["read"]


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
async def test_strict_typ_accepts_rfc9068_spellings(server: DevAuthorizationServer, typ: str) -> None:
    raw = server.issue_token(["read"], headers={"typ": typ})
    assert (await verifier_for(server, require_typ=True).verify(raw)).scopes == ["read"]


async def test_typ_is_not_checked_unless_required(server: DevAuthorizationServer) -> None:
    raw = server.issue_token(["read"], headers={"typ": "JWT"})
    assert (await verifier_for(server).verify(raw)).scopes == ["read"]


async def test_static_jwks(server: DevAuthorizationServer) -> None:
    verifier = JWTVerifier(issuer=server.issuer, jwks=server.jwks(), audience=AUDIENCE)
    assert (await verifier.verify(server.issue_token(["read"]))).scopes == ["read"]
    assert server.jwks_requests == 0


# -- redaction --------------------------------------------------------------------------------------


async def test_raw_token_never_in_repr(server: DevAuthorizationServer) -> None:
    raw = server.issue_token(["read"])
    wrapped = BearerToken(raw)
    assert raw not in repr(wrapped) and raw not in str(wrapped)
    assert wrapped.reveal() == raw
    token = await verifier_for(server).verify(wrapped)
    assert raw not in repr(token)
    assert raw.split(".")[2] not in repr(token)


# -- JWKS cache: rotation, rate limit, failures -----------------------------------------------------


async def test_key_rotation_costs_one_refresh(server: DevAuthorizationServer, clock: FakeClock) -> None:
    verifier = verifier_for(server, clock)
    await verifier.verify(server.issue_token(["read"]))
    assert server.jwks_requests == 1
    clock.now += 31  # past the refresh interval
    server.rotate_key()
    for _ in range(5):
        assert (await verifier.verify(server.issue_token(["read"]))).scopes == ["read"]
    assert server.jwks_requests == 2
    # Tokens signed with the previous key still verify from the refreshed set, without a fetch.
    old = server.published_keys[0]
    await verifier.verify(server.issue_token(["read"], key=old))
    assert server.jwks_requests == 2


async def test_unknown_kids_are_rate_limited(server: DevAuthorizationServer, clock: FakeClock) -> None:
    verifier = verifier_for(server, clock, jwks_refresh_interval=30)
    await verifier.verify(server.issue_token(["read"]))
    forged = [server.issue_token(["read"], key=SigningKey.generate()) for _ in range(3)]
    for _ in range(10):
        for raw in forged:
            assert await verifier.verify_token(raw) is None
    assert server.jwks_requests == 1
    clock.now += 31
    for raw in forged * 10:
        assert await verifier.verify_token(raw) is None
    assert server.jwks_requests == 2


async def test_rotated_key_waits_for_the_rate_limit(server: DevAuthorizationServer, clock: FakeClock) -> None:
    # The price of the rate limit: a key published less than the interval after the last fetch is
    # unknown until the interval has passed.
    verifier = verifier_for(server, clock, jwks_refresh_interval=30)
    await verifier.verify(server.issue_token(["read"]))
    server.rotate_key()
    raw = server.issue_token(["read"])
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.description == UNVERIFIABLE
    clock.now += 30
    assert (await verifier.verify(raw)).scopes == ["read"]
    assert server.jwks_requests == 2


async def test_concurrent_unknown_kid_shares_one_fetch(server: DevAuthorizationServer, clock: FakeClock) -> None:
    verifier = verifier_for(server, clock)
    await verifier.verify(server.issue_token(["read"]))
    clock.now += 31
    server.rotate_key()
    raw = server.issue_token(["read"])
    results: list[VerifiedAccessToken] = []

    async def verify() -> None:
        results.append(await verifier.verify(raw))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(verify)
    assert len(results) == 20
    assert server.jwks_requests == 2


async def test_fetch_failure_keeps_the_cache(server: DevAuthorizationServer, clock: FakeClock) -> None:
    # No token cache: each verification asks the key cache.
    verifier = verifier_for(server, clock, jwks_cache_ttl=60, jwks_refresh_interval=30, token_cache_size=0)
    raw = server.issue_token(["read"])
    await verifier.verify(raw)
    server.jwks_status = 503
    clock.now += 61  # the cached keys are stale: a refetch is attempted (in the background) and fails
    assert (await verifier.verify(raw)).scopes == ["read"]
    await verifier.keys.settle()
    assert server.jwks_requests == 2
    # The failure counts against the rate limit: no retry on every request.
    assert (await verifier.verify(raw)).scopes == ["read"]
    await verifier.keys.settle()
    assert server.jwks_requests == 2
    server.jwks_status = 200
    clock.now += 31
    assert (await verifier.verify(raw)).scopes == ["read"]
    await verifier.keys.settle()
    assert server.jwks_requests == 3


async def test_no_keys_yet_and_issuer_down(server: DevAuthorizationServer, clock: FakeClock) -> None:
    server.jwks_status = 500
    verifier = verifier_for(server, clock)
    raw = server.issue_token(["read"])
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.description == UNVERIFIABLE
    server.jwks_status = 200
    clock.now += 31
    assert (await verifier.verify(raw)).scopes == ["read"]


async def test_unreachable_jwks_uri_is_an_invalid_token_not_a_crash(server: DevAuthorizationServer) -> None:
    closed = LoopbackServer(Starlette())
    url = closed.start()
    closed.stop()  # nothing listens there any more
    verifier = JWTVerifier(issuer=server.issuer, jwks_uri=f"{url}/jwks", audience=AUDIENCE, jwks_timeout=2)
    assert await verifier.verify_token(server.issue_token(["read"])) is None
    assert verifier.keys.fetch_count == 1


async def test_jwks_fetch_does_not_block_the_event_loop(server: DevAuthorizationServer) -> None:
    requested = threading.Event()
    release = threading.Event()

    async def slow_jwks(request: Request) -> Response:
        requested.set()
        await anyio.to_thread.run_sync(release.wait)
        return JSONResponse(server.jwks())

    async with LoopbackServer(Starlette(routes=[Route("/jwks", slow_jwks)])) as url:
        verifier = JWTVerifier(issuer=server.issuer, jwks_uri=f"{url}/jwks", audience=AUDIENCE)
        ticks_while_waiting = 0
        results: list[VerifiedAccessToken] = []

        async def verify() -> None:
            results.append(await verifier.verify(server.issue_token(["read"])))

        async with anyio.create_task_group() as group:
            group.start_soon(verify)
            await anyio.to_thread.run_sync(requested.wait)
            # The fetch is in flight and held by the server; this loop still runs other tasks.
            for _ in range(10):
                await anyio.sleep(0)
                ticks_while_waiting += 1
            assert not results
            release.set()
        assert ticks_while_waiting == 10
        assert [t.scopes for t in results] == [["read"]]


async def test_symmetric_and_unusable_jwks_entries_are_ignored(server: DevAuthorizationServer) -> None:
    document = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": server.signing_key.kid, "alg": "HS256"},
            {**server.signing_key.public_jwk(), "use": "enc", "kid": "enc-key"},
            {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"},
            server.signing_key.public_jwk(),
        ]
    }
    verifier = JWTVerifier(issuer=server.issuer, jwks=document, audience=AUDIENCE)
    assert verifier.keys.kids == {server.signing_key.kid}
    assert (await verifier.verify(server.issue_token(["read"]))).scopes == ["read"]


@pytest.mark.parametrize(
    ("algorithm", "fitting", "unfitting"),
    [
        pytest.param("RS256", ["RS256", "RS512", "PS256"], ["ES256", "EdDSA", "HS256", "none"], id="rsa"),
        pytest.param("ES256", ["ES256"], ["ES384", "ES512", "RS256", "EdDSA", "HS256"], id="p256"),
        pytest.param("EdDSA", ["EdDSA", "Ed25519"], ["RS256", "ES256", "HS256"], id="ed25519"),
    ],
)
def test_a_key_fits_only_the_algorithms_of_its_type(algorithm: Any, fitting: list[str], unfitting: list[str]) -> None:
    key = SigningKey.generate(algorithm).private_key.public_key()
    assert [alg for alg in fitting if jwks.fits(alg, key)] == fitting
    assert [alg for alg in unfitting if jwks.fits(alg, key)] == []


def test_the_key_cache_is_importable_from_tokens_as_before() -> None:
    assert tokens.JWKSCache is jwks.JWKSCache
    assert tokens.SUPPORTED_ALGORITHMS is jwks.SUPPORTED_ALGORITHMS


# -- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"algorithms": ["HS256"]}, id="symmetric-algorithm"),
        pytest.param({"algorithms": ["RS256", "HS256"]}, id="mixed-algorithms"),
        pytest.param({"algorithms": ["none"]}, id="alg-none"),
        pytest.param({"algorithms": []}, id="no-algorithms"),
        pytest.param({"audience": None}, id="no-audience"),
        pytest.param({"issuer": ""}, id="empty-issuer"),
        pytest.param({"jwks": {"keys": []}}, id="both-jwks-and-uri"),
        pytest.param({"jwks_uri": "file:///etc/jwks.json"}, id="non-http-jwks-uri"),
        pytest.param({"leeway": -1}, id="negative-leeway"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"issuer": "https://issuer.example", "jwks_uri": "https://issuer.example/jwks"}
    options["audience"] = AUDIENCE
    with pytest.raises(ConfigurationError):
        JWTVerifier(**{**options, **kwargs})


def test_every_missing_setting_is_reported_at_once() -> None:
    # Before, the issuer was reported first, and the JWKS URI only once the issuer was set.
    with pytest.raises(ConfigurationError) as raised:
        JWTVerifier.from_settings(
            load_settings(_env_file=None), resource_url=AUDIENCE, server_hint="pass token_verifier="
        )

    assert str(raised.value) == (
        'serving over HTTP needs 2 more settings (see "Serving over HTTP" in the README):\n'
        "  FASTMCP_SCOPES_ISSUER (or issuer=): the exact `iss` your authorization server puts in its access tokens "
        "(its issuer URL)\n"
        "  FASTMCP_SCOPES_JWKS_URI (or jwks_uri=): where that server publishes its signing keys (`jwks_uri` in its "
        "metadata)\n"
        "or pass token_verifier="
    )


@pytest.mark.parametrize(
    ("given", "resource_url_known", "verifier_known", "missing"),
    [
        ({}, False, False, ["ISSUER", "JWKS_URI", "RESOURCE_URL"]),
        ({}, True, False, ["ISSUER", "JWKS_URI"]),
        ({}, False, True, ["RESOURCE_URL"]),
        ({}, True, True, []),
        ({"issuer": "https://as.example"}, False, False, ["JWKS_URI", "RESOURCE_URL"]),
        ({"jwks_uri": "https://as.example/jwks", "resource_url": "https://rs.example/mcp"}, False, False, ["ISSUER"]),
        ({"issuer": "https://as.example", "jwks_uri": "https://as.example/jwks"}, True, False, []),
    ],
)
def test_missing_http_settings(
    given: dict[str, str], resource_url_known: bool, verifier_known: bool, missing: list[str]
) -> None:
    settings = load_settings(_env_file=None, **given)

    found = missing_http_settings(settings, resource_url_known=resource_url_known, verifier_known=verifier_known)

    assert found == [f"FASTMCP_SCOPES_{name}" for name in missing]


def test_the_missing_settings_error_names_each_with_its_purpose() -> None:
    error = missing_http_settings_error(["FASTMCP_SCOPES_RESOURCE_URL"])

    assert str(error) == (
        'serving over HTTP needs 1 more setting (see "Serving over HTTP" in the README):\n'
        "  FASTMCP_SCOPES_RESOURCE_URL (or resource_url=): this server's canonical URL, such as "
        "https://mcp.example.com/mcp: the audience its tokens must carry and the `resource` of its metadata"
    )


def test_descriptions_are_header_safe() -> None:
    from fastmcp_scopes.challenge import BearerChallenge

    for description in DESCRIPTIONS:
        BearerChallenge(error="invalid_token", error_description=description).render()


# -- verified-token cache -----------------------------------------------------------------------------


class Counting:
    """Counts the signature checks a verifier makes, so a test sees whether a token was verified again."""

    def __init__(self, verifier: JWTVerifier) -> None:
        self.checks = 0
        impls = verifier._algorithm_impls
        verifier._algorithm_impls = {alg: cast(Any, self._Counted(self, impl)) for alg, impl in impls.items()}

    class _Counted:
        def __init__(self, counting: Counting, impl: Any) -> None:
            self.counting, self.impl = counting, impl

        def verify(self, *args: Any) -> bool:
            self.counting.checks += 1
            return bool(self.impl.verify(*args))


class WallClock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_repeated_token_is_verified_once(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server)
    counting = Counting(verifier)
    raw = server.issue_token(["read"])
    first = await verifier.verify(raw)
    for _ in range(3):
        assert await verifier.verify(raw) == first
    assert counting.checks == 1
    await verifier.verify(server.issue_token(["read"]))
    assert counting.checks == 2


async def test_a_cached_token_past_its_exp_is_refused_as_expired(server: DevAuthorizationServer) -> None:
    wall = WallClock()
    verifier = verifier_for(server, leeway=0, clock=wall)
    raw = server.issue_token(["read"], lifetime=60)
    await verifier.verify(raw)
    wall.now += 61
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.description == EXPIRED


async def test_a_cached_token_before_its_nbf_is_refused(server: DevAuthorizationServer) -> None:
    """The wall clock stepped back (NTP): a token verified a moment ago is not valid yet, cache or not."""
    wall = WallClock()
    verifier = verifier_for(server, leeway=0, clock=wall)
    raw = server.issue_token(["read"], nbf=int(wall.now))
    await verifier.verify(raw)
    wall.now -= 3600
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.description == NOT_YET_VALID


async def test_a_cached_token_whose_key_left_the_jwks_is_refused(
    server: DevAuthorizationServer, clock: FakeClock
) -> None:
    verifier = verifier_for(server, clock, jwks_refresh_interval=30)
    old = server.issue_token(["read"])
    await verifier.verify(old)
    server.rotate_key(keep_old=False)  # the issuer withdraws the key, e.g. after a leak
    clock.now += 31
    await verifier.verify(server.issue_token(["read"]))  # an unknown kid: the set is fetched again
    assert server.jwks_requests == 2
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(old)
    assert caught.value.description == UNVERIFIABLE


async def test_cached_verifications_are_redone_after_the_jwks_ttl(
    server: DevAuthorizationServer, clock: FakeClock
) -> None:
    verifier = verifier_for(server, clock, jwks_cache_ttl=60)
    counting = Counting(verifier)
    raw = server.issue_token(["read"])
    await verifier.verify(raw)
    clock.now += 61
    await verifier.verify(raw)
    assert counting.checks == 2


async def test_the_cache_is_bounded(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server, token_cache_size=2)
    counting = Counting(verifier)
    tokens = [server.issue_token(["read"]) for _ in range(3)]
    for raw in tokens:
        await verifier.verify(raw)
    await verifier.verify(tokens[2])
    assert counting.checks == 3
    await verifier.verify(tokens[0])  # the oldest went when the third came
    assert counting.checks == 4


async def test_a_refused_token_is_never_cached(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server)
    forged = server.issue_token(["read"], key=SigningKey.generate(kid=server.signing_key.kid))
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            await verifier.verify(forged)
    good = server.issue_token(["read"], lifetime=-120)
    for _ in range(2):
        with pytest.raises(InvalidTokenError) as caught:
            await verifier.verify(good)
        assert caught.value.description == EXPIRED


async def test_no_cache_when_its_size_is_zero(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server, token_cache_size=0)
    counting = Counting(verifier)
    raw = server.issue_token(["read"])
    await verifier.verify(raw)
    await verifier.verify(raw)
    assert counting.checks == 2


async def test_keys_fetched_at_start_up(server: DevAuthorizationServer) -> None:
    verifier = verifier_for(server)
    await verifier.start()
    assert server.jwks_requests == 1
    await verifier.verify(server.issue_token(["read"]))
    assert server.jwks_requests == 1


async def test_stale_keys_answer_while_the_refresh_runs(server: DevAuthorizationServer, clock: FakeClock) -> None:
    verifier = verifier_for(server, clock, jwks_cache_ttl=60, token_cache_size=0)
    raw = server.issue_token(["read"])
    await verifier.verify(raw)
    clock.now += 61
    server.jwks_status = 503  # the issuer is down: the request is still answered from the held keys
    assert (await verifier.verify(raw)).scopes == ["read"]
    await verifier.keys.settle()
    assert server.jwks_requests == 2
