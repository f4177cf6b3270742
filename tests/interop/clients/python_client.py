"""Test-only: the employees demo's task run by the MCP Python SDK's own client, 1.x or 2.x, whichever the
interpreter running this script has (the sdk1 lane's environment has mcp 1.30, the sdk2 lane's mcp 2.3).

    python python_client.py '{"url": ..., "flow": "client_credentials", "client_id": ..., "client_secret": ...,
                              "issuer": ...}'
    python python_client.py '{"url": ..., "flow": "authorization_code", "redirect_uri": ...}'

The SDK's OAuth provider does every step-up inside the HTTP client; the authorization-code flow's browser
follows the authorization server's redirects (it consents on its own) until they reach the redirect URI.
Prints one JSON line: ``{"completed": bool, "error": str | null, "loop": bool, "results": [[name, result], ...]}``.
It imports nothing from fastmcp-scopes, so that it runs in any environment holding an MCP SDK.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

SDK_MAJOR = int(version("mcp").split(".")[0])
if SDK_MAJOR >= 2:
    import httpx2 as httpx
else:
    import httpx  # type: ignore[no-redef]  # mcp 1.x is built on httpx

TASK: list[tuple[str, dict[str, Any]]] = [
    ("tools/list", {}),
    ("get_employees", {}),
    ("update_employee_mood", {"employeeID": 1, "mood": "HAPPY"}),
    ("tools/list", {}),
    ("get_employees", {}),
    ("update_employee_mood", {"employeeID": 2, "mood": "CALM"}),
]
"""The demo agent's task, twice round: look at the tools, read the employees, record a mood."""


class LoopError(RuntimeError):
    """More token requests than one task can need: the client keeps re-authorizing."""


class Storage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Browser:
    """Follows the authorization URL's redirects, with cookies, to the redirect URI, and keeps the code."""

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        self.result: tuple[str, str | None, str | None] | None = None

    async def redirect(self, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as http:
            for _ in range(10):
                if url.startswith(self.redirect_uri):
                    query = parse_qs(urlsplit(url).query)
                    if "error" in query:
                        raise RuntimeError(f"authorization refused: {query['error'][0]}")
                    self.result = (query["code"][0], query.get("state", [None])[0], query.get("iss", [None])[0])
                    return
                response = await http.get(url)
                location = response.headers.get("location")
                if not 300 <= response.status_code < 400 or location is None:
                    raise RuntimeError(f"the authorization server did not redirect (HTTP {response.status_code})")
                url = urljoin(url, location)
        raise RuntimeError("too many redirects")

    async def callback(self) -> Any:
        if self.result is None:
            raise RuntimeError("callback before any redirect")
        (code, state, iss), self.result = self.result, None
        if SDK_MAJOR < 2:
            return code, state
        from mcp.client.auth import AuthorizationCodeResult

        return AuthorizationCodeResult(code=code, state=state, iss=iss)


def provider_for(config: dict[str, Any]) -> OAuthClientProvider:
    if config["flow"] == "client_credentials":
        scope = {"scope" if SDK_MAJOR >= 2 else "scopes": config["scope"]} if config.get("scope") else {}
        return ClientCredentialsOAuthProvider(
            server_url=config["url"],
            storage=Storage(),
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            issuer=config["issuer"],
            **scope,
        )
    browser = Browser(config["redirect_uri"])
    metadata = OAuthClientMetadata(
        client_name=f"fastmcp-scopes interop (Python SDK {SDK_MAJOR}.x)",
        redirect_uris=[config["redirect_uri"]],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=config["url"],
        client_metadata=metadata,
        storage=Storage(),
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )


@asynccontextmanager
async def session(url: str, http: Any) -> AsyncIterator[Any]:
    """The SDK's client: ``mcp.Client`` on 2.x, a ``ClientSession`` initialized by hand on 1.x."""
    if SDK_MAJOR >= 2:
        from mcp import Client

        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client
        return
    from mcp import ClientSession

    async with streamable_http_client(url, http_client=http) as (read, write, _), ClientSession(read, write) as client:
        await client.initialize()
        yield client


async def run(config: dict[str, Any]) -> list[Any]:
    limit = int(config.get("max_token_requests", 6))
    token_requests = 0

    async def count(request: Any) -> None:
        nonlocal token_requests
        if request.url.path.endswith("/token"):
            token_requests += 1
            if token_requests > limit:
                raise LoopError(f"stopped after {limit} token requests: a re-authorization loop")

    results: list[Any] = []
    provider = provider_for(config)
    async with (
        httpx.AsyncClient(auth=provider, event_hooks={"request": [count]}, timeout=30) as http,
        session(config["url"], http) as client,
    ):
        for name, arguments in TASK:
            if name == "tools/list":
                listed = await client.list_tools()
                results.append([name, [tool.name for tool in listed.tools]])
                continue
            result = await client.call_tool(name, arguments)
            failed = result.is_error if SDK_MAJOR >= 2 else result.isError
            if failed:
                raise RuntimeError(f"{name} failed: {result.content}")
            structured = result.structured_content if SDK_MAJOR >= 2 else result.structuredContent
            results.append([name, structured])
    return results


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def main() -> None:
    config = json.loads(sys.argv[1])
    try:
        results = anyio.run(run, config)
    except BaseException as error:  # the transport wraps what went wrong in exception groups
        found = leaves(error)
        loop = any(isinstance(e, LoopError) for e in found)
        message = "; ".join(f"{type(e).__name__}: {e}" for e in found)
        print(json.dumps({"completed": False, "error": message, "loop": loop, "results": []}), flush=True)
        return
    print(json.dumps({"completed": True, "error": None, "loop": False, "results": results}), flush=True)


if __name__ == "__main__":
    main()
