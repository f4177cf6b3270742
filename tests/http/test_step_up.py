"""Scope step-up end to end: the SDK's own OAuth clients against a guarded server over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.exceptions import OAuthTokenError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from fastmcp_scopes import parse_www_authenticate
from fastmcp_scopes.testing import DevAuthorizationServer, HeadlessBrowser, MemoryTokenStorage

from .conftest import BASELINE, Deployment, Recorder, assert_the_exact_403, connect, deploy, granted
from .rpc import post_rpc, tool_call

MODES = ["legacy", "auto"]


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


@pytest.mark.spec("mcp/challenge-covers-operation")
@pytest.mark.parametrize("mode", MODES)
async def test_client_credentials_steps_up_one_operation_at_a_time(deployment: Deployment, mode: str) -> None:
    recorder = Recorder()
    async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, storage):
        assert granted(storage) == set(BASELINE)
        # The baseline token may list, but sees nothing it could not call.
        assert (await mcp.list_tools()).tools == []

        result = await mcp.call_tool("get_employees", {})
        assert result.is_error is False
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read"}

        result = await mcp.call_tool("update_employee_mood", {"employee_id": 1, "mood": "happy"})
        assert result.is_error is False
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read", "employees:write"}
        assert "employees:delete" not in granted(storage)
        assert {t.name for t in (await mcp.list_tools()).tools} == {"get_employees", "update_employee_mood"}

    challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
    scopes = [parse_www_authenticate(e.www_authenticate or "")["scope"] for e in challenges]
    if mode == "legacy":  # MCP 2025-11-25: by default (auto) the challenge names what the token holds too
        assert scopes == [
            "employees:read mcp:connect mcp:tools:call mcp:tools:read",
            "employees:read employees:write mcp:connect mcp:tools:call mcp:tools:read",
        ]
    else:  # MCP 2026-07-28: the client adds the challenge's scopes to its own (SEP-2350)
        assert scopes == ["employees:read mcp:connect mcp:tools:call", "employees:write mcp:connect mcp:tools:call"]
    assert deployment.calls == ["get_employees", "update_employee_mood"]


@pytest.mark.spec("mcp/no-reauthorization-loop")
@pytest.mark.parametrize("mode", MODES)
async def test_a_scope_the_authorization_server_refuses_ends_after_one_step_up(
    deployment: Deployment, mode: str
) -> None:
    recorder = Recorder()
    with pytest.raises(BaseException) as caught:  # the transport raises an ExceptionGroup
        async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, _storage):
            await mcp.call_tool("delete_employee", {"employee_id": 1})
    assert any(isinstance(e, OAuthTokenError) and "invalid_scope" in str(e) for e in leaves(caught.value))
    token_requests = [e for e in recorder.exchanges if e.url == deployment.auth_server.token_endpoint]
    challenges = [e for e in recorder.to(deployment.url) if e.status == 403]
    assert len(challenges) == 1
    assert len(token_requests) == 2  # the baseline token, then the one refused step-up: no loop
    assert token_requests[-1].status == 400
    assert deployment.calls == []


@pytest.mark.spec("rfc6750/insufficient-scope")
async def test_the_403_is_exact(deployment: Deployment) -> None:
    token = deployment.auth_server.issue_token(scopes=BASELINE, audience=deployment.url)
    async with httpx2.AsyncClient() as http:
        response = await post_rpc(http, deployment.url, tool_call("get_employees", id=7), token)
    assert_the_exact_403(response, deployment)


@pytest.mark.parametrize("mode", MODES)
async def test_authorization_code_client_steps_up_too(deployment: Deployment, mode: str) -> None:
    browser = HeadlessBrowser()
    storage = MemoryTokenStorage()
    provider = OAuthClientProvider(
        server_url=deployment.url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[AnyUrl("http://127.0.0.1:1/callback")], client_name="headless agent"
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    recorder = Recorder()
    async with (
        httpx2.AsyncClient(auth=provider, event_hooks={"response": [recorder]}, timeout=30) as http,
        Client(streamable_http_client(deployment.url, http_client=http), mode=mode) as mcp,
    ):
        # The first 401 names the baseline: that is all the agent starts with.
        assert granted(storage) == set(BASELINE)
        result = await mcp.call_tool("update_employee_mood", {"employee_id": 1, "mood": "calm"})
        assert result.is_error is False
        assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:write"}
    assert len(browser.authorize_urls) == 2  # the baseline authorization, and one step-up
    step_up = parse_qs(urlsplit(browser.authorize_urls[1]).query)
    assert set(step_up["scope"][0].split()) == {*BASELINE, "mcp:tools:call", "employees:write"}
    assert step_up["resource"] == [deployment.url]
    assert deployment.calls == ["update_employee_mood"]


@pytest.mark.spec("design/stateless")
@pytest.mark.parametrize("mode", MODES)
async def test_stateless_servers_step_up_the_same(auth_server: DevAuthorizationServer, mode: str) -> None:
    loopback, get = deploy(auth_server, stateless_http=True, json_response=True)
    async with loopback:
        deployment = get()
        recorder = Recorder()
        async with connect(deployment, " ".join(BASELINE), mode, recorder) as (mcp, storage):
            assert (await mcp.call_tool("get_employees", {})).is_error is False
            assert granted(storage) == {*BASELINE, "mcp:tools:call", "employees:read"}
        assert deployment.calls == ["get_employees"]
