"""What only a ``fastmcp.FastMCP`` server has, beyond the contract suite (``tests/contract``): fastmcp's own
``Client`` as the caller, and a real stdio subprocess started the way fastmcp users start one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client as FastMCPClient
from fastmcp import FastMCP
from fastmcp.client.transports import StdioTransport

from fastmcp_scopes import ScopeGuard
from fastmcp_scopes.testing import scoped_fastmcp_client

from .hr import LAYERS, MCPError, add_hr_primitives, leaves, refusal, refusal_data

UNAUTHENTICATED = -32004


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one


def guarded(**options: Any) -> FastMCP:
    mcp = FastMCP("hr")
    add_hr_primitives(mcp, [])
    ScopeGuard(**options).install(mcp)
    return mcp


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_fastmcps_own_client_sees_the_same_listing_and_refusal(mode: str) -> None:
    async with scoped_fastmcp_client(guarded(), ["employees:read"], mode=mode) as client:
        tools = [t.name for t in await client.list_tools()]
        error = await refusal(client.call_tool("update_salary", {"employee": "a", "amount": 1}, raise_on_error=False))

    assert tools == ["list_employees", "server_time"]
    assert error.error.code == -32003  # type: ignore[attr-defined]
    # On MCP 2025-11-25 (legacy) the challenge names the token's scopes too, by default (auto).
    scope = "employees:write" if mode == "auto" else "employees:read employees:write"
    assert error.error.data == refusal_data(  # type: ignore[attr-defined]
        ["employees:write"], ["employees:write"], [["employees:write"], ["admin"]], scope
    )


async def connect_refusals(server: FastMCP, scopes: list[str] | None) -> list[Any]:
    # fastmcp's client in "auto" mode answers a refused server/discover by trying the handshake, which a
    # connection already serving 2026-07-28 refuses in turn, and raises only that last error. Pinned to
    # 2026-07-28 it connects without a probe, and its first request (a ping: connect layer only) is refused.
    with pytest.raises(BaseException) as raised:
        if scopes is None:
            async with FastMCPClient(server, mode="2026-07-28") as client:
                await client.ping()
        else:
            async with scoped_fastmcp_client(server, scopes, mode="2026-07-28") as client:
                await client.ping()
    return [e for e in leaves(raised.value) if isinstance(e, MCPError)]


async def test_fastmcps_own_client_is_refused_without_the_connect_scope() -> None:
    errors = await connect_refusals(guarded(**LAYERS), ["employees:read", "mcp:tools:read"])

    assert errors
    assert errors[-1].error.data == refusal_data(["mcp:connect"], ["mcp:connect"], [["mcp:connect"]], "mcp:connect")


async def test_fastmcps_own_client_without_a_token_is_refused() -> None:
    errors = await connect_refusals(guarded(), None)

    assert errors
    assert errors[0].error.code == UNAUTHENTICATED
    assert errors[0].error.message == "unauthenticated: An access token is required"


STDIO_SERVER = """
from fastmcp import FastMCP
from fastmcp_scopes import ScopeGuard, requires_scopes

mcp = FastMCP("stdio")

@mcp.tool()
@requires_scopes("employees:read")
def list_employees() -> str:
    return "alice, bob"

@mcp.tool()
@requires_scopes("employees:write")
def update_salary(amount: int) -> str:
    return "updated"

ScopeGuard().install(mcp)
mcp.run(transport="stdio", show_banner=False)
"""


@pytest.mark.parametrize("stdio_scopes", [None, "employees:read"])
async def test_over_real_stdio_without_a_token(tmp_path: Path, stdio_scopes: str | None) -> None:
    script = tmp_path / "server.py"
    script.write_text(STDIO_SERVER, encoding="utf-8")
    env = {"FASTMCP_SCOPES_STDIO_SCOPES": stdio_scopes} if stdio_scopes is not None else {}
    transport = StdioTransport(sys.executable, [str(script)], env=env, cwd=str(tmp_path))

    if stdio_scopes is None:
        with pytest.raises(MCPError) as raised:
            async with FastMCPClient(transport, mode="2026-07-28") as client:  # see connect_refusals
                await client.ping()
        assert raised.value.error.code == UNAUTHENTICATED  # type: ignore[attr-defined]
        return
    async with FastMCPClient(transport) as client:
        tools = [t.name for t in await client.list_tools()]
        error = await refusal(client.call_tool("update_salary", {"amount": 1}))
    assert tools == ["list_employees"]
    assert error.error.data["missing"] == ["employees:write"]  # type: ignore[attr-defined]
