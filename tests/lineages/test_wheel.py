"""What a user does: ``pip install`` the built wheel into a fresh virtual environment beside the lane's own
framework, pinned to the versions the lane runs, and serve a decorated server over real HTTP, called with
real tokens. No editable install, and the server runs outside the source tree, so only the wheel is imported.

One test per lineage, run in that lineage's lane (``bash scripts/test --lane sdk1 tests/lineages/test_wheel.py``).
It needs the package index the lane was installed from (pip's cache makes it quick).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx2
import pytest

from fastmcp_scopes.testing import DevAuthorizationServer

ROOT = Path(__file__).resolve().parents[2]

_DECORATED = """
from fastmcp_scopes import ScopeGuard, requires_scopes

@mcp.tool()
@requires_scopes("employees:read")
def get_employees() -> list[str]:
    return ["Ada", "Grace"]

@requires_scopes("employees:write")
@mcp.tool()
def update_employee_mood(employee_id: int, mood: str) -> str:
    return mood

ScopeGuard().install(mcp)
"""

SERVERS = {
    "sdk1": (
        "from mcp.server.fastmcp import FastMCP\nmcp = FastMCP('employees', stateless_http=True, json_response=True)\n",
        "app = mcp.streamable_http_app()",
    ),
    "sdk2": (
        "from mcp.server.mcpserver import MCPServer\nmcp = MCPServer('employees')\n",
        "app = mcp.streamable_http_app(stateless_http=True, json_response=True)",
    ),
    "fastmcp3": (
        "from fastmcp import FastMCP\nmcp = FastMCP('employees')\n",
        "app = mcp.http_app(path='/mcp', stateless_http=True, json_response=True)",
    ),
}
SERVERS["fastmcp4"] = SERVERS["fastmcp3"]

FRAMEWORK = {"sdk1": ["mcp"], "sdk2": ["mcp"], "fastmcp3": ["fastmcp", "mcp"], "fastmcp4": ["fastmcp", "mcp"]}
"""The distributions each lineage's environment pins, at the versions the running lane has."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("fastmcp_scopes-*.whl")
    return built


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def auth() -> Iterator[DevAuthorizationServer]:
    with DevAuthorizationServer(scopes=["employees:read"]) as server:
        yield server


@pytest.mark.parametrize(
    "lineage",
    [pytest.param(name, marks=pytest.mark.lineage(name)) for name in ("sdk1", "sdk2", "fastmcp3", "fastmcp4")],
)
def test_the_built_wheel_guards_a_decorated_server_over_http(
    lineage: str, wheel: Path, tmp_path: Path, auth: DevAuthorizationServer
) -> None:
    pins = [f"{name}=={metadata.version(name)}" for name in FRAMEWORK[lineage]]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel), *pins, "uvicorn"],
        check=True,
        timeout=600,
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    head, app = SERVERS[lineage]
    server = tmp_path / "server.py"
    serve = f"import uvicorn\nuvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')\n"
    server.write_text(f"{head}{_DECORATED}{app}\n{serve}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTMCP_SCOPES_", "PYTHON"))}
    env.update(
        FASTMCP_SCOPES_ISSUER=auth.issuer, FASTMCP_SCOPES_JWKS_URI=auth.jwks_uri, FASTMCP_SCOPES_RESOURCE_URL=url
    )
    process = subprocess.Popen([python, str(server)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        answers = _ask(url, auth, process)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    where = subprocess.run(
        [python, "-c", "import fastmcp_scopes; print(fastmcp_scopes.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert str(venv) in where.stdout, where.stdout  # the wheel's copy, not the source tree
    refused, allowed = answers
    assert refused.status_code == 403, (refused.status_code, refused.text, stderr)
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert refused.json()["error"]["data"]["missing"] == ["employees:write"]
    assert allowed.status_code == 200, (allowed.status_code, allowed.text, stderr)
    assert "isError" not in allowed.json()["result"] or allowed.json()["result"]["isError"] is False


def _ask(url: str, auth: DevAuthorizationServer, process: subprocess.Popen[str]) -> tuple[httpx2.Response, ...]:
    def call(scopes: list[str]) -> httpx2.Response:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "update_employee_mood", "arguments": {"employee_id": 1, "mood": "calm"}},
        }
        headers = {
            "authorization": f"Bearer {auth.issue_token(scopes=scopes, audience=url)}",
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": "2025-11-25",
        }
        return httpx2.post(url, content=json.dumps(body), headers=headers, timeout=30)

    deadline = time.monotonic() + 60
    while True:  # until uvicorn accepts connections
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return call(["employees:read"]), call(["employees:write"])
