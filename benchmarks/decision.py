"""Benchmark: what the guard costs per request, as ratios measured in the same run.

Run from the repository root, in the environment of the server lineage to measure::

    python benchmarks/decision.py [--server sdk1|sdk2|fastmcp3|fastmcp4] [--quick]
                                  [--tools 1000] [--rounds 7] [--seconds 0.5] [--listings 5] [--json FILE]

``--server`` defaults to the lineage the environment was built for (fastmcp when installed, else the
installed MCP SDK's server); a lineage the environment lacks is refused. ``bash benchmarks/lineages`` runs
this on every lineage, each in its own environment. Every server below is built on that lineage, guarded
and unguarded, and driven by its natural in-process client: ``mcp.Client(server)`` on mcp 2.x, the SDK's
in-memory ``ClientSession`` on mcp 1.x, ``fastmcp.Client(server)`` on fastmcp.

1. One guard decision (``ScopeGuard.decide`` for a ``tools/call`` with connect and call layers, a
   two-alternative requirement and a scope hierarchy) against one call of an empty tool handler
   through the lineage's in-process client (unguarded). The decision is timed alone, and with the audit
   event the adapters emit for it (``audit.emit``) in two cases: written, by the handler
   ``audit.write_json_lines`` installs, formatting each event as a JSON line, to a stream that discards it
   (what an operator who keeps an audit log pays, less the I/O), and enabled with no handler writing it
   (the library's ``NullHandler`` only: nothing is built). Decision and written event together are the
   price the guard adds to every call. Target: a decision well under 10 µs; decision and written audit event
   under 2x the decision. The pipeline decision adds
   reading the operation and resolving the tool through the lineage's own registry.
2. ``tools/list`` over ``--tools`` tools, in-process, with the guard installed against the same
   server without it; the caller holds every scope, so both listings return every tool. A client-side
   response cache, where the client has one, is bypassed. Target: the guarded listing at most 1.2x the
   unguarded one.

Decisions and calls are timed in batches of at least ``--seconds``, the best of ``--rounds`` kept;
listings are timed one at a time, guarded and unguarded alternating, the fastest of each kept (the
fastest run is the one least disturbed by the rest of the machine). Before timing, the servers are
frozen out of the garbage collector (``gc.freeze()``), so that no full collection scanning them lands
inside one listing by chance. Absolute microseconds are printed next to each ratio. ``--json`` also
writes the figures to a file (``bash benchmarks/lineages`` reads it).
Timings only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import math
import sys
import time
from collections.abc import Callable
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

from benchmarks._lineage import NAMES, InProcessClient, Lineage, add_tool, choose, per_await_us, salary_pipeline  # noqa: E402
from fastmcp_scopes import Caller, Requirement, ScopeGuard, requires_scopes  # noqa: E402
from fastmcp_scopes.audit import AUDIT_LOGGER, emit, write_json_lines  # noqa: E402
from fastmcp_scopes.operation import Operation  # noqa: E402
from fastmcp_scopes.testing import acting_as  # noqa: E402

LAYERS: dict[str, Any] = {
    "connect_scopes": ["mcp:connect"],
    "list_scopes": {"tools": ["mcp:tools:read"]},
    "call_scopes": {"tools": ["mcp:tools:call"]},
    "hierarchy": {"employees:write": ["employees:read"], "admin": ["*"]},
}
CALLER_SCOPES = ["mcp:connect", "mcp:tools:read", "mcp:tools:call", "employees:write", *(f"s{i}" for i in range(10))]


def _per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Microseconds per call of ``fn`` over at least ``seconds`` (batched to keep loop overhead out)."""
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / batch * 1e6
        batch *= 2


def _server(lineage: Lineage, tools: int, *, guarded: bool) -> Any:
    mcp = lineage.new("bench")

    def empty() -> None:
        return None

    add_tool(mcp, empty, "empty")
    for i in range(tools - 1):

        def handler(x: int = 0) -> int:
            return x

        add_tool(
            mcp,
            requires_scopes(any_of=[[f"s{i % 10}"], ["employees:read", f"s{(i + 1) % 10}"]])(handler),
            f"tool_{i:04d}",
            f"Tool number {i}",
        )
    if guarded:
        ScopeGuard(**LAYERS).install(mcp)
    return mcp


def bench_pipeline(lineage: Lineage, seconds: float, rounds: int) -> float:
    """Microseconds per pipeline decision of a ``tools/call``: the operation read from its params, the
    tool resolved through the lineage's registry, decided (audit off: it is timed separately)."""
    pipeline = salary_pipeline(lineage, ScopeGuard(**LAYERS, audit=False))
    caller = Caller(frozenset([*CALLER_SCOPES, "payroll:approve"]), subject="bench", client_id="bench")
    params = {"name": "update_salary", "arguments": {"employee": "e1", "amount": 1}}

    async def decide() -> Any:
        return await pipeline.decide(Operation.of("tools/call", params, 1), caller)

    if not anyio.run(decide).allowed:
        raise RuntimeError("the benchmark decision should allow")
    return min(anyio.run(per_await_us, decide, seconds) for _ in range(rounds))


class _Discard(io.StringIO):
    """A text stream that takes every line and keeps none, counting them."""

    lines = 0

    def write(self, text: str) -> int:
        self.lines += 1
        return len(text)


def bench_decision(seconds: float, rounds: int) -> dict[str, float]:
    """Microseconds per decision (``decision``); per decision with its audit event written as a JSON line
    (``written``), and with its audit event enabled but heard by no handler (``unheard``). The three are measured
    in turn in each round, the best of each kept."""
    guard = ScopeGuard(**LAYERS)
    own = Requirement.any_of([["employees:write", "payroll:approve"], ["admin"]])
    caller = Caller(frozenset([*CALLER_SCOPES, "payroll:approve"]), subject="bench", client_id="bench")

    def decide() -> object:
        return guard.decide("tools/call", caller=caller, name="update_salary", own=own, request_id=1)

    def decide_and_audit() -> None:
        emit(decide(), clock=time.time)  # type: ignore[arg-type]

    if not decide().allowed:  # type: ignore[attr-defined]
        raise RuntimeError("the benchmark decision should allow")
    stream = _Discard()
    best = dict.fromkeys(("decision", "written", "unheard"), math.inf)
    for _ in range(rounds):
        best["decision"] = min(best["decision"], _per_call_us(decide, seconds))
        handler = write_json_lines(stream)
        try:
            best["written"] = min(best["written"], _per_call_us(decide_and_audit, seconds))
        finally:
            logging.getLogger(AUDIT_LOGGER).removeHandler(handler)
        written = stream.lines
        best["unheard"] = min(best["unheard"], _per_call_us(decide_and_audit, seconds))
        if not written or stream.lines != written:
            raise RuntimeError("the written case wrote no line, or the unheard one wrote some")
    return best


def bench_telemetry(seconds: float, rounds: int) -> float | None:
    """Microseconds per decision with its audit event and its OpenTelemetry (counter, histogram, attributes on a
    recording span), the SDK configured; ``None`` without ``opentelemetry-sdk``. Sets the process's providers:
    run it last."""
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return None
    from fastmcp_scopes import telemetry

    trace.set_tracer_provider(TracerProvider())
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    guard = ScopeGuard(**LAYERS)
    own = Requirement.any_of([["employees:write", "payroll:approve"], ["admin"]])
    caller = Caller(frozenset([*CALLER_SCOPES, "payroll:approve"]), subject="bench", client_id="bench")
    operation = Operation.of("tools/call", {"name": "update_salary", "arguments": {}}, 1)

    def observed() -> None:
        start = time.perf_counter()
        decision = guard.decide("tools/call", caller=caller, name="update_salary", own=own, request_id=1)
        telemetry.record(decision, operation, time.perf_counter() - start)
        emit(decision, clock=time.time)

    with trace.get_tracer("bench").start_as_current_span("tools/call update_salary"):  # the server's request span
        return min(_per_call_us(observed, seconds) for _ in range(rounds))


async def bench_requests(
    lineage: Lineage, tools: int, seconds: float, rounds: int, listings: int, mode: str
) -> dict[str, float]:
    plain, guarded = _server(lineage, tools, guarded=False), _server(lineage, tools, guarded=True)
    best = {
        "call": float("inf"),
        "call_guarded": float("inf"),
        "list_plain": float("inf"),
        "list_guarded": float("inf"),
    }
    with acting_as(CALLER_SCOPES):
        async with (
            lineage.client(plain, mode) as plain_client,
            lineage.client(guarded, mode) as guarded_client,
        ):
            plain_count = await plain_client.count_tools()
            guarded_count = await guarded_client.count_tools()
            if plain_count != tools or guarded_count != tools:
                raise RuntimeError(f"expected {tools} tools in both listings, got {plain_count} and {guarded_count}")
            # The servers, their thousands of tools and whatever earlier measurements left behind are set aside
            # from the collector: otherwise a full collection triggered inside one listing scans all of them and
            # adds a pause (tens to over a hundred ms at 1,000 tools on fastmcp 4) to whichever server happens
            # to be listing, and the ratio swings between 0.2x and 4.6x from run to run.
            gc.collect()
            gc.freeze()
            try:
                await _measure(plain_client, guarded_client, best, seconds, rounds, listings)
            finally:
                gc.unfreeze()
    return best


async def _measure(
    plain_client: InProcessClient,
    guarded_client: InProcessClient,
    best: dict[str, float],
    seconds: float,
    rounds: int,
    listings: int,
) -> None:
    """Calls and listings, guarded and unguarded, ``rounds`` times; the fastest of each kept in ``best``."""
    for _ in range(rounds):
        best["call"] = min(best["call"], await per_await_us(lambda: plain_client.call("empty", {}), seconds))
        best["call_guarded"] = min(
            best["call_guarded"],
            await per_await_us(lambda: guarded_client.call("empty", {}), seconds),
        )
        # One listing takes long enough to time alone; alternating single listings keeps a
        # busy machine from favouring whichever case happened to run in a quiet moment.
        for _ in range(listings):
            for key, client in (("list_plain", plain_client), ("list_guarded", guarded_client)):
                start = time.perf_counter()
                await client.count_tools()
                best[key] = min(best[key], (time.perf_counter() - start) * 1e6)


_CLIENTS = {
    "sdk1": "the SDK's in-memory ClientSession",
    "sdk2": "mcp.Client",
    "fastmcp3": "fastmcp.Client",
    "fastmcp4": "fastmcp.Client",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--server", choices=NAMES, help="the lineage to measure (default: this environment's)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (about 15 seconds)")
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--rounds", type=int, help="rounds, the best kept (default 7; quick 3)")
    parser.add_argument("--seconds", type=float, help="minimum time per decision or call measurement (default 0.5)")
    parser.add_argument("--listings", type=int, help="alternating single listings of each kind per round (default 5)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    args = parser.parse_args()
    defaults = {"rounds": (7, 3), "seconds": (0.5, 0.2), "listings": (5, 3)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    for name in ("tools", "rounds", "listings"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.seconds <= 0:
        parser.error("--seconds must be more than 0")
    lineage = choose(args.server)

    # Audit events are built and handled as in production, but not printed over the report.
    audit_logger = logging.getLogger(AUDIT_LOGGER)
    audit_logger.addHandler(logging.NullHandler())
    audit_logger.propagate = False
    audit_logger.setLevel(logging.INFO)
    logging.getLogger("fastmcp_scopes").setLevel(logging.ERROR)  # the install report's warnings

    timed = bench_decision(args.seconds, args.rounds)
    decision, audited, unheard = timed["decision"], timed["written"], timed["unheard"]
    pipelined = bench_pipeline(lineage, args.seconds, args.rounds)
    print(f"server {lineage.describe()}")
    print(f"python {sys.version.split()[0]}; best of {args.rounds} rounds ({args.listings} listings each per round)")
    for note in lineage.notes:
        print(f"  note: {note}")
    print(f"guard decision (tools/call, layers + hierarchy + 2 alternatives): {decision:8.2f} µs   (target < 10 µs)")
    print(f"guard decision and its audit event, written as a JSON line:       {audited:8.2f} µs")
    print(f"guard decision and its audit event, enabled but unheard:          {unheard:8.2f} µs")
    print(f"pipeline decision (read operation, resolve tool, decide):         {pipelined:8.2f} µs")
    print(f"pipeline decision / guard decision:                               {pipelined / decision:8.2f} x")
    figures: dict[str, Any] = {
        "server": lineage.name,
        "describe": lineage.describe(),
        "notes": list(lineage.notes),
        "decision_us": decision,
        "audited_us": audited,
        "audited_unheard_us": unheard,
        "pipeline_us": pipelined,
        "tools": args.tools,
        "modes": {},
    }
    for mode in lineage.modes:
        best = anyio.run(bench_requests, lineage, args.tools, args.seconds, args.rounds, args.listings, mode)
        print(f"\nin-process {_CLIENTS[lineage.name]}, mode={mode!r}")
        print(f"  empty tool handler call, unguarded:        {best['call']:10.1f} µs")
        print(f"  decision and audit / empty handler call:   {audited / best['call']:10.4f} x")
        print(f"  empty tool handler call, guarded:          {best['call_guarded']:10.1f} µs")
        print(f"  guarded / unguarded call:                  {best['call_guarded'] / best['call']:10.3f} x")
        print(f"  tools/list of {args.tools} tools, unguarded:     {best['list_plain']:10.1f} µs")
        print(f"  tools/list of {args.tools} tools, guarded:       {best['list_guarded']:10.1f} µs")
        ratio = best["list_guarded"] / best["list_plain"]
        print(f"  guarded / unguarded listing:               {ratio:10.3f} x   (target <= 1.2 x)")
        figures["modes"][mode] = best
    observed = bench_telemetry(args.seconds, args.rounds)  # last: it configures the OpenTelemetry SDK
    print("\nthe price of observability per decision (the OpenTelemetry SDK configured only here):")
    print(f"  decision:                                  {decision:8.2f} µs {1:8.2f} x")
    print(f"  decision + audit event, written:           {audited:8.2f} µs {audited / decision:8.2f} x   (goal < 2 x)")
    print(f"  decision + audit event, unheard:           {unheard:8.2f} µs {unheard / decision:8.2f} x")
    if observed is None:
        print("  decision + unheard audit + OpenTelemetry:  (opentelemetry-sdk is not installed)")
    else:
        print(f"  decision + unheard audit + OpenTelemetry:  {observed:8.2f} µs {observed / decision:8.2f} x")
    figures["observed_us"] = observed
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=1)


if __name__ == "__main__":
    main()
