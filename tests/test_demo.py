"""The employees demo, headless: the story asserted from its structured events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client

from examples.employees.__main__ import demo
from examples.employees.agent import MAX_REAUTHORIZATIONS, Event
from fastmcp_scopes.testing import MemoryTokenStorage

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ["employees:read", "mcp:connect", "mcp:tools:call", "mcp:tools:read"]


async def run(*, replacing: bool) -> tuple[bool, list[Event]]:
    events: list[Event] = []
    completed = await demo(replacing=replacing, emit=events.append)
    return completed, events


def of(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.kind == kind]


async def test_the_agent_starts_minimal_and_steps_up_once_to_exactly_write() -> None:
    completed, events = await run(replacing=False)

    assert completed
    tokens = of(events, "token")
    assert [t["scopes"] for t in tokens] == [BASELINE, sorted([*BASELINE, "employees:write"])]
    assert [t["gained"] for t in tokens[1:]] == [["employees:write"]]
    challenges = [e for e in of(events, "response") if e["status"] == 403]
    assert [(c["error"], c["scope"]) for c in challenges] == [
        ("insufficient_scope", "employees:write mcp:connect mcp:tools:call")
    ]
    first = of(events, "response")[0]
    assert (first["status"], first["scope"]) == (401, " ".join(BASELINE))
    results = [e["text"] for e in of(events, "result") if e["tool"] == "update_employee_mood"]
    assert results == ["Ada is now HAPPY", "Grace is now CALM", "Linus is now CURIOUS"]


async def test_a_replacing_client_loops_and_is_stopped() -> None:
    completed, events = await run(replacing=True)

    assert not completed
    [loop] = of(events, "loop")
    assert loop["reauthorizations"] == MAX_REAUTHORIZATIONS + 1
    lost = [t["lost"] for t in of(events, "token") if t["step_up"]]
    assert len(lost) == loop["reauthorizations"]
    assert all(lost), "every re-authorization dropped a scope it had"


async def test_including_token_scopes_ends_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES", "true")
    completed, events = await run(replacing=True)

    assert completed
    assert [t["step_up"] for t in of(events, "token")] == [False, True]
    [challenge] = [e for e in of(events, "response") if e["status"] == 403]
    assert challenge["scope"] == " ".join(sorted([*BASELINE, "employees:write"]))


def demo_process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args, "--no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FASTMCP_SCOPES_")}, **env},
    )


INCLUDE = {"FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES": "true"}
MODES = {
    # mode: (command, environment, whether the story succeeds)
    "replacing": (["examples.employees", "--replacing"], {}, False),
    "replacing, token scopes included": (["examples.employees", "--replacing"], INCLUDE, True),
    "lineage": (["examples.employees.lineages", "--server", "sdk2", "--server-python", sys.executable], {}, True),
    "lineage, replacing": (
        ["examples.employees.lineages", "--server", "sdk2", "--server-python", sys.executable, "--replacing"],
        {},
        False,
    ),
}


@pytest.mark.parametrize("mode", MODES)
def test_the_exit_status_says_whether_the_story_succeeded(mode: str) -> None:
    command, env, succeeds = MODES[mode]

    done = demo_process(*command, **env)

    assert "Traceback" not in done.stderr
    assert ("Done: the task completed" in done.stdout) is succeeds, done.stdout
    assert ("stopped after" in done.stdout) is not succeeds, done.stdout
    assert done.returncode == (0 if succeeds else 1), done.stdout + done.stderr


def test_the_readme_command_prints_the_trace() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "examples.employees", "--no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "403     tools/call update_employee_mood" in done.stdout
    assert "step-up token now" in done.stdout
    assert "Done: the task completed with 1 step-up." in done.stdout
    assert "\033[" not in done.stdout


async def test_serve_keeps_the_servers_up_for_another_client() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.employees", "--serve"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        while "grantable scopes" not in lines:
            line = process.stdout.readline()
            assert line, "--serve exited early"
            label, _, value = line.strip().rpartition("  ")
            lines[label.strip()] = value.strip()
        provider = ClientCredentialsOAuthProvider(
            server_url=lines["MCP server"],
            storage=MemoryTokenStorage(),
            client_id=lines["client id"],
            client_secret=lines["client secret"],
            issuer=lines["authorization server"],
        )
        async with (
            httpx2.AsyncClient(auth=provider, timeout=30) as http,
            Client(streamable_http_client(lines["MCP server"], http_client=http)) as client,
        ):
            result = await client.call_tool("get_employees", {})
        assert result.is_error is False
        assert "Ada" in str(result.structured_content)

        # What the printed lines promise, by hand as another client (or curl) would do it.
        assert lines["resource"] == lines["MCP server"]
        credentials = (lines["client id"], lines["client secret"])
        form = {"grant_type": "client_credentials", "scope": " ".join(BASELINE)}
        async with httpx2.AsyncClient(timeout=30) as http:
            without = await http.post(lines["token endpoint"], data=form, auth=credentials)
            issued = await http.post(
                lines["token endpoint"], data={**form, "resource": lines["resource"]}, auth=credentials
            )
            keys = (await http.get(lines["JWKS URI"])).json()
        assert (without.status_code, without.json()["error"]) == (400, "invalid_target")
        token = issued.json()["access_token"]
        key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=lines["resource"])
        assert claims["iss"] == lines["authorization server"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
