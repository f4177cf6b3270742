"""``mcp.run("streamable-http")``, the SDK's own entry point, serves the guarded app: the decorated example
started as a user would start it, configured from ``FASTMCP_SCOPES_*`` variables."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from fastmcp_scopes.testing import DevAuthorizationServer

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ["employees:read", "employees:write"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def running() -> Iterator[tuple[str, DevAuthorizationServer]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with DevAuthorizationServer(scopes=SCOPES) as auth:
        env = {
            **os.environ,
            "FASTMCP_SCOPES_ISSUER": auth.issuer,
            "FASTMCP_SCOPES_JWKS_URI": auth.jwks_uri,
            "FASTMCP_SCOPES_RESOURCE_URL": url,
            "FASTMCP_SCOPES_SCOPES_SUPPORTED": "employees:read",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.decorated_server", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield url, auth
        finally:
            process.terminate()
            process.wait(timeout=30)


async def post(http: httpx2.AsyncClient, url: str, body: dict[str, object], token: str | None) -> httpx2.Response:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    with anyio.fail_after(30):
        while True:
            try:
                return await http.post(url, content=json.dumps(body).encode(), headers=headers)
            except httpx2.ConnectError:
                await anyio.sleep(0.1)  # still starting


async def test_run_streamable_http_answers_with_our_challenges(running: tuple[str, DevAuthorizationServer]) -> None:
    url, auth = running
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "update_employee_mood", "arguments": {"employee_id": 1, "mood": "calm"}},
    }
    async with httpx2.AsyncClient() as http:
        anonymous = await post(http, url, call, None)
        reader = await post(http, url, call, auth.issue_token(scopes=["employees:read"], audience=url))
    assert anonymous.status_code == 401
    metadata = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert anonymous.headers["www-authenticate"] == f'Bearer scope="employees:read", resource_metadata="{metadata}"'
    assert reader.status_code == 403
    assert reader.headers["www-authenticate"] == (  # MCP 2025-11-25: with the token's scopes too (auto)
        'Bearer error="insufficient_scope", error_description="Missing scopes: employees:write", '
        f'scope="employees:read employees:write", resource_metadata="{metadata}"'
    )
