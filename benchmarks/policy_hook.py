"""Benchmark: what the deny-only policy hook costs per call, as ratios to the decision alone, in the same run.

Run from the repository root, in the environment of the server lineage to measure::

    python benchmarks/policy_hook.py [--server sdk1|sdk2|fastmcp3|fastmcp4] [--quick] [--rounds 7] [--seconds 0.5]

Each figure is one pipeline decision of a ``tools/call`` (the operation read from its params, the tool
resolved through the lineage's own registry, the scopes decided; audit off), as every request pays it:

1. without a hook (the decision alone: the baseline of every ratio);
2. with a trivial hook (``async def hook(caller, operation): return None``): the price of asking at all;
3. with the Cedar hook on both example policies of ``examples/policies/`` (``FASTMCP_SCOPES_CEDAR_POLICIES``),
   no cache: the request and its entities built, evaluated off the event loop (``asyncio.to_thread``);
4. the same with ``FASTMCP_SCOPES_POLICY_CACHE_SECONDS=60``, the same caller and arguments each time: a cache
   hit (a digest of the caller and the operation, looked up).

The variants are measured in turn within each round, in batches of at least ``--seconds``; the best of
``--rounds`` is kept for each. Absolute microseconds are printed next to each ratio. Timings only: nothing is
asserted.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's directory comes first on sys.path, and its siblings (http.py, graphql.py)
# would shadow the libraries of the same name.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import anyio  # noqa: E402

from benchmarks._lineage import NAMES, Lineage, choose, per_await_us, salary_pipeline  # noqa: E402
from fastmcp_scopes import Caller, PolicyDenial, PolicyOperation, ScopeGuard  # noqa: E402
from fastmcp_scopes.operation import Operation  # noqa: E402
from fastmcp_scopes.pipeline import Pipeline  # noqa: E402

LAYERS: dict[str, Any] = {
    "connect_scopes": ["mcp:connect"],
    "call_scopes": {"tools": ["mcp:tools:call"]},
    "hierarchy": {"employees:write": ["employees:read"], "admin": ["*"]},
    "audit": False,
}
POLICIES = _ROOT / "examples" / "policies"
CALLER = Caller(
    frozenset({"mcp:connect", "mcp:tools:call", "employees:write", "payroll:approve"}),
    subject="bench",
    client_id="bench-client",
    issuer="https://issuer.example",
    # What a JWT access token carries (RFC 9068), and a role claim for the rules to read.
    claims={
        "iss": "https://issuer.example",
        "sub": "bench",
        "aud": "https://mcp.example/mcp",
        "client_id": "bench-client",
        "scope": "mcp:connect mcp:tools:call employees:write payroll:approve",
        "iat": 1_790_000_000,
        "exp": 1_790_003_600,
        "jti": "4f1c0c9e-7b8a-4c47-9d0e-5b6f4b1d2a3c",
        "role": "analyst",
    },
)
PARAMS = {"name": "update_salary", "arguments": {"employee": "e1", "amount": 1}}


async def _trivial(caller: Caller | None, operation: PolicyOperation) -> PolicyDenial | None:
    return None


def _pipeline(lineage: Lineage, **options: Any) -> Pipeline:
    return salary_pipeline(lineage, ScopeGuard(**LAYERS, **options))


def _measure(pipeline: Pipeline, seconds: float) -> float:
    async def decide() -> Any:
        return await pipeline.decide(Operation.of("tools/call", PARAMS, 1), CALLER)

    async def timed() -> float:
        if not (await decide()).allowed:
            raise RuntimeError("the benchmark decision should allow (and the hook let it through)")
        return await per_await_us(decide, seconds)

    return anyio.run(timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--server", choices=NAMES, help="the lineage to measure (default: this environment's)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a few seconds)")
    parser.add_argument("--rounds", type=int, help="rounds, the best kept (default 7; quick 3)")
    parser.add_argument("--seconds", type=float, help="minimum time per measurement (default 0.5; quick 0.2)")
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 7)
    seconds = args.seconds if args.seconds is not None else (0.2 if args.quick else 0.5)
    if rounds < 1 or seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds more than 0")
    lineage = choose(args.server)
    logging.getLogger("fastmcp_scopes").setLevel(logging.ERROR)

    both = str(POLICIES)  # a directory: both example files
    variants = {
        "decision alone (no hook)": _pipeline(lineage),
        "decision + trivial hook": _pipeline(lineage, policy_hook=_trivial),
        "decision + Cedar hook, no cache": _pipeline(lineage, cedar_policies=both),
        "decision + Cedar hook, cached": _pipeline(lineage, cedar_policies=both, policy_cache_seconds=60),
    }
    gc.collect()
    gc.freeze()  # the servers stay out of every collection while timed
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, pipeline in variants.items():
            best[name] = min(best[name], _measure(pipeline, seconds))

    baseline = best["decision alone (no hook)"]
    print(f"server {lineage.describe()}")
    print(f"python {sys.version.split()[0]}; best of {rounds} rounds of at least {seconds} s each")
    for name, micros in best.items():
        print(f"{name + ':':36} {micros:8.2f} µs   {micros / baseline:6.2f}x")


if __name__ == "__main__":
    main()
