"""A real deployment on loopback: the development authorization server, and an MCP server guarded by
fastmcp-scopes behind uvicorn, configured the way a user would (keyword arguments here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from fastmcp_scopes import ScopeGuard, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, MemoryTokenStorage

GRANTABLE = ["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:read", "employees:write"]
BASELINE = ["mcp:connect", "mcp:tools:read"]
LAYERS: dict[str, Any] = {
    "connect_scopes": ["mcp:connect"],
    "list_scopes": {"tools": ["mcp:tools:read"]},
    "call_scopes": {"tools": ["mcp:tools:call"]},
}


def build_server() -> MCPServer:
    mcp = MCPServer("employees")
    calls: list[str] = []
    mcp.calls = calls  # type: ignore[attr-defined]

    @mcp.tool()
    @requires_scopes("employees:read")
    def get_employees() -> list[dict[str, Any]]:
        calls.append("get_employees")
        return [{"id": 1, "name": "Ada", "mood": "curious"}]

    @mcp.tool()
    @requires_scopes("employees:write")
    def update_employee_mood(employee_id: int, mood: str) -> dict[str, Any]:
        calls.append("update_employee_mood")
        return {"id": employee_id, "mood": mood}

    @mcp.tool()
    @requires_scopes("employees:delete")  # the authorization server never grants this one
    def delete_employee(employee_id: int) -> str:
        calls.append("delete_employee")
        return "deleted"

    return mcp


@dataclass
class Deployment:
    url: str
    base: str
    auth_server: DevAuthorizationServer
    calls: list[str]  # the tools that ran, in order

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/.well-known/oauth-protected-resource/mcp"


@pytest.fixture
async def auth_server() -> AsyncIterator[DevAuthorizationServer]:
    async with DevAuthorizationServer(scopes=GRANTABLE) as server:
        yield server


def deploy(
    auth_server: DevAuthorizationServer, *, json_response: bool = False, stateless_http: bool = False, **options: Any
) -> tuple[LoopbackServer, Callable[[], Deployment]]:
    server = build_server()
    holder: dict[str, Any] = {}

    def factory(base: str) -> Any:
        guard = ScopeGuard(
            issuer=auth_server.issuer,
            jwks_uri=auth_server.jwks_uri,
            resource_url=f"{base}/mcp",
            scopes_supported=BASELINE,
            **{**LAYERS, **options},
        )
        guard.install(server)
        holder["deployment"] = Deployment(f"{base}/mcp", base, auth_server, server.calls)  # type: ignore[attr-defined]
        return server.streamable_http_app(json_response=json_response, stateless_http=stateless_http)

    return LoopbackServer(app_factory=factory, lifespan="on"), lambda: holder["deployment"]


@pytest.fixture(params=[False, True], ids=["sse", "json"])
async def deployment(auth_server: DevAuthorizationServer, request: pytest.FixtureRequest) -> AsyncIterator[Deployment]:
    loopback, get = deploy(auth_server, json_response=request.param)
    async with loopback:
        yield get()


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    www_authenticate: str | None
    body: bytes = b""


@dataclass
class Recorder:
    """Every HTTP exchange a client makes, in order (OAuth requests included)."""

    exchanges: list[Exchange] = field(default_factory=list)

    async def __call__(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:  # success bodies may be endless SSE streams
            await response.aread()
        self.exchanges.append(
            Exchange(
                response.request.method,
                str(response.request.url),
                response.status_code,
                response.headers.get("www-authenticate"),
                response.content if response.status_code >= 400 else b"",
            )
        )

    def to(self, url: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.url == url]


@asynccontextmanager
async def connect(
    deployment: Deployment, scope: str, mode: str, recorder: Recorder
) -> AsyncIterator[tuple[Client, MemoryTokenStorage]]:
    """The SDK's client-credentials client, asking for ``scope`` first, every exchange recorded."""
    client = deployment.auth_server.register_client()
    storage = MemoryTokenStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=deployment.url,
        storage=storage,
        client_id=client.client_id,
        client_secret=client.client_secret or "",
        scope=scope,
        issuer=deployment.auth_server.issuer,
    )
    async with (
        httpx2.AsyncClient(auth=provider, event_hooks={"response": [recorder]}, timeout=30) as http,
        Client(streamable_http_client(deployment.url, http_client=http), mode=mode) as mcp,
    ):
        yield mcp, storage


def granted(storage: MemoryTokenStorage) -> set[str]:
    assert storage.tokens is not None
    return set((storage.tokens.scope or "").split())


def assert_the_exact_403(response: httpx2.Response, deployment: Deployment) -> None:
    """The answer to ``tool_call("get_employees", id=7)`` with a baseline token, header and body whole. Sent on
    MCP 2025-11-25, whose clients may replace their scopes with the challenge's, so by default (``auto``) the
    challenge also names the scopes the token holds (``mcp:tools:read``)."""
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Missing scopes: employees:read mcp:tools:call", '
        'scope="employees:read mcp:connect mcp:tools:call mcp:tools:read", '
        f'resource_metadata="{deployment.metadata_url}"'
    )
    assert json.loads(response.content) == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32003,
            "message": "insufficient_scope: Missing scopes: employees:read mcp:tools:call",
            "data": {
                "error": "insufficient_scope",
                "required": ["employees:read", "mcp:connect", "mcp:tools:call"],
                "missing": ["employees:read", "mcp:tools:call"],
                "alternatives": [["employees:read", "mcp:connect", "mcp:tools:call"]],
                "scope": "employees:read mcp:connect mcp:tools:call mcp:tools:read",
            },
        },
    }
    assert deployment.calls == []
