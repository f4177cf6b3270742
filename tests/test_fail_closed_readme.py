"""The README's "Use" snippet runs as written: its code, taken from README.md, starts an HTTP server that
answers like a guarded one (before, it stopped at start-up for want of settings it did not show)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer  # the snippet's server (mcp 2.x): other lanes skip this module

from fastmcp_scopes.testing import LoopbackServer

README = Path(__file__).resolve().parents[1] / "README.md"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def use_snippet() -> str:
    """The first Python block of the README's "Use" section."""
    section = README.read_text(encoding="utf-8").split("\n## Use\n", 1)[1]
    return section.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_the_use_snippet_runs_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env: the snippet must carry what it needs
    served: dict[str, Any] = {}
    real_serve = uvicorn.Server.serve

    async def serve(self: uvicorn.Server, sockets: Any = None) -> None:
        served["app"] = self.config.app  # what mcp.run("streamable-http") would serve on port 8000

    monkeypatch.setattr(uvicorn.Server, "serve", serve)

    namespace: dict[str, Any] = {"__name__": "readme_use"}
    exec(compile(use_snippet(), str(README), "exec"), namespace)
    monkeypatch.setattr(uvicorn.Server, "serve", real_serve)

    assert isinstance(namespace["mcp"], MCPServer)

    with LoopbackServer(served["app"], lifespan="on") as base:
        metadata = httpx2.get(f"{base}/.well-known/oauth-protected-resource/mcp")
        refused = httpx2.post(
            f"{base}/mcp",
            content=json.dumps(INITIALIZE).encode(),
            headers={"accept": "application/json, text/event-stream", "content-type": "application/json"},
        )
    assert metadata.json() == {
        "resource": "http://127.0.0.1:8000/mcp",
        "authorization_servers": ["https://auth.example.com"],
        "bearer_methods_supported": ["header"],
    }
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        'Bearer resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"'
    )


class _OneTokenVerifier:
    """A verifier of the server's own, as the start-up error's hint says to give one."""

    async def verify_token(self, token: str) -> Any:
        from fastmcp_scopes._compat import AccessToken

        if token != "known":
            return None
        return AccessToken(token=token, client_id="c", scopes=[], resource="http://127.0.0.1:8000/mcp", subject="s")


def test_the_start_up_error_points_where_a_token_verifier_goes_and_that_place_takes_one(tmp_path: Path) -> None:
    from mcp.server.auth.settings import AuthSettings
    from pydantic import AnyHttpUrl

    from fastmcp_scopes import ConfigurationError, ScopeGuard

    bare = MCPServer("employees")
    ScopeGuard(_env_file=None).install(bare)
    with pytest.raises(ConfigurationError) as stopped:
        bare.streamable_http_app()
    hint = str(stopped.value).splitlines()[-1]
    assert hint == "or give the server token_verifier= and AuthSettings(resource_server_url=...) instead"

    with pytest.raises(ConfigurationError) as refused:
        ScopeGuard(_env_file=None, token_verifier=_OneTokenVerifier())  # not the guard's: the hint must not say so
    assert "unknown option token_verifier=" in str(refused.value)
    assert "MCPServer(token_verifier=..., auth=AuthSettings(...))" in str(refused.value)
    assert "did you mean" not in str(refused.value)  # token_cache_size, before

    followed = MCPServer(
        "employees",
        token_verifier=_OneTokenVerifier(),
        auth=AuthSettings(
            issuer_url=AnyHttpUrl("https://auth.example.com"),
            resource_server_url=AnyHttpUrl("http://127.0.0.1:8000/mcp"),
            validate_token_resource=True,
        ),
    )
    ScopeGuard(_env_file=None).install(followed)
    with LoopbackServer(followed.streamable_http_app(), lifespan="on") as base:
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        known = httpx2.post(
            f"{base}/mcp", content=json.dumps(INITIALIZE).encode(), headers={**headers, "authorization": "Bearer known"}
        )
        unknown = httpx2.post(
            f"{base}/mcp", content=json.dumps(INITIALIZE).encode(), headers={**headers, "authorization": "Bearer x"}
        )
    assert known.status_code == 200, known.text
    assert unknown.status_code == 401
