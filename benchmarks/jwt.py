"""Benchmark: JWT access-token verifications per second, ours against the ``fastmcp`` package's.

Run from the repository root::

    python benchmarks/jwt.py [--tokens 200] [--rounds 5] [--seconds 1.0] [--python /path/to/python]

Both verifiers check the same RS256 tokens from the development authorization server (started on
127.0.0.1), each with its JWKS cache warmed by one fetch, so the figures are signature and claim
checks only: ``fastmcp_scopes.tokens.JWTVerifier.verify_token`` against
``fastmcp.server.auth.providers.jwt.JWTVerifier.verify_token``. Rounds alternate between the two and
the best round of each is reported, with the ratio (ours / theirs; above 1 means we are faster).

``fastmcp`` is a benchmark-only dependency and may pin a different ``mcp`` than this project, so it
is best kept out of the project's environment. When it cannot be imported here, the script re-runs
itself (the whole comparison, in one process) under ``--python`` or ``$FASTMCP_BENCH_PYTHON``, an
interpreter from a separate environment holding both packages, for example::

    python -m venv /tmp/fastmcp-bench && /tmp/fastmcp-bench/bin/pip install fastmcp -e .
    python benchmarks/jwt.py --python /tmp/fastmcp-bench/bin/python

Without one it measures ours alone and says so. Timings only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's directory comes first on sys.path and `jwt.py` would shadow PyJWT.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

AUDIENCE = "https://bench.example/mcp"


def _reexec(python: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(":")}
    env["FASTMCP_BENCH_PYTHON"] = ""  # the child must not re-exec again
    print(f"fastmcp is not importable here; re-running under {python}", flush=True)
    os.execve(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]], env)


async def _rate(verify: Callable[[str], Awaitable[Any]], tokens: list[str], seconds: float) -> float:
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


async def main(args: argparse.Namespace) -> None:
    from importlib.metadata import version

    from fastmcp_scopes.testing.authserver import DevAuthorizationServer
    from fastmcp_scopes.tokens import JWTVerifier

    have_fastmcp = importlib.util.find_spec("fastmcp") is not None
    async with DevAuthorizationServer(["files:read", "files:write", "admin"], audience=AUDIENCE) as server:
        scope_sets = [["files:read"], ["files:read", "files:write"], ["admin", "files:read", "files:write"]]
        tokens = [
            server.issue_token(scope_sets[i % len(scope_sets)], subject=f"user-{i}", client_id=f"client-{i % 7}")
            for i in range(args.tokens)
        ]
        ours = JWTVerifier(issuer=server.issuer, jwks_uri=server.jwks_uri, audience=AUDIENCE)
        contenders: dict[str, Callable[[str], Awaitable[Any]]] = {"fastmcp-scopes": ours.verify_token}
        if have_fastmcp:
            import fastmcp
            from fastmcp.server.auth.providers.jwt import JWTVerifier as FastMCPJWTVerifier

            theirs = FastMCPJWTVerifier(
                jwks_uri=server.jwks_uri, issuer=server.issuer, audience=AUDIENCE, algorithm="RS256"
            )
            contenders[f"fastmcp {fastmcp.__version__}"] = theirs.verify_token

        for name, verify in contenders.items():  # warm the JWKS caches and check both accept the tokens
            if await verify(tokens[0]) is None:
                raise SystemExit(f"{name} refused a valid token; check the benchmark set-up")

        best = dict.fromkeys(contenders, 0.0)
        for _ in range(args.rounds):
            for name, verify in contenders.items():
                best[name] = max(best[name], await _rate(verify, tokens, args.seconds))

    versions = ", ".join(f"{name} {version(name)}" for name in ("PyJWT", "cryptography", "mcp"))
    print(f"python {sys.version.split()[0]}, {versions}")
    print(f"{args.tokens} distinct RS256 tokens, {args.rounds} alternating rounds of >= {args.seconds}s, best round:")
    for name, rate in best.items():
        print(f"  {name:<22} {rate:>10,.0f} verifications/s  ({1e6 / rate:,.1f} us each)")
    if have_fastmcp:
        ours_rate, theirs_rate = best.values()
        print(f"  ratio ours/theirs      {ours_rate / theirs_rate:>10.2f}")
    else:
        print("  fastmcp not installed and no --python given: ours measured alone, no ratio")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--python", default=os.environ.get("FASTMCP_BENCH_PYTHON") or None)
    arguments = parser.parse_args()
    if importlib.util.find_spec("fastmcp") is None and arguments.python:
        _reexec(arguments.python)
    asyncio.run(main(arguments))
