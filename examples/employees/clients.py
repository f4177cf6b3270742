"""The employees story with real MCP clients: ``bash scripts/demo --clients``.

Each installed client (the TypeScript SDK 1.x and 2.x from npm, the Python SDK 1.x and 2.x) runs the demo's task
(list the tools, read the employees, record a mood; twice) in its own process, with its own OAuth support, in the
client-credentials flow and in the authorization-code flow (PKCE, dynamic client registration), against the
employees server under the library's default settings. What the server saw is recorded by an ASGI wrapper in
front of it (the challenges it sent, the tokens it was shown); the client reports only how its task ended.
One table comes out: client, flow, step-ups, outcome. ``tests/interop/test_clients.py`` runs the same clients
across both authorization servers, both session modes and both response formats, and asserts every challenge.

    python -m examples.employees.clients [--no-color]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.employees.agent import token_scopes
from examples.employees.server import GRANTABLE, build_app, guard_for
from fastmcp_scopes import parse_www_authenticate
from fastmcp_scopes.settings import ScopesSettings
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ROOT / "tests" / "interop" / "clients"
NODE_MODULES = DRIVERS / "node_modules"
REDIRECT_URI = "http://127.0.0.1:1/callback"
"""Never served: the scripted browsers stop at the redirect that points here and read the code from it."""

Flow = Literal["client_credentials", "authorization_code"]
FLOWS: tuple[Flow, ...] = ("client_credentials", "authorization_code")
DEFAULT_INCLUDE_TOKEN_SCOPES = ScopesSettings.model_fields["scope_challenge_include_token_scopes"].default
"""What ``FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES`` is when nobody sets it (the demo's own
``demo.env`` sets it; these runs do not, so that they show what a user gets by default)."""


# -- what the server saw ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request to the MCP endpoint, as the server answered it."""

    method: str  # the JSON-RPC method, or the HTTP method for a request without one (GET, DELETE)
    status: int
    challenge: str | None  # the scope parameter of WWW-Authenticate, on a 401 or 403
    token_scopes: tuple[str, ...] | None  # the scopes of the bearer token presented (None: no token)
    protocol_version: str | None  # the MCP-Protocol-Version header


class Recording:
    """ASGI wrapper in front of the MCP server app: every request to ``path`` and the answer's status and
    challenge, in order. Only what went over the wire; the guard and the server are not touched."""

    def __init__(self, app: ASGIApp, path: str = "/mcp") -> None:
        self.app = app
        self.path = path
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._record(scope["method"], headers, bytes(body), message)
            await send(message)

        await self.app(scope, receiving, sending)

    def _record(self, verb: str, headers: dict[str, str], body: bytes, start: Message) -> None:
        method = verb
        if body:
            try:
                message = json.loads(body)
            except ValueError:
                message = None
            if isinstance(message, dict) and "id" not in message:
                return  # notifications are not part of the story
            if isinstance(message, dict) and isinstance(message.get("method"), str):
                method = message["method"]
        answer = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
        challenge = answer.get("www-authenticate")
        scheme, _, raw = headers.get("authorization", "").partition(" ")
        self.seen.append(
            Seen(
                method=method,
                status=start["status"],
                challenge=parse_www_authenticate(challenge).get("scope") if challenge else None,
                token_scopes=tuple(token_scopes(raw)) if scheme.lower() == "bearer" else None,
                protocol_version=headers.get("mcp-protocol-version"),
            )
        )


# -- the deployments --------------------------------------------------------------------------------


@dataclass
class Server:
    """One employees server on loopback, with what it has seen."""

    url: str
    recording: Recording


@dataclass
class AuthServer:
    """What a client needs to know about an authorization server, and the switch for refresh tokens."""

    name: str
    issuer: str
    jwks_uri: str
    client_id: str  # the client-credentials client
    client_secret: str
    set_refresh_tokens: Callable[[bool], None] = field(repr=False)


def employees_app(
    auth: AuthServer, base: str, *, json_response: bool, stateless: bool, include_token_scopes: bool | str | None = None
) -> Recording:
    """The demo's server (its tools, schema and ``demo.env``) under the default challenge setting, or under
    ``include_token_scopes`` when given."""
    guard = guard_for(
        issuer=auth.issuer,
        jwks_uri=auth.jwks_uri,
        resource_url=f"{base}/mcp",
        scope_challenge_include_token_scopes=(
            DEFAULT_INCLUDE_TOKEN_SCOPES if include_token_scopes is None else include_token_scopes
        ),
    )
    server, _ = build_app(guard)
    return Recording(server.streamable_http_app(json_response=json_response, stateless_http=stateless))


@contextmanager
def employees_server(
    auth: AuthServer,
    *,
    json_response: bool = True,
    stateless: bool = False,
    include_token_scopes: bool | str | None = None,
) -> Iterator[Server]:
    holder: dict[str, Recording] = {}

    def factory(base: str) -> ASGIApp:
        holder["app"] = employees_app(
            auth, base, json_response=json_response, stateless=stateless, include_token_scopes=include_token_scopes
        )
        return holder["app"]

    with LoopbackServer(app_factory=factory, lifespan="on") as base:
        yield Server(f"{base}/mcp", holder["app"])


@contextmanager
def development_auth_server() -> Iterator[AuthServer]:
    """fastmcp-scopes' development authorization server: dynamic registration, PKCE S256, consent on its own."""
    with DevAuthorizationServer(scopes=GRANTABLE) as dev:
        client = dev.register_client(scopes=GRANTABLE)

        def set_refresh_tokens(on: bool) -> None:
            dev.issue_refresh_tokens = on

        yield AuthServer(
            "development", dev.issuer, dev.jwks_uri, client.client_id, client.client_secret or "", set_refresh_tokens
        )


OIDC_CLIENT_ID = "interop-client"
OIDC_CLIENT_SECRET = "interop-secret-0123456789abcdef0123456789"
NO_REFRESH_TOKENS_FOR = "TypeScript SDK 1.x"
"""The client name (as the TypeScript driver registers it) that oidc-provider gives no refresh tokens, when
asked to: a per-client policy, as a real authorization server would configure it."""


def _withhold_refresh_tokens(issuer: str, client_name: str) -> None:
    response = httpx2.post(f"{issuer}/test/no-refresh-tokens-for", content=client_name, timeout=30)
    response.raise_for_status()


@contextmanager
def oidc_deployment(*, json_response: bool = True, stateless: bool = False) -> Iterator[tuple[AuthServer, Server]]:
    """``oidc-provider`` (npm) and an employees server trusting it. The provider starts first, inside the
    server's app factory: it must know the server's URL (its one resource indicator, so ``aud``)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    holder: dict[str, Any] = {}
    stack = ExitStack()

    def factory(base: str) -> ASGIApp:
        process = stack.enter_context(
            subprocess.Popen(
                [node, str(DRIVERS / "oidc_server.mjs")],
                cwd=DRIVERS,
                env={
                    **os.environ,
                    "RESOURCE": f"{base}/mcp",
                    "SCOPES": " ".join(GRANTABLE),
                    "CLIENT_ID": OIDC_CLIENT_ID,
                    "CLIENT_SECRET": OIDC_CLIENT_SECRET,
                },
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        stack.callback(process.terminate)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("oidc-provider did not start")
        issuer = json.loads(line)["issuer"]
        discovery = httpx2.get(f"{issuer}/.well-known/openid-configuration", timeout=30).json()
        auth = AuthServer(
            "oidc-provider",
            issuer,
            discovery["jwks_uri"],
            OIDC_CLIENT_ID,
            OIDC_CLIENT_SECRET,
            lambda on: _withhold_refresh_tokens(issuer, "" if on else NO_REFRESH_TOKENS_FOR),
        )
        holder["auth"] = auth
        holder["app"] = employees_app(auth, base, json_response=json_response, stateless=stateless)
        return holder["app"]

    with stack, LoopbackServer(app_factory=factory, lifespan="on") as base:
        yield holder["auth"], Server(f"{base}/mcp", holder["app"])


# -- the clients ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientKind:
    """A real MCP client and how to start its driver."""

    key: str
    name: str
    version: str
    command: tuple[str, ...]  # the driver, without its JSON argument
    missing: str | None  # why it cannot run here, or None


def _npm_version(package: str) -> str | None:
    try:
        manifest = json.loads((NODE_MODULES / package / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(manifest["version"])


def _python_mcp_version(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('mcp'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def client_kinds(sdk1_python: Path | None = None, sdk2_python: Path | None = None) -> list[ClientKind]:
    """The four clients, each with its version, or the reason it is not installed here.

    The Python SDK 1.x runs in the sdk1 lane's environment (``.venvs/sdk1``, mcp 1.30), the 2.x in this one's
    when it has mcp 2.x, else in the sdk2 lane's."""
    node = shutil.which("node")
    kinds: list[ClientKind] = []
    for key, package, major in (("ts1", "@modelcontextprotocol/sdk", 1), ("ts2", "@modelcontextprotocol/client", 2)):
        version = _npm_version(package)
        missing = None
        if node is None:
            missing = "node is not installed"
        elif version is None:
            missing = f"{package} is not installed: run `npm ci --prefix tests/interop/clients`"
        command = (node or "node", str(DRIVERS / "driver.mjs"))
        kinds.append(ClientKind(key, f"TypeScript SDK {major}.x", version or "", command, missing))
    here = Path(sys.executable)
    here_version = _python_mcp_version(here) or ""
    sdk2_python = sdk2_python or (
        here if here_version.startswith("2.") else ROOT / ".venvs" / "sdk2" / "bin" / "python"
    )
    for key, major, python in (
        ("py1", 1, sdk1_python or ROOT / ".venvs" / "sdk1" / "bin" / "python"),
        ("py2", 2, sdk2_python),
    ):
        version = _python_mcp_version(python) or ""
        missing = None if version.startswith(f"{major}.") else f"no environment with mcp {major}.x ({python})"
        command = (str(python), str(DRIVERS / "python_client.py"))
        kinds.append(ClientKind(key, f"Python SDK {major}.x", version, command, missing))
    return kinds


@dataclass(frozen=True)
class Outcome:
    """How one run ended, from the client's report and the server's recording."""

    completed: bool
    error: str | None
    loop: bool
    results: tuple[Any, ...]  # [name, result] for each step: the names a listing showed, a tool's structured result
    seen: tuple[Seen, ...]

    @property
    def wrote(self) -> list[Any]:
        """What each ``update_employee_mood`` returned (some servers wrap a structured result in ``result``)."""
        found = [r.get("result", r) for name, r in self.results if name == "update_employee_mood"]
        return [r.get("updateEmployeeMood", r) for r in found]

    @property
    def listed(self) -> list[list[str]]:
        """The tool names each ``tools/list`` showed."""
        return [names for name, names in self.results if name == "tools/list"]

    @property
    def challenges(self) -> list[tuple[int, str | None]]:
        """Every 401 and 403 the server answered, with the scope its challenge named, in order."""
        return [(s.status, s.challenge) for s in self.seen if s.status in (401, 403)]

    @property
    def tokens(self) -> list[tuple[str, ...]]:
        """The scopes of each token the client presented, in the order it first presented them."""
        found: list[tuple[str, ...]] = []
        for s in self.seen:
            if s.token_scopes is not None and (not found or found[-1] != s.token_scopes):
                found.append(s.token_scopes)
        return found

    @property
    def step_ups(self) -> int:
        """How many times the client came back with a token holding a scope its previous one lacked."""
        tokens = self.tokens
        return sum(1 for before, after in itertools.pairwise(tokens) if set(after) - set(before))

    @property
    def protocol_versions(self) -> list[str]:
        return list(dict.fromkeys(s.protocol_version for s in self.seen if s.protocol_version))


def run_client(
    kind: ClientKind,
    flow: Flow,
    auth: AuthServer,
    server: Server,
    *,
    refresh_tokens: bool = True,
    scope: str | None = None,
    timeout: float = 60,
) -> Outcome:
    """Run ``kind``'s driver once against ``server``; ``refresh_tokens=False`` makes the authorization server
    issue none to this client (the configuration the TypeScript SDK 1.x needs to step up); ``scope`` is the
    scope a client-credentials client is configured to ask for (none by default)."""
    if kind.missing:
        raise RuntimeError(f"{kind.name}: {kind.missing}")
    config: dict[str, Any] = {"url": server.url, "flow": flow, "issuer": auth.issuer}
    if kind.key.startswith("ts"):
        config["sdk"] = int(kind.key[-1])
    if flow == "client_credentials":
        config.update(client_id=auth.client_id, client_secret=auth.client_secret, scope=scope)
    else:
        config["redirect_uri"] = REDIRECT_URI
    before = len(server.recording.seen)
    auth.set_refresh_tokens(refresh_tokens)
    try:
        done = subprocess.run(
            [*kind.command, json.dumps(config)],
            cwd=DRIVERS,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "FASTMCP_SCOPES_"))},
        )
    finally:
        auth.set_refresh_tokens(True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{kind.name} driver printed no report (exit {done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(lines[-1])
    return Outcome(
        completed=report["completed"],
        error=report["error"],
        loop=bool(report.get("loop")),
        results=tuple(report["results"]),
        seen=tuple(server.recording.seen[before:]),
    )


# -- the demo's table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One row of the table: a client in a flow, and whether it should complete under the defaults."""

    kind: ClientKind
    flow: Flow
    refresh_tokens: bool = True
    known_bug: str | None = None  # why this client cannot complete here (a client bug), or None

    @property
    def label(self) -> str:
        label = self.flow.replace("_", " ")
        return label if self.refresh_tokens else f"{label}, no refresh tokens"


def runs(kinds: Sequence[ClientKind]) -> list[Run]:
    """Every client in both flows, and the TypeScript SDK 1.x once more with the configuration it needs."""
    table: list[Run] = []
    for kind in kinds:
        for flow in FLOWS:
            bug = None
            if kind.key == "ts1" and flow == "authorization_code":
                bug = "refreshes without a scope on a 403, so its token never widens"
            table.append(Run(kind, flow, known_bug=bug))
        if kind.key == "ts1":
            table.append(Run(kind, "authorization_code", refresh_tokens=False))
    return table


def describe(run: Run, outcome: Outcome | None, problem: str | None) -> tuple[str, bool]:
    """The outcome column, and whether the row is as it should be."""
    if problem is not None:
        return f"not run: {problem}", True
    assert outcome is not None
    if outcome.completed:
        if run.kind.key == "ts1" and run.flow == "client_credentials" and outcome.step_ups == 0:
            return "completed, never asked for a scope (granted all the client may have)", True
        return "completed", True
    reason = (outcome.error or "").removeprefix("Streamable HTTP error: ")
    if run.known_bug is not None:
        return f"stopped: {reason} (client bug: {run.known_bug})", True
    return f"FAILED: {reason}", False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.employees.clients", description=__doc__.splitlines()[0])
    parser.add_argument("--no-color", action="store_true", help="plain output")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    color = not args.no_color and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    for name in ("httpx2", "mcp", "client", "fastmcp_scopes", "uvicorn"):  # the table tells the story
        logging.getLogger(name).setLevel(logging.ERROR)
    rows: list[tuple[str, str, str, str, bool]] = []
    with development_auth_server() as auth, employees_server(auth) as server:
        for run in runs(client_kinds()):
            outcome = None
            problem = run.kind.missing
            if problem is None:
                try:
                    outcome = run_client(run.kind, run.flow, auth, server, refresh_tokens=run.refresh_tokens)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    outcome = Outcome(False, str(error), False, (), ())
            text, fine = describe(run, outcome, problem)
            client = f"{run.kind.name} {run.kind.version}".strip()
            steps = str(outcome.step_ups) if outcome is not None else "-"
            rows.append((client, run.label, steps, text, fine))
    header = ("client", "flow", "step-ups", "outcome")
    widths = [max(len(row[i]) for row in [*rows, (*header, True)]) for i in range(3)]
    print(
        f"Employees task with real MCP clients, FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES unset "
        f"({DEFAULT_INCLUDE_TOKEN_SCOPES})\n"
    )
    print("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True)).rstrip())
    for client, flow, steps, text, fine in rows:
        line = f"{client.ljust(widths[0])}  {flow.ljust(widths[1])}  {steps.ljust(widths[2])}  {text}"
        print(line if fine or not color else f"\033[31m{line}\033[0m")
    failed = [row for row in rows if not row[4]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
