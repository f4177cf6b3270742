"""Issue 15: OpenTelemetry, read back through the SDK's in-memory exporters. A decision's attributes are on the
request span the server creates (in-process and over real HTTP, on every lineage), and every decision is
counted once, with its duration, by outcome, method and kind of primitive; without an SDK, nothing happens."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk comes with the dev extra")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fastmcp_scopes.audit import AUDIT_LOGGER
from fastmcp_scopes.telemetry import DECISION_DURATION, DECISIONS

from .conftest import Install, ServerKind, every_transport, hr, refusal_of, succeeded

UPDATE = {"name": "update_salary", "arguments": {"employee": "alice", "amount": 10}}
NO_REQUEST_SPAN = {"sdk1", "fastmcp3"}
"""Lineages where no request span is current when the guard decides: mcp 1.x creates none, fastmcp 3 opens its
own inside the call, after the guard's hook. There a decision's attributes go on a span only if the application
or an ASGI instrumentation makes one; its metrics are recorded all the same."""
_SDK: tuple[InMemorySpanExporter, InMemoryMetricReader] | None = None


@pytest.fixture
def sdk() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    """The OpenTelemetry SDK, configured once for the process (providers can be set only once), with exporters
    that keep what they get in memory; each test starts with none of what came before."""
    global _SDK
    if _SDK is None:
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
        reader = InMemoryMetricReader(preferred_temporality=delta)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _SDK = (spans, reader)
    spans, reader = _SDK
    spans.clear()
    reader.get_metrics_data()  # delta temporality: collecting now starts the next test at zero
    yield spans, reader
    spans.clear()


def points(data: MetricsData | None, name: str) -> dict[tuple[str, str, str], Any]:
    """The data points of metric ``name`` by (outcome, method, kind)."""
    found: dict[tuple[str, str, str], Any] = {}
    for resource in data.resource_metrics if data is not None else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    a = point.attributes or {}
                    key = (a["fastmcp_scopes.outcome"], a["mcp.method.name"], a["fastmcp_scopes.primitive.kind"])
                    found[key] = point
    return found


async def spans_for(spans: InMemorySpanExporter, primitive: str, count: int) -> list[ReadableSpan]:
    """The finished spans annotated with ``primitive``, once ``count`` of them are (over HTTP the server ends its
    span in its own thread, possibly after the answer has reached the caller)."""
    with anyio.fail_after(10):
        while True:
            found = [
                s
                for s in spans.get_finished_spans()
                if (s.attributes or {}).get("fastmcp_scopes.primitive") == primitive
            ]
            if len(found) >= count:
                return found
            await anyio.sleep(0.01)


@every_transport
async def test_a_decision_is_on_the_request_span_and_in_the_metrics(
    server_kind: ServerKind,
    install: Install,
    sdk: tuple[InMemorySpanExporter, InMemoryMetricReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    spans, reader = sdk
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    guarded = await install(hr(server_kind))

    allowed = await guarded.ask(["employees:write"], "tools/call", UPDATE)
    refused = await guarded.ask(["employees:read"], "tools/call", UPDATE)

    assert succeeded(allowed), allowed.whole()
    refusal_of(refused)
    data = reader.get_metrics_data()  # once: with delta temporality, a collection empties the next one
    counted = {key: p.value for key, p in points(data, DECISIONS).items() if key[1] == "tools/call"}
    assert counted == {("allow", "tools/call", "tools"): 1, ("insufficient_scope", "tools/call", "tools"): 1}
    timed = {key: p.count for key, p in points(data, DECISION_DURATION).items() if key[1] == "tools/call"}
    assert timed == counted
    if server_kind.name in NO_REQUEST_SPAN:
        assert [s.name for s in spans.get_finished_spans() if "fastmcp_scopes.outcome" in (s.attributes or {})] == []
        return
    # Over HTTP the refusal is answered before the server, and its span, exist: only the allowed call has one.
    annotated = await spans_for(spans, "update_salary", 1 if guarded.transport == "http" else 2)
    by_outcome = {(s.attributes or {})["fastmcp_scopes.outcome"]: dict(s.attributes or {}) for s in annotated}
    [subject] = {r.audit["caller"]["sub"] for r in caplog.records if r.name == AUDIT_LOGGER}  # type: ignore[attr-defined]
    assert by_outcome["allow"] == {
        **by_outcome["allow"],
        "fastmcp_scopes.scopes.granted": ("employees:write",),
        "fastmcp_scopes.scopes.missing": (),
        "enduser.id": subject,
    }
    if guarded.transport != "http":
        assert by_outcome["insufficient_scope"]["fastmcp_scopes.scopes.missing"] == ("employees:write",)
    for span in annotated:  # never the token (a JWT starts with the base64 of '{"')
        assert not any("eyJ" in str(value) for value in (span.attributes or {}).values())


def test_without_an_sdk_nothing_is_recorded() -> None:
    # In a fresh interpreter: this process has an SDK configured by the test above.
    script = textwrap.dedent(
        """
        import anyio
        from opentelemetry import metrics, trace
        from fastmcp_scopes import ScopeGuard, requires_scopes, telemetry
        from fastmcp_scopes.testing import scoped_client
        try:
            from mcp.server.mcpserver import MCPServer as Server
        except ImportError:  # mcp 1.x
            from mcp.server.fastmcp import FastMCP as Server

        server = Server("payroll")

        @server.tool()
        @requires_scopes("payroll:read")
        def read_payroll() -> str:
            return "payroll"

        ScopeGuard().install(server)

        async def main():
            async with scoped_client(server, ["payroll:read"]) as client:
                await client.call_tool("read_payroll", {})

        anyio.run(main)
        print(telemetry.current_trace_id())
        # An SDK configured now sees nothing of the decisions taken before it, then counts the next ones.
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        print(reader.get_metrics_data())
        anyio.run(main)
        data = reader.get_metrics_data()
        print(sum(p.value for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics
                  if m.name == "fastmcp_scopes.decisions" for p in m.data.data_points))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    # No trace, nothing collected from before the SDK, and the decisions of one connection and call after it
    # (the handshake or discovery, the call, and the listing the client makes to validate the result).
    trace_id, before, after = done.stdout.split()
    assert (trace_id, before) == ("None", "None")
    assert int(after) >= 2
