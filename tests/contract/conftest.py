"""The contract suite's harness: every test runs on each server lineage this environment has
(:mod:`.kinds`), in-process (the SDK's ``mcp.Client`` as a caller holding given scopes) and, where
the test asks for it, over real HTTP (uvicorn on 127.0.0.1, JWTs from the development authorization
server, raw JSON-RPC POSTs so the whole answer can be compared).

A test builds a server with the lineage's own decorators, then ``guarded = await install(server,
**guard_options)`` and asks ``await guarded.ask(scopes, method, params)``: the same :class:`Answer`
shape on both transports."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import mcp.types as types
import pytest
from mcp.shared import exceptions as _exceptions
from pydantic import TypeAdapter

from fastmcp_scopes import ScopeGuard, public, requires_scopes
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, scoped_client

from ..adapters.hr import add_hr_primitives, leaves, scopes_of_table
from .kinds import KINDS, ServerKind

SDK_MAJOR = int(metadata.version("mcp").split(".")[0])
MCPError: type[Exception] = getattr(_exceptions, "MCPError", None) or _exceptions.McpError  # mcp 1.x's name
"""The exception the SDK's client raises for a JSON-RPC error answer (``.error`` is the error)."""

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
TRANSPORTS = ["in-process", "http"]
ALL_TRANSPORTS = ["in-process", "in-process-legacy", "http"]
"""``in-process-legacy``: the SDK client in its handshake-era ("legacy") connection mode."""


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def server_kind(request: pytest.FixtureRequest) -> ServerKind:
    kind: ServerKind = request.param
    return kind


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def dev_auth() -> Iterator[DevAuthorizationServer]:
    """One development authorization server for the whole run: tokens are minted directly, for any scopes."""
    with DevAuthorizationServer(scopes=["mcp:connect"]) as server:
        yield server


@dataclass
class Answer:
    """What a caller received: the HTTP status and headers (``None``/empty in-process) and the JSON-RPC
    answer without ``jsonrpc`` and ``id`` (``{"error": {...}}`` or ``{"result": {...}}``; over HTTP, a body
    that is not JSON-RPC as it came)."""

    status: int | None
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes = b""

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.body.get("error")
        return error if isinstance(error, dict) else None

    @property
    def result(self) -> dict[str, Any] | None:
        result = self.body.get("result")
        return result if isinstance(result, dict) else None

    @property
    def challenge(self) -> str | None:
        return self.headers.get("www-authenticate")

    def whole(self, name: str = "", as_: str = "NAME") -> str:
        """Everything a caller can tell apart, as one string, with ``name`` written as ``as_`` (so the
        answers for two names compare whole)."""
        text = self.raw.decode() if self.raw else json.dumps(self.body, sort_keys=True)
        if name:
            # The name as sent, as JSON escapes it, and as a server that percent-encodes a URI quotes it.
            for spelling in (name, json.dumps(name)[1:-1], quote(name, safe=":/")):
                text = text.replace(spelling, as_)
        headers = {k: v for k, v in sorted(self.headers.items()) if k in _HEADERS_THAT_MATTER}
        return f"{self.status} {headers} {text}"


_HEADERS_THAT_MATTER = ("content-type", "www-authenticate", "mcp-session-id", "allow")


@dataclass
class Guarded:
    """A guarded server and a way to ask it things as a caller holding given scopes."""

    kind: ServerKind
    server: Any
    transport: str
    auth: DevAuthorizationServer
    url: str = ""
    http: httpx2.AsyncClient | None = None
    base: str = ""
    ran: list[str] = field(default_factory=list)
    report: Any = None
    """What ``install()`` returned."""

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/.well-known/oauth-protected-resource/mcp"

    def token(self, scopes: list[str], **claims: Any) -> str:
        return self.auth.issue_token(scopes=scopes, audience=self.url, **claims)

    async def ask(
        self,
        scopes: list[str] | None,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        protocol_version: str | None = None,
        headers: Mapping[str, str] | None = None,
        mode: str | None = None,
        id: int = 1,
        **token_claims: Any,
    ) -> Answer:
        """Send one request as a caller holding ``scopes`` (``None``: no token at all) and return what came
        back. In-process, a connection the server refuses answers with the refusal that ended it."""
        if self.transport == "http":
            token = None if scopes is None else self.token(scopes, **token_claims)
            return await self.post(token, method, params, protocol_version=protocol_version, headers=headers, id=id)
        mode = mode or ("legacy" if self.transport == "in-process-legacy" else "auto")
        try:
            if scopes is None:
                async with unauthenticated_client(self.kind.in_process_target(self.server), mode) as client:
                    return await in_process(client, method, dict(params or {}))
            async with scoped_client(self.server, scopes, mode=mode, **token_claims) as client:
                return await in_process(client, method, dict(params or {}))
        except BaseException as failure:  # the connection itself refused (a group on mcp 2.x)
            refusals = [e for e in leaves(failure) if isinstance(e, MCPError)]
            if not refusals or isinstance(failure, KeyboardInterrupt):
                raise
            return Answer(None, {}, {"error": error_of(refusals[-1])})

    async def post(
        self,
        token: str | None,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        protocol_version: str | None = None,
        headers: Mapping[str, str] | None = None,
        id: int | None = 1,
    ) -> Answer:
        """POST one JSON-RPC message (a notification when ``id`` is ``None``) with ``token`` as the bearer."""
        version = protocol_version or HANDSHAKE
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if id is not None:
            message["id"] = id
        sent = dict(params or {})
        extra: dict[str, str] = {}
        if version == MODERN:
            sent["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                **sent.get("_meta", {}),
            }
            extra["mcp-method"] = method
            named = sent.get("name") or sent.get("uri")
            if isinstance(named, str):
                extra["mcp-name"] = named
        if sent or params is not None:
            message["params"] = sent
        return await self.send("POST", token, json.dumps(message).encode(), {**extra, **(headers or {})}, version)

    async def send(
        self,
        verb: str,
        token: str | None,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
        protocol_version: str = HANDSHAKE,
    ) -> Answer:
        """Any HTTP request to the MCP endpoint, answered whole."""
        assert self.http is not None, "only over HTTP"
        sent = request_headers(token, protocol_version)
        response = await self.http.request(verb, self.url, content=content, headers={**sent, **(headers or {})})
        return http_answer(response)


def request_headers(token: str | None, protocol_version: str = HANDSHAKE) -> dict[str, str]:
    """The headers a streamable-HTTP client sends with every request, with ``token`` (``None``: none) as the bearer."""
    sent = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": protocol_version,
    }
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    return sent


def http_answer(response: httpx2.Response) -> Answer:
    raw = response.content
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"text": raw.decode(errors="replace")}
    body = {k: v for k, v in parsed.items() if k not in ("jsonrpc", "id")} if isinstance(parsed, dict) else {}
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Answer(response.status_code, headers, body, raw)


def error_of(error: BaseException) -> dict[str, Any]:
    data: Any = error.error  # type: ignore[attr-defined]
    dumped: dict[str, Any] = data.model_dump(mode="json", exclude_none=True)
    return dumped


def unauthenticated_client(target: Any, mode: str) -> Any:
    """The SDK's in-process client for ``target`` with no token at all."""
    if SDK_MAJOR >= 2:
        from mcp import Client

        return Client(target, mode=mode)
    from mcp.shared.memory import create_connected_server_and_client_session

    return create_connected_server_and_client_session(target)


async def in_process(client: Any, method: str, params: dict[str, Any]) -> Answer:
    """``method`` through the SDK client's own typed call for it (so the client stamps it as it would)."""
    try:
        result = await _call(client, method, params)
    except MCPError as error:
        return Answer(None, {}, {"error": error_of(error)})
    dumped = result if isinstance(result, dict) else result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Answer(None, {}, {"result": dumped})


async def _call(client: Any, method: str, params: dict[str, Any]) -> Any:
    if method == "tools/call":
        meta = {"meta": params["_meta"]} if "_meta" in params else {}
        return await client.call_tool(params["name"], params.get("arguments") or {}, **meta)
    if method == "ping":
        return await client.send_ping()
    if method == "prompts/get":
        return await client.get_prompt(params["name"], params.get("arguments"))
    if method == "resources/read":
        return await client.read_resource(params["uri"])
    if method == "completion/complete":
        return await client.complete(params["ref"], params["argument"], (params.get("context") or {}).get("arguments"))
    listings = {
        "tools/list": client.list_tools,
        "prompts/list": client.list_prompts,
        "resources/list": client.list_resources,
        "resources/templates/list": client.list_resource_templates,
    }
    if method in listings:
        return await listings[method]()
    if method in ("resources/subscribe", "resources/unsubscribe"):
        call = client.subscribe_resource if method == "resources/subscribe" else client.unsubscribe_resource
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated for 2026-07-28, still what a 2025 client sends
            return await call(params["uri"])
    if SDK_MAJOR < 2:
        pytest.skip(f"mcp 1.x's client sends only the methods it knows, not {method}")
    request = types.Request[Any, Any](method=method, params=params or None)
    return await client.session.send_request(request, TypeAdapter(dict[str, Any]))


Install = Callable[..., Awaitable[Guarded]]


async def serve(stack: AsyncExitStack, factory: Callable[[str], Any]) -> str:
    """Serve ``factory(base)`` on loopback until ``stack`` closes; return ``base``.

    Stopping is left to a background thread: uvicorn notices it should stop on its next tick, and
    waiting for that after every test would be most of the suite's time. The test is over by then."""
    loopback = LoopbackServer(app_factory=factory, lifespan="on")
    base = await anyio.to_thread.run_sync(loopback.start)
    stack.callback(lambda: threading.Thread(target=loopback.stop, daemon=True, name="loopback-stop").start())
    return base


@pytest.fixture
async def install(server_kind: ServerKind, transport: str, dev_auth: DevAuthorizationServer) -> AsyncIterator[Install]:
    """``await install(server, **guard_options)``: guard ``server`` (a server of ``server_kind``) and serve it
    on ``transport`` (over HTTP: stateless, JSON responses, unless ``json_response``/``stateless_http`` say
    otherwise)."""
    async with AsyncExitStack() as stack:

        async def install_(
            server: Any, *, json_response: bool = True, stateless_http: bool = True, **options: Any
        ) -> Guarded:
            # The suite compares challenges as computed for the operation; which are unioned with the token's
            # scopes in which protocol era (the default, auto) is test_challenge_modes.py's subject.
            options.setdefault("scope_challenge_include_token_scopes", False)
            if transport != "http":
                report = ScopeGuard(**options).install(server)
                return Guarded(server_kind, server, transport, dev_auth, report=report)
            reports: list[Any] = []

            def factory(base: str) -> Any:
                guard = ScopeGuard(
                    issuer=dev_auth.issuer, jwks_uri=dev_auth.jwks_uri, resource_url=f"{base}/mcp", **options
                )
                reports.append(guard.install(server))
                return server_kind.http_app(server, json_response, stateless_http)

            base = await serve(stack, factory)
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
            return Guarded(server_kind, server, transport, dev_auth, f"{base}/mcp", http, base, report=reports[0])

        yield install_


INSUFFICIENT_SCOPE = -32003


def assert_refused_like(answer: Answer, like: Answer) -> None:
    """``answer`` is the very refusal ``like`` is: same HTTP status and challenge, same JSON-RPC error."""
    assert like.error is not None and like.error["code"] == INSUFFICIENT_SCOPE, like.whole()
    assert (answer.status, answer.challenge, answer.error) == (like.status, like.challenge, like.error)


def succeeded(answer: Answer) -> bool:
    """Whether the request reached a handler that answered normally (a result that is not an error)."""
    return answer.result is not None and answer.result.get("isError") is not True


def skip_unless(condition: object, reason: str) -> None:
    if not condition:
        pytest.skip(reason)


def hr(kind: ServerKind, ran: list[str] | None = None, server: Any = None) -> Any:
    """The HR server of ``tests/adapters/hr.py`` on a server of ``kind``, with a ``query`` tool whose
    requirement is computed from its arguments (``db:query`` and ``<table>:read``)."""
    ran = [] if ran is None else ran
    server = kind.new("hr") if server is None else server
    add_hr_primitives(server, ran)

    @server.tool()
    @requires_scopes("db:query", per_call=scopes_of_table)
    def query(table: str) -> str:
        ran.append(f"query {table}")
        return table

    return server


def dashboard(kind: ServerKind, ran: list[str], *, public_status: bool = False) -> Any:
    """A server of ``kind`` with the app provider "Dashboard" added, whose tools are reached by their listed and
    their hashed names: ``purge`` needs ``admin:purge``; with ``public_status`` a public ``status`` comes first.
    Skips a lineage without hashed tool names."""
    skip_unless(kind.hashed_name, f"{kind.name} has no hashed tool names")
    assert kind.app_provider is not None and kind.add_provider is not None
    app = kind.app_provider("Dashboard")
    if public_status:

        @app.tool()
        @public
        def status() -> str:
            ran.append("status")
            return "ok"

    @app.tool()
    @requires_scopes("admin:purge")
    def purge() -> str:
        ran.append("purge")
        return "purged"

    server = kind.new("platform")
    kind.add_provider(server, app)
    return server


LISTINGS = {
    "tools": ("tools/list", "tools", "name"),
    "prompts": ("prompts/list", "prompts", "name"),
    "resources": ("resources/list", "resources", "uri"),
    "templates": ("resources/templates/list", "resourceTemplates", "uriTemplate"),
}


async def listing(guarded: Guarded, scopes: list[str] | None, *kinds: str) -> dict[str, list[str]]:
    """The names each listing shows a caller holding ``scopes`` (every kind unless ``kinds`` says)."""
    shown: dict[str, list[str]] = {}
    for kind in kinds or tuple(LISTINGS):
        method, key, field_name = LISTINGS[kind]
        answer = await guarded.ask(scopes, method)
        assert answer.result is not None, answer.whole()
        shown[kind] = [str(item[field_name]) for item in answer.result[key]]
    return shown


def refusal_of(answer: Answer) -> dict[str, Any]:
    """The refusal's JSON-RPC error, checked to be one on this transport (403 over HTTP)."""
    assert answer.error is not None, answer.whole()
    if answer.status is not None and answer.error.get("code") == INSUFFICIENT_SCOPE:
        assert answer.status == 403, answer.whole()
    return answer.error


every_transport = pytest.mark.parametrize("transport", ALL_TRANSPORTS, indirect=True)
"""Run on both in-process connection modes and over HTTP."""
in_process_only = pytest.mark.parametrize("transport", ["in-process"], indirect=True)
http_only = pytest.mark.parametrize("transport", ["http"], indirect=True)
