"""Issue 13 item 1 over real HTTP on every lineage: with ``FASTMCP_SCOPES_INTROSPECTION_URL`` (and the resource
server's client credentials) the guard takes opaque tokens, asks the authorization server what each is worth
(RFC 7662), and decides on that answer's scopes and mapped claims; what introspection does not vouch for is a
401 ``invalid_token``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastmcp_scopes.testing import DevAuthorizationServer
from fastmcp_scopes.testing.loopback import LoopbackServer

from .conftest import Guarded, Install, http_only, refusal_of, succeeded
from .kinds import ServerKind
from .test_claims import docs

pytestmark = http_only

SECRET = "resource-server-secret-0123456789"


@dataclass
class Introspection:
    """The authorization server's RFC 7662 endpoint: ``active`` tokens and their answers; any other is inactive."""

    issuer: str
    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    url: str = ""

    async def handle(self, request: Request) -> Response:
        if request.headers.get("authorization", "").split(" ")[0] != "Basic":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if self.status != 200:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=self.status)
        token = str((await request.form()).get("token"))
        return JSONResponse(self.active.get(token, {"active": False}))

    def issue(self, token: str, audience: str, scope: str = "", **claims: Any) -> str:
        now = int(time.time())
        self.active[token] = {
            "active": True,
            **({"scope": scope} if scope else {}),
            "client_id": "agent",
            "sub": "ada",
            "aud": audience,
            "iss": self.issuer,
            "exp": now + 300,
            "iat": now,
            **claims,
        }
        return token


@pytest.fixture
async def introspection(dev_auth: DevAuthorizationServer) -> AsyncIterator[Introspection]:
    endpoint = Introspection(dev_auth.issuer)
    async with LoopbackServer(Starlette(routes=[Route("/introspect", endpoint.handle, methods=["POST"])])) as base:
        endpoint.url = f"{base}/introspect"
        yield endpoint


async def guarded_docs(install: Install, kind: ServerKind, introspection: Introspection, **options: Any) -> Guarded:
    return await install(
        docs(kind),
        introspection_url=introspection.url,
        introspection_client_id="mcp-resource",
        introspection_client_secret=SECRET,
        **options,
    )


def call(tool: str) -> dict[str, Any]:
    return {"name": tool, "arguments": {"name": "a"}}


async def test_an_opaque_token_is_decided_on_its_introspected_scopes(
    install: Install, server_kind: ServerKind, introspection: Introspection
) -> None:
    guarded = await guarded_docs(install, server_kind, introspection)
    token = introspection.issue("opaque-read", guarded.url, "docs:read")
    allowed = await guarded.post(token, "tools/call", call("read_doc"))
    assert allowed.status == 200 and succeeded(allowed), allowed.whole()
    refused = await guarded.post(token, "tools/call", call("edit_doc"))
    assert refused.status == 403 and refusal_of(refused)["data"]["missing"] == ["docs:write"]
    assert refused.challenge is not None and 'scope="docs:read docs:write"' in refused.challenge


async def test_introspected_claims_map_to_scopes(
    install: Install, server_kind: ServerKind, introspection: Introspection
) -> None:
    guarded = await guarded_docs(
        install, server_kind, introspection, claim_scopes={"roles": {"research-agent": ["docs:read"]}}
    )
    token = introspection.issue("opaque-role", guarded.url, roles=["research-agent"])
    allowed = await guarded.post(token, "tools/call", call("read_doc"))
    assert allowed.status == 200 and succeeded(allowed), allowed.whole()


@pytest.mark.parametrize(
    "attempt",
    ["inactive", "another audience", "expired", "endpoint failing", "a JWT the JWKS would accept"],
)
async def test_what_introspection_does_not_vouch_for_is_invalid_token(
    install: Install, server_kind: ServerKind, introspection: Introspection, attempt: str
) -> None:
    guarded = await guarded_docs(install, server_kind, introspection)
    token = {
        "inactive": "never-issued",
        "another audience": introspection.issue("opaque-other", "https://other.example/mcp", "docs:read"),
        "expired": introspection.issue("opaque-old", guarded.url, "docs:read", exp=int(time.time()) - 120),
        "endpoint failing": introspection.issue("opaque-down", guarded.url, "docs:read"),
        # With introspection configured, a signed JWT is one more opaque string: only the AS's answer counts.
        "a JWT the JWKS would accept": guarded.token(["docs:read"]),
    }[attempt]
    if attempt == "endpoint failing":
        introspection.status = 503
    answer = await guarded.post(token, "tools/call", call("read_doc"))
    assert answer.status == 401, (attempt, answer.whole())
    assert answer.challenge is not None and 'error="invalid_token"' in answer.challenge
