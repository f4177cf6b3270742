"""Issue 14, part 1, with real MCP clients: the TypeScript SDK 1.x and 2.x and the Python SDK 1.x and 2.x, each in
its own process with its own OAuth support (``examples/employees/clients.py`` runs them), start without a token
on a server whose ``get_employees`` is public and whose ``update_employee_mood`` is protected. Each lists and reads
anonymously, and authorizes only when it records a mood: the one ``401`` names exactly that call's scopes.

Missing node, npm packages or the sdk1 environment skip a client, unless SCOPES_REQUIRE_INTEROP=1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from examples.employees.clients import (
    AuthServer,
    ClientKind,
    Recording,
    Server,
    client_kinds,
    development_auth_server,
    run_client,
)
from fastmcp_scopes import ScopeGuard, public, requires_scopes
from fastmcp_scopes.testing import LoopbackServer

pytestmark = pytest.mark.lineage("sdk2")

REQUIRED = os.environ.get("SCOPES_REQUIRE_INTEROP") == "1"
EMPLOYEES = [{"id": 1, "name": "Ada", "mood": "curious"}, {"id": 2, "name": "Grace", "mood": "calm"}]
CHALLENGE = "employees:write mcp:connect"
"""The write's 401: what that one call needs (its own scope and the connect layer), nothing else."""


def usable(key: str) -> ClientKind:
    kind = {kind.key: kind for kind in client_kinds()}[key]
    if kind.missing is not None:
        if REQUIRED:
            pytest.fail(f"{kind.name}: {kind.missing} (SCOPES_REQUIRE_INTEROP=1)")
        pytest.skip(f"{kind.name}: {kind.missing}")
    return kind


def build_server() -> MCPServer:
    mcp = MCPServer("employees")

    @mcp.tool()
    @public
    def get_employees() -> list[dict[str, Any]]:
        return EMPLOYEES

    @mcp.tool()
    @requires_scopes("employees:write")
    def update_employee_mood(employeeID: int, mood: str) -> dict[str, Any]:  # the driver's argument
        return {"id": employeeID, "name": EMPLOYEES[employeeID - 1]["name"], "mood": mood}

    return mcp


@pytest.fixture(scope="module")
def auth() -> Iterator[AuthServer]:
    with development_auth_server() as server:
        yield server


@pytest.fixture(scope="module", params=[True, False], ids=["stateless", "stateful"])
def server(auth: AuthServer, request: pytest.FixtureRequest) -> Iterator[Server]:
    stateless: bool = request.param
    holder: dict[str, Recording] = {}

    def factory(base: str) -> Any:
        mcp = build_server()
        ScopeGuard(
            issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp", connect_scopes=["mcp:connect"]
        ).install(mcp)
        holder["app"] = Recording(mcp.streamable_http_app(json_response=True, stateless_http=stateless))
        return holder["app"]

    with LoopbackServer(app_factory=factory, lifespan="on") as base:
        yield Server(f"{base}/mcp", holder["app"])


HANDSHAKE_CLIENTS = {"ts1", "ts2", "py1"}
"""The clients that speak 2025-11-25, whose stateful sessions the SDK binds to the credential that opened them."""


@pytest.mark.parametrize("flow", ["client_credentials", "authorization_code"])
@pytest.mark.parametrize("client", ["ts1", "ts2", "py1", "py2"])
def test_a_client_reads_without_a_token_and_authorizes_to_write(
    auth: AuthServer, server: Server, client: str, flow: str, request: pytest.FixtureRequest
) -> None:
    kind = usable(client)

    outcome = run_client(kind, flow, auth, server)  # type: ignore[arg-type]

    assert outcome.challenges[0] == (401, CHALLENGE), outcome  # the first token is asked for by the write
    assert all(status != 403 for status, _ in outcome.challenges)
    if "stateful" in request.node.callspec.id and client in HANDSHAKE_CLIENTS:
        # The session this client opened without a token is bound to no credential: with its new token the SDK
        # answers 404 "Session not found", as for another caller's session. MCP says a client then opens a new
        # session; these do not, and stop. Stateless servers (and the 2026-07-28 era) have no such session.
        assert not outcome.completed
        assert "Session not found" in str(outcome.error) or "Session terminated" in str(outcome.error), outcome
        assert outcome.wrote == []
        return
    assert outcome.error is None, outcome
    assert outcome.completed
    assert outcome.listed[0] == ["get_employees"]  # before any token: the public tool only
    assert [r["mood"] for r in outcome.wrote] == ["HAPPY", "CALM"]
