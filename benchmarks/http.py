"""Benchmark: the guard through the full HTTP stack, and JWT verification against ``fastmcp``'s.

Run from the repository root::

    python benchmarks/http.py [--server sdk1|sdk2|fastmcp3|fastmcp4] [--quick] [--section all|http|jwt]
                              [--python /path/to/python] [--json FILE]

1. **HTTP.** ``tools/call`` and ``tools/list`` requests per second through uvicorn on 127.0.0.1 with
   JWT bearer auth, guarded against the same server without the guard. Both are the same server of
   the ``--server`` lineage (default: the one the environment was built for, as in ``decision.py``;
   one the environment lacks is refused): three tools with declared scopes, JSON responses,
   stateless, so every request stands alone, protected by the lineage's own auth: on the MCP SDK
   (1.x ``FastMCP``, 2.x ``MCPServer``) ``AuthSettings`` + ``token_verifier=`` our ``JWTVerifier``,
   on fastmcp 3 and 4 its ``JWTVerifier`` auth provider. The guarded one has
   ``ScopeGuard(...).install(server)`` on top, with layered scopes and a hierarchy. Installed, the
   guard authenticates in place of (or inside) the server's own bearer check, with the server's
   verifier, then parses the body and decides before dispatch, and filters listings after it: the
   overhead measured is that whole exchange, and may come out negative. Each server runs in its
   own process (so the client's work does not share an interpreter with the server's) and is driven
   with raw POSTs from one ``httpx2.AsyncClient`` with ``--workers`` concurrent requests,
   ``--requests`` per measurement. Many short rounds alternate the two servers (which one goes
   first alternates too) and the median over rounds of the per-round overhead is reported, with the
   middle half of the per-round figures, so drift and bursts of other work on the machine cancel
   out. Next to requests per second, the server process's CPU time per request is printed the same
   way: on a busy machine it moves less than wall time. The tokens come from the development
   authorization server and hold every scope, so both servers list and run the same tools. Target:
   overhead at most 5 %.
2. **JWT.** Verifications per second, ``fastmcp_scopes.tokens.JWTVerifier.verify_token`` against
   ``fastmcp.server.auth.providers.jwt.JWTVerifier.verify_token``, on the same RS256 tokens (those
   sent to the guarded server in section 1), each verifier's JWKS cache warmed by one fetch, so the
   figures are signature and claim checks only. Two cases: the first verification of a token (ours with
   its token cache off, and with it on but holding one token, so that every token misses it and is stored
   in it, as a new token is) and a repeated token (ours with its cache, filled by one pass; fastmcp has
   none). Rounds alternate between them; the best round of each is reported with the ratio (ours / theirs;
   above 1 means we are faster). Targets: first >= 2x, repeated <= 5 us. The RSA signature check alone
   (``cryptography``'s, on the same tokens) is timed too: no verifier can be faster than that, so fastmcp's
   time over it is the highest ratio a first verification could reach.

``fastmcp`` comes with the ``dev`` extra. Where it cannot be imported, section 2 runs in a child
process under ``--python`` or ``$FASTMCP_BENCH_PYTHON``, an interpreter from another environment
holding both packages (``pip install fastmcp -e .`` there).

Without one, section 2 measures ours alone and says so. Section 2 does not depend on ``--server``.
Everything binds to 127.0.0.1, every loop is bounded, and the default run takes about a minute and a
half (``--quick``: about 25 seconds). ``--json`` also writes section 1's figures to a file
(``bash benchmarks/lineages`` reads it). Timings only: nothing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's directory comes first on sys.path, and this file would shadow the
# standard library's `http` (its siblings: PyJWT and graphql-core). Fix that before importing anything.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib.metadata import version  # noqa: E402
from multiprocessing.connection import Connection  # noqa: E402
from typing import Any  # noqa: E402

import httpx2  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from benchmarks._lineage import LINEAGES, NAMES, add_tool, choose  # noqa: E402
from fastmcp_scopes.testing.authserver import DevAuthorizationServer  # noqa: E402
from fastmcp_scopes.tokens import JWTVerifier  # noqa: E402

SCOPES = ["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:read", "employees:write", "employees:delete"]
BASELINE = ["mcp:connect", "mcp:tools:read"]
LAYERS: dict[str, Any] = {
    "connect_scopes": ["mcp:connect"],
    "list_scopes": {"tools": ["mcp:tools:read"]},
    "call_scopes": {"tools": ["mcp:tools:call"]},
    "hierarchy": {"employees:write": ["employees:read"]},
}
PROTOCOL_VERSION = "2025-11-25"
OPERATIONS: dict[str, dict[str, Any]] = {
    "tools/call": {"method": "tools/call", "params": {"name": "get_employees", "arguments": {}}},
    "tools/list": {"method": "tools/list"},
}
SERVERS = ("without guard", "with guard")


def _quiet() -> None:
    """Keep per-request log lines (ours, the SDK's, the HTTP client's) out of the timings and the report."""
    for name in ("httpx2", "httpx", "mcp", "uvicorn", "fastmcp_scopes", "fastmcp_scopes.audit"):
        logging.getLogger(name).setLevel(logging.WARNING)


# -- section 1: the servers, each in its own process --------------------------------------------------


def _build_app(lineage: str, base_url: str, guarded: bool, issuer: str, jwks_uri: str) -> Any:
    """The ASGI app of one benchmark server (runs in the server's process)."""
    from fastmcp_scopes import ScopeGuard, requires_scopes

    def get_employees() -> list[dict[str, Any]]:
        return [{"id": 1, "name": "Ada", "mood": "curious"}]

    def update_employee_mood(employee_id: int, mood: str) -> dict[str, Any]:
        return {"id": employee_id, "mood": mood}

    def delete_employee(employee_id: int) -> str:
        return "deleted"

    def decorate(server: Any) -> None:
        add_tool(server, requires_scopes("employees:read")(get_employees), "get_employees")
        add_tool(server, requires_scopes("employees:write")(update_employee_mood), "update_employee_mood")
        requirement = requires_scopes(any_of=[["employees:delete"], ["employees:write", "employees:admin"]])
        add_tool(server, requirement(delete_employee), "delete_employee")
        if guarded:
            ScopeGuard(scopes_supported=BASELINE, **LAYERS).install(server)

    app = LINEAGES[lineage].http_app(base_url, issuer, jwks_uri, decorate)
    _quiet()
    return app


def _serve(lineage: str, guarded: bool, issuer: str, jwks_uri: str, conn: Connection) -> None:
    """Server process: uvicorn on loopback; sends the base URL, stops when told (or when the parent goes).

    Not ``LoopbackServer``: it binds with ``proto=0``, and asyncio only disables Nagle's algorithm on
    sockets whose ``proto`` is ``IPPROTO_TCP``, so each response (headers and body written apart) would
    wait out the client's delayed ACK, about 40 ms, and the figures would measure that instead. Here
    the socket is made as ``uvicorn --host 127.0.0.1`` makes it.
    """
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = _build_app(lineage, base_url, guarded, issuer, jwks_uri)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    conn.send(base_url if server.started else "")
    try:
        # "cpu" asks for this process's CPU time so far; anything else, or EOF when the parent exits, stops.
        while conn.recv() == "cpu":
            conn.send(time.process_time())
    except EOFError:
        pass
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Target:
    name: str
    url: str
    tokens: list[str]
    conn: Connection

    def cpu_seconds(self) -> float:
        """CPU time the server's process has used so far (all its threads)."""
        self.conn.send("cpu")
        seconds: float = self.conn.recv()
        return seconds


async def _drive(http: httpx2.AsyncClient, target: Target, operation: str, count: int, workers: int) -> float:
    """``count`` POSTs of ``operation`` with ``workers`` in flight; requests per second."""
    next_id = 0
    body = OPERATIONS[operation]

    async def worker() -> None:
        nonlocal next_id
        while next_id < count:
            next_id += 1
            token = target.tokens[next_id % len(target.tokens)]
            response = await http.post(
                target.url,
                content=json.dumps({"jsonrpc": "2.0", "id": next_id, **body}),
                headers={
                    "authorization": f"Bearer {token}",
                    "content-type": "application/json",
                    "accept": "application/json, text/event-stream",
                    "mcp-protocol-version": PROTOCOL_VERSION,
                },
            )
            if response.status_code != 200 or b'"result"' not in response.content:
                raise RuntimeError(f"{target.name}: {operation} answered {response.status_code}: {response.text[:300]}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return count / (time.perf_counter() - start)


async def _check(http: httpx2.AsyncClient, target: Target) -> None:
    """Both servers must answer the same: a request without a token refused (each is protected by its
    own auth, so the comparison is guard against no guard, not against no authentication), every tool
    listed, the call succeeding."""
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": PROTOCOL_VERSION}
    anonymous = await http.post(
        target.url, json={"jsonrpc": "2.0", "id": 1, **OPERATIONS["tools/list"]}, headers=headers
    )
    if anonymous.status_code != 401:
        raise SystemExit(f"{target.name} answered {anonymous.status_code} without a token; check the benchmark set-up")
    headers["authorization"] = f"Bearer {target.tokens[0]}"
    listed = await http.post(target.url, json={"jsonrpc": "2.0", "id": 1, **OPERATIONS["tools/list"]}, headers=headers)
    names = sorted(tool["name"] for tool in listed.json()["result"]["tools"])
    if names != ["delete_employee", "get_employees", "update_employee_mood"]:
        raise SystemExit(f"{target.name} lists {names}; check the benchmark set-up")
    called = await http.post(target.url, json={"jsonrpc": "2.0", "id": 2, **OPERATIONS["tools/call"]}, headers=headers)
    if called.json()["result"]["isError"] is not False:
        raise SystemExit(f"{target.name} failed the call: {called.text[:300]}")


async def http_section(args: argparse.Namespace, auth_server: DevAuthorizationServer) -> tuple[Target, dict[str, Any]]:
    """Section 1; returns the guarded server's URL and the tokens sent to it (for section 2), and the figures."""
    context = multiprocessing.get_context("spawn")
    processes: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    targets: list[Target] = []
    try:
        for name in SERVERS:
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(args.server, name == "with guard", auth_server.issuer, auth_server.jwks_uri, child_end),
                daemon=True,
            )
            process.start()
            processes.append((process, parent_end))
            if not parent_end.poll(60):
                raise SystemExit(f"the server {name} did not start")
            base_url = parent_end.recv()
            if not base_url:
                raise SystemExit(f"the server {name} did not start")
            url = f"{base_url}/mcp"
            tokens = [
                auth_server.issue_token(SCOPES, audience=url, subject=f"user-{i}", client_id=f"client-{i % 7}")
                for i in range(args.tokens)
            ]
            targets.append(Target(name, url, tokens, parent_end))

        limits = httpx2.Limits(max_connections=args.workers, max_keepalive_connections=args.workers)
        rates: dict[tuple[str, str], list[float]] = {(t.name, op): [] for t in targets for op in OPERATIONS}
        cpu: dict[tuple[str, str], list[float]] = {(t.name, op): [] for t in targets for op in OPERATIONS}
        overheads: dict[tuple[str, str], list[float]] = {
            (kind, op): [] for kind in ("wall", "cpu") for op in OPERATIONS
        }
        async with httpx2.AsyncClient(limits=limits, timeout=30) as http:
            for target in targets:
                await _check(http, target)
                for operation in OPERATIONS:  # warm both servers and the connection pool
                    await _drive(http, target, operation, max(args.requests // 5, args.workers), args.workers)
            for round_ in range(args.rounds):
                order = targets if round_ % 2 == 0 else targets[::-1]
                for operation in OPERATIONS:
                    measured: dict[str, float] = {}
                    used: dict[str, float] = {}
                    for target in order:
                        before = target.cpu_seconds()
                        measured[target.name] = await _drive(http, target, operation, args.requests, args.workers)
                        used[target.name] = (target.cpu_seconds() - before) / args.requests * 1e6
                        rates[target.name, operation].append(measured[target.name])
                        cpu[target.name, operation].append(used[target.name])
                    # Per request, guarded over unguarded, minus one: wall time, and the server's CPU time.
                    overheads["wall", operation].append(measured["without guard"] / measured["with guard"] - 1)
                    overheads["cpu", operation].append(used["with guard"] / used["without guard"] - 1)
    finally:
        for child, conn in processes:
            with contextlib.suppress(OSError):  # the child may be gone already
                conn.send("stop")
            child.join(timeout=15)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)

    figures: dict[str, Any] = {"server": args.server, "describe": LINEAGES[args.server].describe(), "operations": {}}
    print(
        f"\n1. HTTP on 127.0.0.1, server {LINEAGES[args.server].describe()}: uvicorn, stateless JSON responses, "
        f"JWT (RS256) auth; {args.workers} concurrent "
        f"requests, {args.requests} per measurement, {args.rounds} interleaved rounds; medians over rounds, "
        "and the middle half of the per-round overheads in brackets"
    )
    for operation in OPERATIONS:
        plain, guarded = (statistics.median(rates[name, operation]) for name in SERVERS)
        plain_cpu, guarded_cpu = (statistics.median(cpu[name, operation]) for name in SERVERS)
        print(f"  {operation}")
        print(
            f"    requests/s         without guard {plain:>8,.0f}   with guard {guarded:>8,.0f}   "
            f"overhead {_spread(overheads['wall', operation])}   (target <= 5 %)"
        )
        print(
            f"    server CPU us/req  without guard {plain_cpu:>8,.0f}   with guard {guarded_cpu:>8,.0f}   "
            f"overhead {_spread(overheads['cpu', operation])}"
        )
        figures["operations"][operation] = {
            "requests_per_s": {"plain": plain, "guarded": guarded},
            "cpu_us": {"plain": plain_cpu, "guarded": guarded_cpu},
            "overhead_wall": statistics.median(overheads["wall", operation]),
            "overhead_cpu": statistics.median(overheads["cpu", operation]),
        }
    return targets[1], figures


def _spread(overheads: Sequence[float]) -> str:
    """``+1.2 % [-3.4, +5.6]``: the median and the interquartile range, in percent."""
    median = statistics.median(overheads) * 100
    if len(overheads) < 2:
        return f"{median:+6.1f} %"
    low, _, high = (q * 100 for q in statistics.quantiles(overheads, n=4))
    return f"{median:+6.1f} % [{low:+.1f}, {high:+.1f}]"


# -- section 2: JWT verification against fastmcp ------------------------------------------------------


async def _rate(verify: Callable[[str], Awaitable[Any]], tokens: Sequence[str], seconds: float) -> float:
    """Verifications per second over at least ``seconds``, cycling through ``tokens``."""
    done = 0
    start = time.perf_counter()
    while True:
        for token in tokens:
            if await verify(token) is None:
                raise RuntimeError("a benchmark token failed to verify")
        done += len(tokens)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


@dataclass
class TokenSet:
    """Tokens to verify and what verifies them (the JSON handed to a child interpreter)."""

    issuer: str
    jwks_uri: str
    audience: str
    tokens: list[str]


async def jwt_section(args: argparse.Namespace, material: TokenSet) -> None:
    have_fastmcp = importlib.util.find_spec("fastmcp") is not None
    options: dict[str, Any] = {"issuer": material.issuer, "jwks_uri": material.jwks_uri, "audience": material.audience}
    # First verification: ours without its token cache, so every token costs what a new one does. Repeated:
    # ours as configured by default, its cache filled by one pass over the tokens.
    first: dict[str, Callable[[str], Awaitable[Any]]] = {
        "fastmcp-scopes": JWTVerifier(**options, token_cache_size=0).verify_token,
        "  cache on, all miss": JWTVerifier(**options, token_cache_size=1).verify_token,
    }
    repeated: dict[str, Callable[[str], Awaitable[Any]]] = {"fastmcp-scopes": JWTVerifier(**options).verify_token}
    if have_fastmcp:
        import fastmcp  # type: ignore[import-not-found,unused-ignore]
        from fastmcp.server.auth.providers.jwt import (  # type: ignore[import-not-found,unused-ignore]
            JWTVerifier as FastMCPJWTVerifier,
        )

        theirs = FastMCPJWTVerifier(
            jwks_uri=material.jwks_uri, issuer=material.issuer, audience=material.audience, algorithm="RS256"
        )
        first[f"fastmcp {fastmcp.__version__}"] = theirs.verify_token  # it has no token cache: the same verifier
        repeated[f"fastmcp {fastmcp.__version__}"] = theirs.verify_token

    for case in (first, repeated):
        for name, verify in case.items():  # warm the JWKS (and token) caches, check each accepts the tokens
            for token in material.tokens:
                if await verify(token) is None:
                    raise SystemExit(f"{name} refused a valid token; check the benchmark set-up")
    versions = ", ".join(f"{name} {version(name)}" for name in ("PyJWT", "cryptography"))
    print(
        f"\n2. JWT verification in one process (python {sys.version.split()[0]}, {versions}): "
        f"{len(material.tokens)} distinct RS256 tokens, {args.jwt_rounds} alternating rounds of >= {args.seconds}s, "
        "best round"
    )
    floor = await _signature_rate(material, args)
    theirs_first = 0.0
    for title, case in (("first verification of a token", first), ("repeated token", repeated)):
        best = dict.fromkeys(case, 0.0)
        for _ in range(args.jwt_rounds):
            for name, verify in case.items():
                best[name] = max(best[name], await _rate(verify, material.tokens, args.seconds))
        print(f"  {title}:")
        for name, rate in best.items():
            print(f"    {name:<20} {rate:>12,.0f} verifications/s  ({1e6 / rate:,.2f} us each)")
        if have_fastmcp:
            *ours, (_, theirs_rate) = best.items()
            theirs_first = theirs_first or theirs_rate
            for name, rate in ours:
                label = "ratio ours/theirs" if name == "fastmcp-scopes" else f"  {name.strip()}"
                print(f"    {label:<20} {rate / theirs_rate:>12.2f}   (target > 1)")
    print(f"  the RSA signature check alone: {floor:,.0f} checks/s ({1e6 / floor:,.2f} us each)")
    if have_fastmcp:
        print(f"    signature alone / fastmcp's first verification: {floor / theirs_first:.2f} (no ratio can pass it)")
    if not have_fastmcp:
        print("  SKIPPED fastmcp: not importable here and no --python given; ours measured alone, no ratio")


async def _signature_rate(material: TokenSet, args: argparse.Namespace) -> float:
    """RSA signature checks per second (``cryptography``, PKCS#1 v1.5 with SHA-256) on the tokens' own signing input
    and signature, with the key a verifier fetched: the floor under any RS256 verification."""
    verifier = JWTVerifier(issuer=material.issuer, jwks_uri=material.jwks_uri, audience=material.audience)
    await verifier.verify(material.tokens[0])
    kid = json.loads(base64.urlsafe_b64decode(material.tokens[0].split(".")[0] + "=="))["kid"]
    [(key, _)] = await verifier.keys.signers(kid, "RS256")
    if not isinstance(key, rsa.RSAPublicKey):
        raise SystemExit("the benchmark tokens are not RS256")
    checks = []
    for token in material.tokens:
        header, payload, encoded = token.split(".")
        checks.append((base64.urlsafe_b64decode(encoded + "=="), f"{header}.{payload}".encode()))
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    best = 0.0
    for _ in range(args.jwt_rounds):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < args.seconds or not done:
            for signature, signed in checks:
                key.verify(signature, signed, pkcs1, sha256)
            done += len(checks)
        best = max(best, done / elapsed)
    return best


def _jwt_in_child(args: argparse.Namespace, material: TokenSet) -> None:
    """Section 2 under ``--python``, on the same tokens (the authorization server stays up meanwhile)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
    env["FASTMCP_BENCH_PYTHON"] = ""  # the child measures in place, never hands over again
    command = [args.python, str(Path(__file__).resolve()), "--section", "jwt", "--tokens-from-stdin"]
    command += ["--jwt-rounds", str(args.jwt_rounds), "--seconds", str(args.seconds)]
    print(f"\n(fastmcp is not importable here; section 2 runs under {args.python})", flush=True)
    subprocess.run(command, input=json.dumps(material.__dict__), text=True, env=env, check=True, timeout=600)


# -- driver ---------------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    _quiet()
    if args.tokens_from_stdin:
        await jwt_section(args, TokenSet(**json.loads(sys.stdin.read())))
        return
    print(
        f"python {sys.version.split()[0]}, "
        + ", ".join(f"{name} {version(name)}" for name in ("mcp", "uvicorn", "httpx2", "PyJWT"))
        + f", {os.cpu_count()} CPUs"
    )
    if args.server:
        print(f"server {LINEAGES[args.server].describe()}")
    async with DevAuthorizationServer(SCOPES) as auth_server:
        if args.section in ("all", "http"):
            guarded, figures = await http_section(args, auth_server)
            audience, tokens = guarded.url, guarded.tokens
            if args.json:
                Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
        else:
            audience = "https://bench.example/mcp"
            tokens = [
                auth_server.issue_token(SCOPES, audience=audience, subject=f"user-{i}", client_id=f"client-{i % 7}")
                for i in range(args.tokens)
            ]
        if args.section in ("all", "jwt"):
            material = TokenSet(auth_server.issuer, auth_server.jwks_uri, audience, tokens)
            if importlib.util.find_spec("fastmcp") is None and args.python:
                await asyncio.to_thread(_jwt_in_child, args, material)
            else:
                await jwt_section(args, material)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--server", choices=NAMES, help="the lineage to measure (default: this environment's)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests (about 25 seconds)")
    parser.add_argument("--json", metavar="FILE", help="also write section 1's figures to FILE as JSON")
    parser.add_argument("--section", choices=["all", "http", "jwt"], default="all")
    parser.add_argument("--rounds", type=int, help="interleaved HTTP rounds (default 10; quick 4)")
    parser.add_argument("--requests", type=int, help="requests per HTTP measurement (default 800; quick 250)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP requests")
    parser.add_argument("--tokens", type=int, default=200, help="distinct tokens per server")
    parser.add_argument("--jwt-rounds", type=int, help="alternating JWT rounds (default 5; quick 3)")
    parser.add_argument("--seconds", type=float, help="minimum time per JWT round (default 1.0; quick 0.3)")
    parser.add_argument("--python", default=os.environ.get("FASTMCP_BENCH_PYTHON") or None)
    parser.add_argument("--tokens-from-stdin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = {"rounds": (10, 4), "requests": (800, 250), "jwt_rounds": (5, 3), "seconds": (1.0, 0.3)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    for name in ("rounds", "requests", "workers", "tokens", "jwt_rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.section != "jwt" and not args.tokens_from_stdin:
        args.server = choose(args.server).name  # refuses a lineage this environment lacks, before any work
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
