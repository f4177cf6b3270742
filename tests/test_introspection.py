"""Opaque tokens through RFC 7662 introspection: a loopback endpoint answers as an authorization server would,
and every answer that is not "active, for us, now" is a refusal."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastmcp_scopes.errors import ConfigurationError, InvalidTokenError
from fastmcp_scopes.introspection import INACTIVE, UNAVAILABLE, IntrospectionVerifier
from fastmcp_scopes.settings import load_settings
from fastmcp_scopes.testing.loopback import LoopbackServer
from fastmcp_scopes.tokens import EXPIRED, NO_IDENTITY, NOT_YET_VALID, WRONG_AUDIENCE, WRONG_ISSUER

AUDIENCE = "https://mcp.example/mcp"
ISSUER = "https://as.example"
CLIENT = ("mcp-resource", "resource-secret-0123456789")


@dataclass
class Endpoint:
    """An introspection endpoint: ``answers`` by token; records what it was sent."""

    answers: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def active(self, token: str, **claims: Any) -> str:
        now = int(time.time())
        self.answers[token] = {
            "active": True,
            "scope": "docs:read docs:write",
            "client_id": "agent",
            "sub": "ada",
            "aud": AUDIENCE,
            "iss": ISSUER,
            "exp": now + 300,
            "iat": now,
            **claims,
        }
        return token

    async def handle(self, request: Request) -> Response:
        form = await request.form()
        authorization = request.headers.get("authorization", "")
        self.requests.append({"authorization": authorization, **{k: str(v) for k, v in form.items()}})
        expected = "Basic " + base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
        if authorization != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if self.delay:
            await anyio.sleep(self.delay)
        if self.raw is not None:
            return Response(self.raw, media_type="application/json")
        if self.status != 200:
            return JSONResponse({"error": "server_error"}, status_code=self.status)
        return JSONResponse(self.answers.get(str(form.get("token")), {"active": False}))


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    found = Endpoint()
    async with LoopbackServer(Starlette(routes=[Route("/introspect", found.handle, methods=["POST"])])) as base:
        found.url = f"{base}/introspect"
        yield found


def verifier(endpoint: Endpoint, **options: Any) -> IntrospectionVerifier:
    return IntrospectionVerifier(
        introspection_url=endpoint.url,
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        audience=AUDIENCE,
        issuer=ISSUER,
        **options,
    )


async def refused(verifier: IntrospectionVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value.description


async def test_an_active_token_is_verified_with_its_scopes_and_identity(endpoint: Endpoint) -> None:
    token = endpoint.active("opaque-1", roles=["research-agent"])
    verified = await verifier(endpoint).verify(token)
    assert (verified.scopes, verified.client_id, verified.subject, verified.resource) == (
        ["docs:read", "docs:write"],
        "agent",
        "ada",
        AUDIENCE,
    )
    assert verified.claims is not None and verified.claims["roles"] == ["research-agent"]
    sent = endpoint.requests[0]
    assert sent["token"] == token and sent["token_type_hint"] == "access_token"


@pytest.mark.parametrize(
    ("answer", "description"),
    [
        ({"active": False}, INACTIVE),
        ({"active": "true"}, INACTIVE),
        ({"active": 1}, INACTIVE),
        ({"aud": "https://other.example/mcp"}, WRONG_AUDIENCE),
        ({"aud": None}, WRONG_AUDIENCE),
        ({"iss": "https://as.example/"}, WRONG_ISSUER),
        ({"exp": int(time.time()) - 120}, EXPIRED),
        ({"exp": None}, "The access token has invalid claims"),
        ({"nbf": int(time.time()) + 3600}, NOT_YET_VALID),
        ({"sub": None}, NO_IDENTITY),
        ({"scope": ["docs:read"]}, "The access token has invalid claims"),
        ({"scope": 'docs:read "x'}, "The access token has invalid claims"),
    ],
)
async def test_anything_but_active_for_us_now_is_refused(
    endpoint: Endpoint, answer: dict[str, Any], description: str
) -> None:
    token = endpoint.active("opaque-2")
    endpoint.answers[token].update(answer)
    endpoint.answers[token] = {k: v for k, v in endpoint.answers[token].items() if v is not None}
    assert await refused(verifier(endpoint), token) == description


async def test_an_unknown_token_is_inactive(endpoint: Endpoint) -> None:
    assert await refused(verifier(endpoint), "never-issued") == INACTIVE


@pytest.mark.parametrize("status", [400, 401, 500, 503])
async def test_an_error_from_the_endpoint_is_a_refusal(endpoint: Endpoint, status: int) -> None:
    token = endpoint.active("opaque-3")
    endpoint.status = status
    assert await refused(verifier(endpoint), token) == UNAVAILABLE


async def test_wrong_client_credentials_are_a_refusal(endpoint: Endpoint) -> None:
    token = endpoint.active("opaque-4")
    wrong = IntrospectionVerifier(
        introspection_url=endpoint.url, client_id=CLIENT[0], client_secret="wrong", audience=AUDIENCE
    )
    assert await refused(wrong, token) == UNAVAILABLE


@pytest.mark.parametrize("raw", [b"not json", b"[true]", b'{"active": true, "active": false}', b"[" * 100_000])
async def test_a_body_that_is_not_an_introspection_answer_is_a_refusal(endpoint: Endpoint, raw: bytes) -> None:
    token = endpoint.active("opaque-5")
    endpoint.raw = raw
    assert await refused(verifier(endpoint), token) == UNAVAILABLE


async def test_a_timeout_is_a_refusal(endpoint: Endpoint) -> None:
    token = endpoint.active("opaque-6")
    endpoint.delay = 2.0
    assert await refused(verifier(endpoint, timeout=0.2), token) == UNAVAILABLE


async def test_an_unreachable_endpoint_is_a_refusal() -> None:
    async with LoopbackServer(Starlette()) as base:
        closed = f"{base}/introspect"
    gone = IntrospectionVerifier(introspection_url=closed, client_id="c", client_secret="s", audience=AUDIENCE)
    assert await refused(gone, "opaque-7") == UNAVAILABLE


async def test_answers_are_remembered_for_at_most_the_max_age(endpoint: Endpoint) -> None:
    monotonic = [1000.0]
    checker = verifier(endpoint, cache_max_age=60, monotonic=lambda: monotonic[0])
    token = endpoint.active("opaque-8")
    for _ in range(3):
        await checker.verify(token)
    assert len(endpoint.requests) == 1
    endpoint.answers[token] = {"active": False}  # revoked at the authorization server
    monotonic[0] += 61
    assert await refused(checker, token) == INACTIVE
    assert len(endpoint.requests) == 2


async def test_a_remembered_answer_never_outlives_exp(endpoint: Endpoint) -> None:
    wall = [time.time()]
    checker = verifier(endpoint, cache_max_age=3600, leeway=0, clock=lambda: wall[0])
    token = endpoint.active("opaque-9", exp=int(wall[0]) + 30)
    await checker.verify(token)
    wall[0] += 31
    assert await refused(checker, token) == EXPIRED
    assert len(endpoint.requests) == 2


async def test_refusals_are_not_remembered_and_the_cache_is_bounded(endpoint: Endpoint) -> None:
    checker = verifier(endpoint, cache_size=2)
    assert await refused(checker, "later-active") == INACTIVE
    endpoint.active("later-active")
    await checker.verify("later-active")
    tokens = [endpoint.active(f"t{i}") for i in range(3)]
    for token in tokens:
        await checker.verify(token)
    before = len(endpoint.requests)
    await checker.verify(tokens[2])
    assert len(endpoint.requests) == before
    await checker.verify(tokens[0])  # evicted: asked again
    assert len(endpoint.requests) == before + 1


def test_the_secret_never_shows() -> None:
    checker = IntrospectionVerifier(
        introspection_url="https://as.example/introspect", client_id="c", client_secret="s3cr3t", audience=AUDIENCE
    )
    assert "s3cr3t" not in repr(checker)
    settings = load_settings(
        _env_file=None,
        introspection_url="https://as.example/introspect",
        introspection_client_id="c",
        introspection_client_secret="s3cr3t",
    )
    assert "s3cr3t" not in repr(settings)
    built = IntrospectionVerifier.from_settings(settings, resource_url=AUDIENCE)
    assert built.audiences == (AUDIENCE,) and built.cache_max_age == 60


@pytest.mark.parametrize(
    "options",
    [
        {"introspection_url": "ftp://as.example/introspect"},
        {"client_secret": ""},
        {"audience": None},
        {"cache_size": -1},
        {"timeout": float("nan")},
    ],
)
def test_bad_configuration_fails_at_construction(options: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "introspection_url": "https://as.example/introspect",
        "client_id": "c",
        "client_secret": "s",
        "audience": AUDIENCE,
    }
    with pytest.raises(ConfigurationError):
        IntrospectionVerifier(**{**base, **options})


def test_missing_settings_are_named() -> None:
    settings = load_settings(_env_file=None, introspection_url="https://as.example/introspect")
    with pytest.raises(ConfigurationError) as caught:
        IntrospectionVerifier.from_settings(settings, resource_url=AUDIENCE)
    message = str(caught.value)
    assert (
        "FASTMCP_SCOPES_INTROSPECTION_CLIENT_ID" in message and "FASTMCP_SCOPES_INTROSPECTION_CLIENT_SECRET" in message
    )
    assert "FASTMCP_SCOPES_INTROSPECTION_URL" not in message
