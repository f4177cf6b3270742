"""The server lineages the benchmarks run on: how each builds a server, registers a tool, is driven in-process
and is served over streamable HTTP behind its own authentication, as a user of that lineage writes it.

``--server`` on ``decision.py`` and ``http.py`` picks one; without it, :func:`choose` takes the lineage the
running environment was built for: fastmcp when it is installed (it brings its own ``mcp`` along, whose
server class is then not what its users write), otherwise the MCP SDK of the installed major.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fastmcp_scopes import ScopeGuard
    from fastmcp_scopes.pipeline import Pipeline

NAMES = ("sdk1", "sdk2", "fastmcp3", "fastmcp4")


def _major(distribution: str) -> int | None:
    try:
        return int(metadata.version(distribution).split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


class InProcessClient(Protocol):
    """What the benchmarks do with a lineage's in-process client, whatever its own spelling."""

    async def call(self, name: str, arguments: dict[str, Any]) -> None: ...

    async def count_tools(self) -> int:
        """``tools/list``, bypassing any client-side response cache; the number of tools listed."""
        ...


@dataclass(frozen=True)
class Lineage:
    """One lineage of MCP server, as its users write servers."""

    name: str
    framework: str
    """The distribution whose version names the lineage (``mcp`` or ``fastmcp``)."""
    server_class: str
    available: Callable[[], bool]
    new: Callable[[str], Any]
    """A fresh server named so, without authentication."""
    modes: tuple[str, ...]
    """The in-process client's connection modes measured (2026-07-28 per-request era and handshake, or
    the handshake only)."""
    client: Callable[[Any, str], AbstractAsyncContextManager[InProcessClient]]
    """``(server, mode)``: the lineage's natural in-process client, connected."""
    http_app: Callable[[str, str, str, Callable[[Any], None]], Any]
    """``(base_url, issuer, jwks_uri, decorate)``: a stateless, JSON-answering streamable-HTTP app at
    ``<base_url>/mcp`` protected by the lineage's own token verification; ``decorate(server)`` registers
    the tools (and installs the guard, or not) before the app is built."""
    notes: tuple[str, ...] = ()
    """What this lineage cannot do that the benchmarks would otherwise measure."""

    def describe(self) -> str:
        text = f"{self.name} ({self.server_class}, {self.framework} {_version(self.framework)}"
        if self.framework != "mcp":
            text += f" on mcp {_version('mcp')}"
        return text + ")"


def add_tool(server: Any, handler: Callable[..., Any], name: str, description: str | None = None) -> None:
    """Register ``handler`` as tool ``name``: ``tool(name=..., description=...)`` is spelled alike on all four."""
    server.tool(name=name, description=description)(handler)


def _update_salary(employee: str = "", amount: int = 0) -> int:
    return amount


def salary_pipeline(lineage: Lineage, guard: ScopeGuard) -> Pipeline:
    """A fresh server of ``lineage`` with one tool, ``update_salary`` (``employees:write`` and
    ``payroll:approve``, or ``admin``), and ``guard``'s pipeline over the lineage's own registry: what the
    benchmarks of a pipeline decision time."""
    from fastmcp_scopes import requires_scopes
    from fastmcp_scopes.pipeline import Pipeline
    from fastmcp_scopes.policy import adapter_for

    server = lineage.new("bench")
    requirement = requires_scopes(any_of=[["employees:write", "payroll:approve"], ["admin"]])
    add_tool(server, requirement(_update_salary), "update_salary")
    return Pipeline(guard, adapter_for(server).registry(server))


async def per_await_us(fn: Callable[[], Awaitable[object]], seconds: float) -> float:
    """Microseconds per ``await fn()`` over at least ``seconds``."""
    count = 0
    start = time.perf_counter()
    while True:
        await fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / count * 1e6


# -- in-process clients ------------------------------------------------------------------------------


class _SDK2Client:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def call(self, name: str, arguments: dict[str, Any]) -> None:
        await self._client.call_tool(name, arguments)

    async def count_tools(self) -> int:
        return len((await self._client.list_tools(cache_mode="bypass")).tools)


@asynccontextmanager
async def _sdk2_client(server: Any, mode: str) -> AsyncIterator[InProcessClient]:
    from mcp import Client

    async with Client(server, mode=mode) as client:
        yield _SDK2Client(client)


class _SDK1Session:
    def __init__(self, session: Any) -> None:
        self._session = session

    async def call(self, name: str, arguments: dict[str, Any]) -> None:
        await self._session.call_tool(name, arguments)

    async def count_tools(self) -> int:
        return len((await self._session.list_tools()).tools)  # 1.x's ClientSession caches nothing


@asynccontextmanager
async def _sdk1_client(server: Any, mode: str) -> AsyncIterator[InProcessClient]:
    # mcp 1.x has no Client class: its in-memory ClientSession is what its users (and fastmcp_scopes.testing)
    # connect to the low-level server under FastMCP.
    from mcp.shared.memory import create_connected_server_and_client_session  # type: ignore[attr-defined,unused-ignore]

    async with create_connected_server_and_client_session(server._mcp_server) as session:
        yield _SDK1Session(session)


class _FastMCPClient:
    def __init__(self, client: Any, *, bypass_cache: bool) -> None:
        self._client = client
        self._bypass_cache = bypass_cache

    async def call(self, name: str, arguments: dict[str, Any]) -> None:
        await self._client.call_tool(name, arguments)

    async def count_tools(self) -> int:
        if self._bypass_cache:
            return len(await self._client.list_tools(cache_mode="bypass"))
        return len(await self._client.list_tools())  # fastmcp 3's client caches nothing


@asynccontextmanager
async def _fastmcp4_client(server: Any, mode: str) -> AsyncIterator[InProcessClient]:
    from fastmcp import Client

    async with Client(server, mode=mode) as client:
        yield _FastMCPClient(client, bypass_cache=True)


@asynccontextmanager
async def _fastmcp3_client(server: Any, mode: str) -> AsyncIterator[InProcessClient]:
    from fastmcp import Client

    async with Client(server) as client:
        yield _FastMCPClient(client, bypass_cache=False)


# -- servers ----------------------------------------------------------------------------------------


def _sdk2_new(name: str) -> Any:
    from mcp.server.mcpserver import MCPServer

    return MCPServer(name, log_level="WARNING")


def _sdk1_new(name: str) -> Any:
    from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined,unused-ignore]

    return FastMCP(name, log_level="WARNING")


def _fastmcp_new(name: str) -> Any:
    from fastmcp import FastMCP

    return FastMCP(name)


def _sdk_auth(base_url: str, issuer: str, jwks_uri: str) -> dict[str, Any]:
    """The SDK's own protection, on either major: ``AuthSettings`` and a ``token_verifier=``."""
    from mcp.server.auth.settings import AuthSettings
    from pydantic import AnyHttpUrl

    from fastmcp_scopes.tokens import JWTVerifier

    url = f"{base_url}/mcp"
    return {
        "auth": AuthSettings(
            issuer_url=AnyHttpUrl(issuer), resource_server_url=AnyHttpUrl(url), validate_token_resource=True
        ),
        "token_verifier": JWTVerifier(issuer=issuer, jwks_uri=jwks_uri, audience=url),
    }


def _sdk2_http_app(base_url: str, issuer: str, jwks_uri: str, decorate: Callable[[Any], None]) -> Any:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("employees", log_level="WARNING", **_sdk_auth(base_url, issuer, jwks_uri))
    decorate(server)
    return server.streamable_http_app(json_response=True, stateless_http=True)


def _sdk1_http_app(base_url: str, issuer: str, jwks_uri: str, decorate: Callable[[Any], None]) -> Any:
    from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined,unused-ignore]

    # 1.x takes the transport's options as settings, not as arguments of streamable_http_app().
    server = FastMCP(
        "employees",
        log_level="WARNING",
        json_response=True,
        stateless_http=True,
        **_sdk_auth(base_url, issuer, jwks_uri),
    )
    decorate(server)
    return server.streamable_http_app()


def _fastmcp_http_app(base_url: str, issuer: str, jwks_uri: str, decorate: Callable[[Any], None]) -> Any:
    from fastmcp import FastMCP
    from fastmcp.server.auth.providers.jwt import JWTVerifier

    url = f"{base_url}/mcp"
    verifier = JWTVerifier(jwks_uri=jwks_uri, issuer=issuer, audience=url, base_url=base_url, algorithm="RS256")
    server = FastMCP("employees", auth=verifier)
    decorate(server)
    return server.http_app(path="/mcp", json_response=True, stateless_http=True)


_HANDSHAKE_ONLY = "mcp 1.x speaks only the initialize handshake: no per-request (2026-07-28) mode to measure"

LINEAGES: dict[str, Lineage] = {
    lineage.name: lineage
    for lineage in (
        Lineage(
            name="sdk1",
            framework="mcp",
            server_class="mcp.server.fastmcp.FastMCP",
            available=lambda: _major("mcp") == 1,
            new=_sdk1_new,
            modes=("handshake",),
            client=_sdk1_client,
            http_app=_sdk1_http_app,
            notes=(
                _HANDSHAKE_ONLY,
                "mcp 1.x's ClientSession has no response cache: listings are never served from one",
            ),
        ),
        Lineage(
            name="sdk2",
            framework="mcp",
            server_class="mcp.server.mcpserver.MCPServer",
            available=lambda: _major("mcp") == 2,
            new=_sdk2_new,
            modes=("auto", "legacy"),
            client=_sdk2_client,
            http_app=_sdk2_http_app,
        ),
        Lineage(
            name="fastmcp3",
            framework="fastmcp",
            server_class="fastmcp.FastMCP",
            available=lambda: _major("fastmcp") == 3,
            new=_fastmcp_new,
            modes=("handshake",),
            client=_fastmcp3_client,
            http_app=_fastmcp_http_app,
            notes=(
                "fastmcp 3 runs on mcp 1.x: handshake only, no per-request (2026-07-28) mode to measure",
                "fastmcp 3's Client has no response cache: listings are never served from one",
            ),
        ),
        Lineage(
            name="fastmcp4",
            framework="fastmcp",
            server_class="fastmcp.FastMCP",
            available=lambda: _major("fastmcp") == 4,
            new=_fastmcp_new,
            modes=("auto", "legacy"),
            client=_fastmcp4_client,
            http_app=_fastmcp_http_app,
        ),
    )
}


def choose(name: str | None) -> Lineage:
    """The lineage named ``name`` (``--server``), or without one the lineage this environment was built for.

    Raises:
        SystemExit: the environment lacks that lineage (or has none), with what it has and how to get one.
    """
    present = [lineage for lineage in LINEAGES.values() if lineage.available()]
    if name is None:
        if present:
            return min(present, key=lambda item: item.framework != "fastmcp")  # fastmcp first
        raise SystemExit(
            "--server: this environment has no supported MCP server (mcp 1.x or 2.x, fastmcp 3 or 4); "
            "build one with: bash scripts/test --install"
        )
    if name not in LINEAGES:
        raise SystemExit(f"--server {name!r}: unknown lineage; choose one of {', '.join(NAMES)}")
    lineage = LINEAGES[name]
    if not lineage.available():
        have = ", ".join(item.name for item in present) or "none"
        raise SystemExit(
            f"--server {name}: this environment lacks it (mcp {_version('mcp')}, fastmcp {_version('fastmcp')}; "
            f"lineages here: {have}). Run it in that lineage's environment, e.g. "
            f"bash scripts/test --install {name} && .venvs/{name}/bin/python benchmarks/{Path(sys.argv[0]).name} "
            f"--server {name}"
        )
    return lineage
