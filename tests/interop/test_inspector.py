"""Interop with the MCP Inspector CLI (``@modelcontextprotocol/inspector --cli``): the employees server, a token
given on the command line.

The Inspector 2.x needs Node.js 22.19 or later, so ``tests/interop/inspector`` pins both: the Inspector and the
npm ``node`` package, which installs a Node.js 22 binary for this platform (``npm ci --prefix
tests/interop/inspector``, run by ``scripts/test``). The token comes from the development authorization server
over HTTP (client credentials, the demo's first scopes, the server as resource) and goes to the Inspector the way
it takes one, ``--header "Authorization: Bearer ..."``. With a token given that way the Inspector does no OAuth of
its own: it cannot step up, so each test asserts what it printed, its exit status and what the server saw (every
request and its status, recorded in front of the server), in both protocol eras the Inspector speaks (``legacy``,
its default for a URL on the command line: 2025-11-25; ``modern``: 2026-07-28).

Under the default settings (tools the token cannot call are hidden) the Inspector looks a tool up in the listing
before calling it, so a hidden tool is "not found" without any request for it: it never sees a challenge. With
``FASTMCP_SCOPES_HIDE_UNAUTHORIZED=false`` the listing shows every tool with its ``securitySchemes``, and calling
the write tool gets the 403 ``insufficient_scope`` challenge, whose scope the Inspector prints.

Like ``test_clients.py``, this runs in the sdk2 lane only (the demo's server is the MCP SDK 2.x ``MCPServer``); a
missing Inspector skips it, unless SCOPES_REQUIRE_INTEROP=1 (set by CI): then it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from examples.employees.clients import ROOT, AuthServer, Seen, Server, development_auth_server, employees_server
from tests.interop.demo import BASELINE, PRECISE, UNION, unavailable

pytestmark = pytest.mark.lineage("sdk2")

PACKAGES = ROOT / "tests" / "interop" / "inspector"
NODE = PACKAGES / "node_modules" / "node" / "bin" / "node"
"""The Node.js 22 binary the npm ``node`` package installed (the machine's own node may be older)."""
INSPECTOR = PACKAGES / "node_modules" / "@modelcontextprotocol" / "inspector"
LAUNCHER = INSPECTOR / "clients" / "launcher" / "build" / "index.js"
"""What the package's ``mcp-inspector`` command runs; started with ``NODE`` rather than the ``node`` on PATH."""

CHALLENGES = {"legacy": UNION, "modern": PRECISE}
WRITE = ["--tool-name", "update_employee_mood", "--tool-arg", "employeeID=1", "mood=HAPPY"]

ERAS = {  # --protocol-era: (the MCP-Protocol-Version it sends, the requests before the one asked for)
    "legacy": ("2025-11-25", ["initialize", "GET"]),
    "modern": ("2026-07-28", ["server/discover", "subscriptions/listen", "tools/list"]),
}
"""The Inspector's own requests before the one it was asked for: ``initialize`` and the stream it opens (GET) on
2025-11-25; ``server/discover``, ``subscriptions/listen`` and a listing of the tools on 2026-07-28. Before a call it
lists the tools (again) in both eras, to look the tool up."""


@dataclass(frozen=True)
class Answer:
    """One Inspector run: its exit status, what it printed (``--format json``) and what the server saw."""

    status: int
    result: Any  # the "result" of its stdout, or None
    error: Any  # the "error" of its stderr, or None
    seen: tuple[Seen, ...]

    @property
    def requests(self) -> list[tuple[str, int]]:
        return [(s.method, s.status) for s in self.seen]


def installed() -> None:
    if not NODE.exists() or not LAUNCHER.exists():
        unavailable("the MCP Inspector is not installed: run `npm ci --prefix tests/interop/inspector`")


@dataclass(frozen=True)
class Deployment:
    auth: AuthServer
    hidden: Server  # the library's defaults
    shown: Server  # FASTMCP_SCOPES_HIDE_UNAUTHORIZED=false
    home: Path  # the Inspector's HOME: it keeps a catalog and client settings under ~/.mcp-inspector


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    installed()
    with ExitStack() as stack:
        auth = stack.enter_context(development_auth_server())
        hidden = stack.enter_context(employees_server(auth))
        with pytest.MonkeyPatch.context() as env:
            # Set as an operator would; the guard reads its settings when the server is built.
            env.setenv("FASTMCP_SCOPES_HIDE_UNAUTHORIZED", "false")
            shown = stack.enter_context(employees_server(auth))
        yield Deployment(auth, hidden, shown, tmp_path_factory.mktemp("inspector-home"))


def token(auth: AuthServer, server: Server, scope: str) -> str:
    """An access token for ``server`` from the authorization server's token endpoint (client credentials)."""
    response = httpx2.post(
        f"{auth.issuer}/token",
        data={"grant_type": "client_credentials", "scope": scope, "resource": server.url},
        auth=(auth.client_id, auth.client_secret),
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def inspector(deployment: Deployment, server: Server, era: str, *args: str, scope: str = BASELINE) -> Answer:
    bearer = token(deployment.auth, server, scope)
    before = len(server.recording.seen)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "FASTMCP_SCOPES_", "MCP_"))}
    command = [str(NODE), str(LAUNCHER), "--cli", server.url, "--header", f"Authorization: Bearer {bearer}"]
    done = subprocess.run(
        [*command, "--protocol-era", era, "--format", "json", *args],
        cwd=PACKAGES,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "HOME": str(deployment.home)},
    )

    def part(text: str, key: str) -> Any:
        return json.loads(text)[key] if text.strip() else None

    return Answer(
        done.returncode, part(done.stdout, "result"), part(done.stderr, "error"), tuple(server.recording.seen[before:])
    )


def test_the_inspector_is_the_pinned_release() -> None:
    installed()
    assert json.loads((INSPECTOR / "package.json").read_text())["version"] == "2.12.0"
    done = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "v22.23.3"


# -- the defaults: tools the token cannot call are hidden -------------------------------------------


@pytest.mark.parametrize("era", ERAS)
def test_the_listing_shows_only_what_the_token_permits(deployment: Deployment, era: str) -> None:
    answer = inspector(deployment, deployment.hidden, era, "--method", "tools/list")
    version, opening = ERAS[era]
    assert answer.status == 0
    assert [tool["name"] for tool in answer.result["tools"]] == ["get_employees"]
    assert answer.requests == [(method, 200) for method in [*opening, "tools/list"]]
    assert {s.protocol_version for s in answer.seen if s.method != "initialize"} == {version}
    assert {s.token_scopes for s in answer.seen} == {tuple(BASELINE.split())}


@pytest.mark.parametrize("era", ERAS)
def test_a_hidden_tool_is_not_found_and_never_called(deployment: Deployment, era: str) -> None:
    # Inspector limitation: it looks the tool up in the listing and stops there (exit 5) when it is not listed,
    # so the server never receives the call and the Inspector never sees the challenge that names the scope.
    answer = inspector(deployment, deployment.hidden, era, "--method", "tools/call", *WRITE)
    assert answer.status == 5
    assert answer.result is None
    assert answer.error == {"code": "tool_not_found", "message": "Tool 'update_employee_mood' not found on server."}
    assert answer.requests == [(method, 200) for method in [*ERAS[era][1], "tools/list"]]

    # Hidden and missing are the same to it, byte for byte but the name.
    missing = inspector(deployment, deployment.hidden, era, "--method", "tools/call", "--tool-name", "no_such_tool")
    assert missing.status == answer.status
    assert json.dumps(missing.error) == json.dumps(answer.error).replace("update_employee_mood", "no_such_tool")
    assert missing.requests == answer.requests


# -- FASTMCP_SCOPES_HIDE_UNAUTHORIZED=false: the listing shows every tool and what it needs ---------


SCHEMES = {  # each tool's securitySchemes: the scopes one call needs (the per-tool security schemes draft)
    "get_employees": [{"type": "oauth2", "scopes": ["employees:read", "mcp:connect", "mcp:tools:call"]}],
    "update_employee_mood": [{"type": "oauth2", "scopes": ["employees:write", "mcp:connect", "mcp:tools:call"]}],
    "get_schema": [{"type": "oauth2", "scopes": ["mcp:connect", "mcp:tools:call", "schema:read"]}],
}
REQUIRES = {  # our own _meta key: the operation's scopes, any-of lists of all-of lists
    "get_employees": [["employees:read"]],
    "update_employee_mood": [["employees:read", "employees:write"]],
    "get_schema": [["schema:read"]],
}


@pytest.mark.parametrize("era", ERAS)
def test_the_listing_shows_every_tool_with_its_security_schemes(deployment: Deployment, era: str) -> None:
    answer = inspector(deployment, deployment.shown, era, "--method", "tools/list")
    assert answer.status == 0
    tools = {tool["name"]: tool["_meta"] for tool in answer.result["tools"]}
    assert {name: meta["securitySchemes"] for name, meta in tools.items()} == SCHEMES
    assert {name: meta["io.github.fastmcp-scopes/requires"] for name, meta in tools.items()} == REQUIRES
    assert answer.requests == [(method, 200) for method in [*ERAS[era][1], "tools/list"]]


@pytest.mark.parametrize("era", ERAS)
def test_calling_the_write_tool_meets_the_challenge(deployment: Deployment, era: str) -> None:
    # The call reaches the server, which answers 403 insufficient_scope. Inspector limitation: with a token from
    # the command line it cannot ask for another, so it prints the challenge's scope and exits 1; the user runs it
    # again with a token holding that scope too.
    answer = inspector(deployment, deployment.shown, era, "--method", "tools/call", *WRITE)
    version, opening = ERAS[era]
    challenge = CHALLENGES[era]
    assert answer.status == 1
    assert answer.result is None
    assert answer.error == {"code": "error", "message": f'Insufficient scope: required "{challenge}"'}
    assert answer.requests == [(method, 200) for method in [*opening, "tools/list"]] + [("tools/call", 403)]
    refused = answer.seen[-1]
    assert (refused.challenge, refused.protocol_version, refused.token_scopes) == (
        challenge,
        version,
        tuple(BASELINE.split()),
    )

    # With the scopes it held and the ones the challenge names, the same command writes.
    wider = " ".join(sorted(set(BASELINE.split()) | set(challenge.split())))
    answer = inspector(deployment, deployment.shown, era, "--method", "tools/call", *WRITE, scope=wider)
    assert answer.status == 0
    assert answer.result["isError"] is False
    assert answer.result["structuredContent"] == {"updateEmployeeMood": {"id": 1, "name": "Ada", "mood": "HAPPY"}}
    assert answer.requests[-1] == ("tools/call", 200)
    assert answer.seen[-1].token_scopes == tuple(UNION.split())
