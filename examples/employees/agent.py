"""A scripted agent on the MCP SDK's own OAuth client, and the events it leaves behind.

Every HTTP exchange the client makes (MCP requests, the 401 and 403 challenges, the token requests
of each step-up) becomes an :class:`Event`; the demo prints them as a trace and the tests read them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx2
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client

from fastmcp_scopes import parse_www_authenticate
from fastmcp_scopes.testing import MemoryTokenStorage

MAX_REAUTHORIZATIONS = 3
"""More re-authorizations than this in one task is a loop: the task needs one scope beyond the baseline."""

PLAN: tuple[tuple[int, str], ...] = ((1, "HAPPY"), (2, "CALM"), (3, "CURIOUS"))
"""The agent's task: for each (employee, mood), look at the tools, read the employees, record the mood."""


@dataclass(frozen=True)
class Event:
    """One thing that happened: ``kind`` is request, response, token, result, loop or done."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


class LoopDetectedError(RuntimeError):
    """The client kept re-authorizing: it replaces its scopes, and the challenges name only the operation's."""


def token_scopes(token: str) -> list[str]:
    """The ``scope`` claim of a JWT access token, for display only (the server verifies; we just look)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return []
    scope = claims.get("scope", "")
    return sorted(scope.split()) if isinstance(scope, str) else []


class ReplacingScopesProvider(ClientCredentialsOAuthProvider):
    """The SDK's client-credentials provider made to *replace* its scopes on a 403, as the MCP Python
    SDK 1.x and TypeScript SDK 1.x clients do, instead of adding to them (SEP-2350)."""

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        flow = super()._auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            if response.status_code == 403:
                # Forget what was asked for and granted: the step-up then asks for the challenge alone.
                self.context.client_metadata.scope = None
                if self.context.current_tokens is not None:
                    self.context.current_tokens.scope = None
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return


class Recorder:
    """httpx event hooks that turn the client's traffic into events."""

    def __init__(self, mcp_url: str, token_endpoint: str, emit: Callable[[Event], None]) -> None:
        self.mcp_url = mcp_url
        self.token_endpoint = token_endpoint
        self.emit = emit
        self.scopes: list[str] = []
        self.tokens = 0

    async def on_request(self, request: httpx2.Request) -> None:
        url = str(request.url)
        if url == self.token_endpoint:
            asked = parse_qs(request.content.decode()).get("scope", [""])[0].split()
            self.emit(Event("token-request", {"scope": sorted(asked)}))
        elif url == self.mcp_url and request.method == "POST":
            message = json.loads(request.content or b"{}")
            if "id" not in message:
                return  # notifications are not part of the story
            params = message.get("params") or {}
            authorization = request.headers.get("authorization", "")
            token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
            self.emit(
                Event(
                    "request",
                    {
                        "method": message.get("method"),
                        "name": params.get("name"),
                        "token_scopes": token_scopes(token) if token else None,
                    },
                )
            )

    async def on_response(self, response: httpx2.Response) -> None:
        url = str(response.request.url)
        if url == self.token_endpoint:
            await response.aread()
            if response.status_code != 200:
                self.emit(Event("token-refused", {"status": response.status_code, "body": response.json()}))
                return
            granted = token_scopes(response.json().get("access_token", ""))
            gained = sorted(set(granted) - set(self.scopes))
            lost = sorted(set(self.scopes) - set(granted))
            self.tokens += 1
            self.emit(Event("token", {"scopes": granted, "gained": gained, "lost": lost, "step_up": self.tokens > 1}))
            self.scopes = granted
        elif url == self.mcp_url and response.request.method == "POST":
            message = json.loads(response.request.content or b"{}")
            if "id" not in message:
                return
            challenge = response.headers.get("www-authenticate")
            params = parse_www_authenticate(challenge) if challenge else {}
            self.emit(
                Event(
                    "response",
                    {"status": response.status_code, "error": params.get("error"), "scope": params.get("scope")},
                )
            )


async def run_agent(
    mcp_url: str,
    *,
    issuer: str,
    token_endpoint: str,
    client_id: str,
    client_secret: str,
    emit: Callable[[Event], None],
    replacing: bool = False,
) -> bool:
    """Run the task; ``True`` when it completed, ``False`` when it was stopped in a re-authorization loop."""
    provider_class = ReplacingScopesProvider if replacing else ClientCredentialsOAuthProvider
    provider = provider_class(
        server_url=mcp_url,
        storage=MemoryTokenStorage(),
        client_id=client_id,
        client_secret=client_secret,
        issuer=issuer,  # send the credentials to this authorization server only
    )
    recorder = Recorder(mcp_url, token_endpoint, emit)
    hooks = {"request": [recorder.on_request], "response": [recorder.on_response]}
    looped = False
    try:
        async with (
            httpx2.AsyncClient(auth=provider, event_hooks=hooks, timeout=30) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as client,
        ):
            await _work(client, recorder, emit)
    except* LoopDetectedError:
        looped = True
    if looped:
        emit(Event("loop", {"reauthorizations": recorder.tokens - 1}))
        emit(Event("done", {"completed": False}))
        return False
    emit(Event("done", {"completed": True, "reauthorizations": recorder.tokens - 1}))
    return True


async def _work(client: Client, recorder: Recorder, emit: Callable[[Event], None]) -> None:
    """The task itself, stopped by :class:`LoopDetectedError` once it re-authorizes too often."""

    def check() -> None:
        if recorder.tokens - 1 > MAX_REAUTHORIZATIONS:
            raise LoopDetectedError

    for employee_id, mood in PLAN:
        tools = await client.list_tools()
        emit(Event("result", {"tool": "tools/list", "text": ", ".join(t.name for t in tools.tools) or "(none)"}))
        check()
        employees = await client.call_tool("get_employees", {})
        emit(Event("result", {"tool": "get_employees", "text": _summary(employees.structured_content)}))
        check()
        updated = await client.call_tool("update_employee_mood", {"employeeID": employee_id, "mood": mood})
        emit(Event("result", {"tool": "update_employee_mood", "text": _summary(updated.structured_content)}))
        check()


def _summary(content: Any) -> str:
    data = content.get("result", content) if isinstance(content, dict) else content
    if isinstance(data, dict) and "employees" in data:
        return ", ".join(f"{e['name']} ({e['mood']})" for e in data["employees"])
    if isinstance(data, dict) and "updateEmployeeMood" in data:
        e = data["updateEmployeeMood"]
        return f"{e['name']} is now {e['mood']}"
    return json.dumps(data)[:100]
