"""Interop with ``oidc-provider`` (npm), a certified OpenID Connect server, run on 127.0.0.1.

It issues RFC 9068 JWT access tokens for our resource (resource indicators, ``client_credentials``);
``JWTVerifier`` must accept them with the keys named by its discovery document, and the MCP SDK's
``ClientCredentialsOAuthProvider`` must obtain one. Then the step-up flows of ``tests/http`` run again
with oidc-provider as the authorization server: the SDK client connects to a guarded ``MCPServer``
over loopback HTTP with the baseline scopes only, steps up on each 403 by itself, and stops after one
step-up when the authorization server will not grant a scope. Skipped only when ``node`` or the npm
package is missing; install it with ``npm ci --prefix tests/interop/oidc``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from mcp.client.auth.exceptions import OAuthTokenError
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastmcp_scopes import ScopeGuard, parse_www_authenticate
from fastmcp_scopes.challenge import format_scope
from fastmcp_scopes.errors import InvalidTokenError
from fastmcp_scopes.policy import INSUFFICIENT_SCOPE
from fastmcp_scopes.testing import DevClient, MemoryTokenStorage
from fastmcp_scopes.testing.loopback import LoopbackServer
from fastmcp_scopes.tokens import WRONG_AUDIENCE, JWTVerifier
from tests.http.conftest import BASELINE, GRANTABLE, LAYERS, Deployment, Recorder, build_server, connect, granted

HERE = Path(__file__).parent / "oidc"
CLIENT_ID = "interop-client"
CLIENT_SECRET = "interop-secret-0123456789abcdef0123456789"
SCOPES = "files:read files:write"

NODE = shutil.which("node")
pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed for the oidc-provider interop tests)"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "oidc-provider").is_dir(),
        reason="oidc-provider is not installed: run `npm ci --prefix tests/interop/oidc`",
    ),
]


class OidcProvider:
    """What a running oidc-provider's discovery document says, and the one client it was configured with.

    It stands in for the development server in ``tests/http``'s ``Deployment`` and ``connect``, which need
    only its ``issuer``, ``token_endpoint`` and a client from ``register_client``.
    """

    def __init__(self, issuer: str, discovery: dict[str, Any]) -> None:
        self.issuer = issuer
        self.jwks_uri: str = discovery["jwks_uri"]
        self.token_endpoint: str = discovery["token_endpoint"]
        self.introspection_endpoint: str | None = discovery.get("introspection_endpoint")

    def register_client(self) -> DevClient:
        """The client oidc-provider knows from start-up (it offers no registration to these tests)."""
        return DevClient(CLIENT_ID, CLIENT_SECRET)


@contextmanager
def run_oidc_provider(
    resource: str, scopes: str = SCOPES, client_scopes: str | None = None, **settings: str
) -> Iterator[OidcProvider]:
    """oidc-provider issuing tokens for ``resource``: it knows ``scopes``, the client may obtain ``client_scopes``;
    ``settings`` are more of ``server.mjs``'s environment variables (``ACCESS_TOKEN_FORMAT="opaque"`` ...)."""
    assert NODE is not None
    env = {**os.environ, **settings, "RESOURCE": resource, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    env["SCOPES"] = scopes
    env["CLIENT_SCOPES"] = scopes if client_scopes is None else client_scopes
    process = subprocess.Popen(
        [NODE, str(HERE / "server.mjs")], cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"oidc-provider did not start: {process.stderr.read() if process.stderr else ''}")
        issuer = json.loads(line)["issuer"]
        discovery = httpx2.get(f"{issuer}/.well-known/openid-configuration").json()
        yield OidcProvider(issuer, discovery)
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture
def resource() -> Iterator[tuple[str, dict[str, str]]]:
    """A protected resource at ``/mcp`` (started first: oidc-provider must know its URL)."""
    holder: dict[str, str] = {}

    def build(base_url: str) -> Starlette:
        async def prm(request: Request) -> Response:
            return JSONResponse({"resource": f"{base_url}/mcp", "authorization_servers": [holder["issuer"]]})

        async def protected(request: Request) -> Response:
            verifier = JWTVerifier(
                issuer=holder["issuer"], jwks_uri=holder["jwks_uri"], audience=f"{base_url}/mcp", require_typ=True
            )
            scheme, _, raw = request.headers.get("authorization", "").partition(" ")
            token = await verifier.verify_token(raw) if scheme.lower() == "bearer" else None
            if token is None:
                metadata = f"{base_url}/.well-known/oauth-protected-resource/mcp"
                challenge = f'Bearer resource_metadata="{metadata}", scope="{SCOPES}"'
                return Response(status_code=401, headers={"WWW-Authenticate": challenge})
            return JSONResponse({"scopes": token.scopes, "client_id": token.client_id, "resource": token.resource})

        return Starlette(routes=[Route("/.well-known/oauth-protected-resource/mcp", prm), Route("/mcp", protected)])

    with LoopbackServer(app_factory=build) as base_url:
        yield f"{base_url}/mcp", holder


@pytest.fixture
def oidc(resource: tuple[str, dict[str, str]]) -> Iterator[OidcProvider]:
    resource_url, holder = resource
    with run_oidc_provider(resource_url) as provider:
        holder.update(issuer=provider.issuer, jwks_uri=provider.jwks_uri)
        yield provider


async def client_credentials_token(oidc: OidcProvider, resource: str, scope: str = SCOPES) -> str:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            oidc.token_endpoint,
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_verifier_accepts_oidc_provider_jwt_access_tokens(
    oidc: OidcProvider, resource: tuple[str, dict[str, str]]
) -> None:
    resource_url, holder = resource
    raw = await client_credentials_token(oidc, resource_url, "files:read")
    verifier = JWTVerifier(issuer=oidc.issuer, jwks_uri=holder["jwks_uri"], audience=resource_url, require_typ=True)
    token = await verifier.verify(raw)
    assert token.scopes == ["files:read"]
    assert token.client_id == CLIENT_ID
    assert token.resource == resource_url
    assert token.claims is not None and token.claims["iss"] == oidc.issuer
    assert verifier.keys.fetch_count == 1


async def test_verifier_refuses_oidc_provider_token_for_another_audience(
    oidc: OidcProvider, resource: tuple[str, dict[str, str]]
) -> None:
    resource_url, holder = resource
    raw = await client_credentials_token(oidc, resource_url)
    verifier = JWTVerifier(issuer=oidc.issuer, jwks_uri=holder["jwks_uri"], audience="https://other.example/mcp")
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.description == WRONG_AUDIENCE


async def test_sdk_client_credentials_provider_gets_a_token_from_oidc_provider(
    oidc: OidcProvider, resource: tuple[str, dict[str, str]]
) -> None:
    resource_url, _ = resource
    provider = ClientCredentialsOAuthProvider(
        server_url=resource_url,
        storage=MemoryTokenStorage(),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        issuer=oidc.issuer,
    )
    async with httpx2.AsyncClient(auth=provider) as http:
        response = await http.get(resource_url)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "scopes": ["files:read", "files:write"],
        "client_id": CLIENT_ID,
        "resource": resource_url,
    }


# -- the step-up flows of tests/http/test_step_up.py, with oidc-provider as the authorization server --

KNOWN = " ".join([*GRANTABLE, "employees:delete"])
"""Every scope oidc-provider knows; the interop client may obtain all but ``employees:delete``."""
MODES = ["legacy", "auto"]


@contextmanager
def guarded_deployment(*, scopes: str = KNOWN, client_scopes: str = " ".join(GRANTABLE)) -> Iterator[Deployment]:
    """``build_server()`` guarded as in ``tests/http``, trusting oidc-provider through its discovery document.

    oidc-provider starts inside the app factory: it must know our URL (its only resource indicator,
    so ``aud``), and our guard must know its issuer and keys before the app is built.
    """
    server = build_server()
    holder: dict[str, Deployment] = {}
    stack = ExitStack()

    def factory(base: str) -> Any:
        url = f"{base}/mcp"
        oidc = stack.enter_context(run_oidc_provider(url, scopes, client_scopes))
        guard = ScopeGuard(
            issuer=oidc.issuer,
            jwks_uri=oidc.jwks_uri,
            resource_url=url,
            scopes_supported=BASELINE,
            require_typ=True,
            **LAYERS,
        )
        guard.install(server)
        holder["deployment"] = Deployment(url, base, oidc, server.calls)  # type: ignore[arg-type,attr-defined]
        return server.streamable_http_app()

    with stack, LoopbackServer(app_factory=factory, lifespan="on"):
        yield holder["deployment"]


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    with guarded_deployment() as deployment:
        yield deployment


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def test_protected_resource_metadata_names_oidc_provider(deployment: Deployment) -> None:
    response = httpx2.get(deployment.metadata_url)
    assert response.status_code == 200
    assert response.json() == {
        "resource": deployment.url,
        "authorization_servers": [deployment.auth_server.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": BASELINE,
    }


def challenge_scope(operation: str, mode: str, held: Iterable[str]) -> str:
    """The 403's scope under the default (auto) challenges: a client speaking a handshake-era version
    (``legacy``) is told the operation's scopes and the token's, since such clients may replace theirs; a
    2026-07-28 client the operation's alone."""
    if mode == "legacy":
        return format_scope({*operation.split(), *held})
    return operation


@pytest.mark.parametrize("mode", MODES)
async def test_sdk_client_steps_up_with_oidc_provider_tokens(deployment: Deployment, mode: str) -> None:
    recorder = Recorder()
    async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, storage):
        assert granted(storage) == set(BASELINE)
        assert (await mcp.list_tools()).tools == []

        result = await mcp.call_tool("get_employees", {})
        assert result.is_error is False
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read"}

        result = await mcp.call_tool("update_employee_mood", {"employee_id": 1, "mood": "happy"})
        assert result.is_error is False
        assert result.structured_content == {"id": 1, "mood": "happy"}
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read", "employees:write"}
        assert {t.name for t in (await mcp.list_tools()).tools} == {"get_employees", "update_employee_mood"}

        # The token the guard accepted is oidc-provider's own: an RFC 9068 JWT for exactly our URL.
        assert storage.tokens is not None
        raw = storage.tokens.access_token
        assert jwt.get_unverified_header(raw)["typ"] == "at+jwt"
        claims = jwt.decode(raw, options={"verify_signature": False})
        assert claims["iss"] == deployment.auth_server.issuer
        assert claims["aud"] == deployment.url
        assert claims["client_id"] == CLIENT_ID
        assert set(claims["scope"].split()) == granted(storage)

    challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
    assert [parse_www_authenticate(e.www_authenticate or "")["scope"] for e in challenges] == [
        challenge_scope("employees:read mcp:connect mcp:tools:call", mode, BASELINE),
        challenge_scope(
            "employees:write mcp:connect mcp:tools:call", mode, {*BASELINE, "mcp:tools:call", "employees:read"}
        ),
    ]
    token_requests = [e for e in recorder.exchanges if e.url == deployment.auth_server.token_endpoint]
    assert [e.status for e in token_requests] == [200, 200, 200]  # the baseline, then one per step-up
    assert deployment.calls == ["get_employees", "update_employee_mood"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_scope_oidc_provider_refuses_ends_after_one_step_up(deployment: Deployment, mode: str) -> None:
    recorder = Recorder()
    with pytest.raises(BaseException) as caught:  # the transport raises an ExceptionGroup
        async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, _storage):
            await mcp.call_tool("delete_employee", {"employee_id": 1})
    assert any(isinstance(e, OAuthTokenError) and "invalid_scope" in str(e) for e in leaves(caught.value))
    token_requests = [e for e in recorder.exchanges if e.url == deployment.auth_server.token_endpoint]
    challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
    assert len(challenges) == 1
    assert parse_www_authenticate(challenges[0].www_authenticate or "")["scope"] == challenge_scope(
        "employees:delete mcp:connect mcp:tools:call", mode, BASELINE
    )
    assert [e.status for e in token_requests] == [200, 400]  # the baseline token, then the refused step-up
    assert json.loads(token_requests[-1].body)["error"] == "invalid_scope"
    assert deployment.calls == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_scope_oidc_provider_leaves_out_ends_after_one_step_up(mode: str) -> None:
    # oidc-provider does not know employees:delete here, so it grants the rest and leaves that one out
    # (RFC 6749 §3.3). The retried call meets the same 403, the SDK does not step up again, and the
    # caller gets our structured insufficient_scope error naming what is still missing.
    recorder = Recorder()
    with guarded_deployment(scopes=" ".join(GRANTABLE)) as deployment:
        with pytest.raises(BaseException) as caught:  # the transport raises an ExceptionGroup
            async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, storage):
                await mcp.call_tool("delete_employee", {"employee_id": 1})
        errors = [e for e in leaves(caught.value) if isinstance(e, MCPError)]
        assert [(e.code, e.data["missing"]) for e in errors] == [(INSUFFICIENT_SCOPE, ["employees:delete"])]
        assert granted(storage) == {*BASELINE, "mcp:tools:call"}
        token_requests = [e for e in recorder.exchanges if e.url == deployment.auth_server.token_endpoint]
        assert [e.status for e in token_requests] == [200, 200]  # the baseline, then one step-up: no loop
        challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
        assert [parse_www_authenticate(e.www_authenticate or "")["error_description"] for e in challenges] == [
            "Missing scopes: employees:delete mcp:tools:call",
            "Missing scopes: employees:delete",
        ]
        assert deployment.calls == []
