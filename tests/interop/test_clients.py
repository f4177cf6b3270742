"""Interop with real MCP clients: the employees task under the library's default settings, step-ups and all.

The clients are the TypeScript SDK 1.x (``@modelcontextprotocol/sdk``) and 2.x (``@modelcontextprotocol/client``)
from npm (``npm ci --prefix tests/interop/clients``), and the Python SDK 1.x (mcp 1.30, in the sdk1 lane's
environment) and 2.x (mcp 2.3, this lane's). Each runs in its own process with its own OAuth support, in the
client-credentials flow and in the authorization-code flow (PKCE, dynamic client registration), against the
development authorization server on every transport of the server (stateful or stateless, JSON or SSE answers)
and against ``oidc-provider``. Each test asserts the exact challenges the server sent (the scope of every 401
and 403, recorded in front of the server), the step-ups the client made and how its task ended.

Under the default ``FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES=auto``, a client on a protocol version
before 2026-07-28 is challenged with the operation's scopes and its token's (so a client that replaces its scopes
keeps them), one on 2026-07-28 with the operation's alone. Every client completes with one step-up, except where a
client bug makes that impossible: those cases are asserted as they are, so that a fixed client fails its test.

The matrix runs in the sdk2 lane only (the demo's server is the MCP SDK 2.x ``MCPServer``); the servers are shared
by the whole module. Missing node, npm packages or the sdk1 environment skip it, unless SCOPES_REQUIRE_INTEROP=1
(set by CI, which installs them all): then they fail.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from examples.employees.clients import (
    DEFAULT_INCLUDE_TOKEN_SCOPES,
    FLOWS,
    NODE_MODULES,
    ROOT,
    AuthServer,
    ClientKind,
    Flow,
    Outcome,
    Run,
    Server,
    client_kinds,
    describe,
    development_auth_server,
    employees_server,
    oidc_deployment,
    run_client,
)
from tests.interop.demo import BASELINE, PRECISE, UNION, unavailable

pytestmark = pytest.mark.lineage("sdk2")

CLIENTS = ["ts1", "ts2", "py1", "py2"]
TRANSPORTS = {  # id: (json_response, stateless)
    "stateful-sse": (False, False),
    "stateful-json": (True, False),
    "stateless-sse": (False, True),
    "stateless-json": (True, True),
}

WROTE = [{"id": 1, "name": "Ada", "mood": "HAPPY"}, {"id": 2, "name": "Grace", "mood": "CALM"}]


@functools.cache
def kinds() -> dict[str, ClientKind]:
    return {kind.key: kind for kind in client_kinds()}


def usable(key: str) -> ClientKind:
    kind = kinds()[key]
    if kind.missing is not None:
        unavailable(f"{kind.name}: {kind.missing}")
    return kind


@pytest.fixture(scope="module")
def dev() -> Iterator[tuple[AuthServer, dict[str, Server]]]:
    """The development authorization server, and one employees server per transport, trusting it."""
    with ExitStack() as stack:
        auth = stack.enter_context(development_auth_server())
        servers = {
            name: stack.enter_context(employees_server(auth, json_response=json_response, stateless=stateless))
            for name, (json_response, stateless) in TRANSPORTS.items()
        }
        yield auth, servers


@pytest.fixture(scope="module")
def oidc() -> Iterator[tuple[AuthServer, Server]]:
    """oidc-provider, and an employees server (stateful, SSE answers: the SDK's defaults) trusting it."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (NODE_MODULES / "oidc-provider").is_dir():
        problem = "oidc-provider is not installed: run `npm ci --prefix tests/interop/clients`"
    if problem is not None:
        unavailable(problem)
    with oidc_deployment(json_response=False, stateless=False) as deployment:
        yield deployment


def run_on_dev(
    dev: tuple[AuthServer, dict[str, Server]], client: str, flow: Flow, transport: str, **options: Any
) -> Outcome:
    """``client``'s task, through ``flow``, against the development server's employees server on ``transport``."""
    auth, servers = dev
    return run_client(usable(client), flow, auth, servers[transport], **options)


def assert_gives_up(outcome: Outcome, challenge: str) -> None:
    """The TypeScript SDK 1.x's way to fail: the same 403 twice, then it stops."""
    assert not outcome.completed
    assert outcome.error == "Streamable HTTP error: Server returned 403 after trying upscoping"
    assert outcome.challenges == [(401, BASELINE), (403, challenge), (403, challenge)]


def assert_one_step_up(outcome: Outcome, challenge: str) -> None:
    assert outcome.error is None
    assert outcome.completed
    assert outcome.challenges == [(401, BASELINE), (403, challenge)]
    assert outcome.step_ups == 1
    assert [set(t) for t in outcome.tokens] == [set(BASELINE.split()), set(UNION.split())]
    assert outcome.wrote == WROTE
    assert outcome.listed == [["get_employees"], ["get_employees", "update_employee_mood"]]


def test_the_default_is_auto() -> None:
    # Every expectation below is that of `auto`; if the default changes, so do they.
    assert DEFAULT_INCLUDE_TOKEN_SCOPES == "auto"


# -- the clients that step up by themselves ---------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("client", ["ts2", "py1", "py2"])
def test_client_steps_up_once(
    dev: tuple[AuthServer, dict[str, Server]], client: str, flow: Flow, transport: str
) -> None:
    outcome = run_on_dev(dev, client, flow, transport)
    # The Python SDK 2.x speaks 2026-07-28 and unions its scopes, so its challenge is the precise one; the
    # others speak 2025-11-25. The Python SDK 1.x replaces its scopes with the challenge's and re-lists the
    # tools after calling one it had not seen listed: with the token's scopes in the challenge, that costs
    # nothing more.
    version = "2026-07-28" if client == "py2" else "2025-11-25"
    assert outcome.protocol_versions == [version]
    assert_one_step_up(outcome, PRECISE if client == "py2" else UNION)


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("client", ["ts2", "py1", "py2"])
def test_client_steps_up_once_with_oidc_provider(oidc: tuple[AuthServer, Server], client: str, flow: Flow) -> None:
    kind = usable(client)
    auth, server = oidc
    outcome = run_client(kind, flow, auth, server)
    assert_one_step_up(outcome, PRECISE if client == "py2" else UNION)


# -- the TypeScript SDK 1.x: its bugs, asserted as they are -----------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_typescript_sdk_1_with_a_refresh_token_never_widens(
    dev: tuple[AuthServer, dict[str, Server]], transport: str
) -> None:
    # TypeScript SDK 1.x bug: holding a refresh token, it answers the 403 by refreshing without a scope
    # (so the same scopes come back), retries, meets the same challenge and gives up. No server setting helps.
    outcome = run_on_dev(dev, "ts1", "authorization_code", transport)
    assert_gives_up(outcome, UNION)
    assert outcome.step_ups == 0
    assert [set(t) for t in outcome.tokens] == [set(BASELINE.split())]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_typescript_sdk_1_without_refresh_tokens_steps_up_once(
    dev: tuple[AuthServer, dict[str, Server]], transport: str
) -> None:
    # The workaround: an authorization server that issues this client no refresh tokens makes it authorize
    # again, with the challenge's scope.
    assert_one_step_up(run_on_dev(dev, "ts1", "authorization_code", transport, refresh_tokens=False), UNION)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_typescript_sdk_1_client_credentials_ignores_challenges(
    dev: tuple[AuthServer, dict[str, Server]], transport: str
) -> None:
    # TypeScript SDK 1.x bug: its ClientCredentialsProvider asks for the scope it was configured with (here
    # none), never the challenge's. The development server then grants everything the client is registered
    # for, so the task completes with no step-up, holding more than it needs from the first request.
    outcome = run_on_dev(dev, "ts1", "client_credentials", transport)
    assert outcome.error is None
    assert outcome.completed
    assert outcome.challenges == [(401, BASELINE)]
    assert outcome.step_ups == 0
    assert [set(t) for t in outcome.tokens] == [set(UNION.split()) | {"schema:read"}]


def test_typescript_sdk_1_with_oidc_provider(oidc: tuple[AuthServer, Server]) -> None:
    kind = usable("ts1")
    auth, server = oidc

    # Client credentials: oidc-provider grants no scope to a request naming none, and the client never asks
    # for the challenge's, so it is refused from the start.
    outcome = run_client(kind, "client_credentials", auth, server)
    assert_gives_up(outcome, "mcp:connect")
    assert outcome.tokens == [()]

    # Authorization code, refresh tokens issued: the refresh without a scope never widens.
    outcome = run_client(kind, "authorization_code", auth, server)
    assert_gives_up(outcome, UNION)
    assert outcome.step_ups == 0

    # Authorization code, no refresh tokens for this client (oidc-provider's issueRefreshToken policy).
    assert_one_step_up(run_client(kind, "authorization_code", auth, server, refresh_tokens=False), UNION)

    # Client credentials, the provider configured with the scopes the whole task needs: no challenge to miss.
    outcome = run_client(kind, "client_credentials", auth, server, scope=UNION)
    assert outcome.completed
    assert outcome.challenges == [(401, BASELINE)]
    assert [set(t) for t in outcome.tokens] == [set(UNION.split())]


@pytest.fixture(scope="module")
def precise(dev: tuple[AuthServer, dict[str, Server]]) -> Iterator[Server]:
    """An employees server set to FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES=false (precise challenges)."""
    with employees_server(dev[0], include_token_scopes=False) as server:
        yield server


READ = "employees:read mcp:connect mcp:tools:call"
LIST = "mcp:connect mcp:tools:read"


@pytest.mark.parametrize("flow", FLOWS)
def test_precise_challenges_cost_the_python_sdk_1_a_step_up_per_operation(
    dev: tuple[AuthServer, dict[str, Server]], precise: Server, flow: Flow
) -> None:
    # Why `auto` is the default. The Python SDK 1.x replaces its scopes with the challenge's; challenged with
    # the operation's scopes alone, each step-up drops scopes the next operation needs. It also lists the tools
    # again after calling one it had not seen listed, which costs one more round per write.
    outcome = run_client(usable("py1"), flow, dev[0], precise)
    assert outcome.completed
    assert outcome.challenges == [
        (401, BASELINE),
        (403, PRECISE),
        (403, LIST),
        (403, READ),
        (403, PRECISE),
        (403, LIST),
    ]
    assert outcome.step_ups == 5


def test_precise_challenges_cost_the_typescript_sdk_1_a_step_up_per_operation(
    dev: tuple[AuthServer, dict[str, Server]], precise: Server
) -> None:
    # The TypeScript SDK 1.x replaces its scopes too (here without refresh tokens, so it can step up at all).
    outcome = run_client(usable("ts1"), "authorization_code", dev[0], precise, refresh_tokens=False)
    assert outcome.completed
    assert outcome.challenges == [(401, BASELINE), (403, PRECISE), (403, LIST), (403, READ), (403, PRECISE)]
    assert outcome.step_ups == 4


def test_the_demo_prints_one_table_and_succeeds() -> None:
    # `bash scripts/demo --clients`: every client, both flows, against the demo's own server (stateful, JSON).
    for key in CLIENTS:
        usable(key)
    done = subprocess.run(
        [sys.executable, "-m", "examples.employees", "--clients", "--no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    header, *lines = done.stdout.splitlines()[2:]
    at = [header.index(column) for column in ("flow", "step-ups", "outcome")]
    table = [(line[: at[0]].strip(), line[at[0] : at[1]].strip(), line[at[1] : at[2]].strip()) for line in lines]
    versions = {key: kinds()[key].version for key in CLIENTS}
    assert table == [
        (f"TypeScript SDK 1.x {versions['ts1']}", "client credentials", "0"),
        (f"TypeScript SDK 1.x {versions['ts1']}", "authorization code", "0"),
        (f"TypeScript SDK 1.x {versions['ts1']}", "authorization code, no refresh tokens", "1"),
        *[
            (f"{name} {versions[key]}", flow, "1")
            for key, name in (("ts2", "TypeScript SDK 2.x"), ("py1", "Python SDK 1.x"), ("py2", "Python SDK 2.x"))
            for flow in ("client credentials", "authorization code")
        ],
    ]
    assert "stopped: Server returned 403 after trying upscoping (client bug:" in done.stdout
    assert "FAILED" not in done.stdout


def test_the_demo_fails_when_a_client_that_should_complete_does_not() -> None:
    kind = ClientKind("ts2", "TypeScript SDK 2.x", "2.4.0", ("node", "driver.mjs"), None)
    stopped = Outcome(False, "Streamable HTTP error: Server returned 403 after trying upscoping", False, (), ())
    assert describe(Run(kind, "client_credentials"), stopped, None) == (
        "FAILED: Server returned 403 after trying upscoping",
        False,
    )
    known = Run(kind, "authorization_code", known_bug="refreshes without a scope")
    assert describe(known, stopped, None) == (
        "stopped: Server returned 403 after trying upscoping (client bug: refreshes without a scope)",
        True,
    )
    assert describe(known, None, "node is not installed") == ("not run: node is not installed", True)
