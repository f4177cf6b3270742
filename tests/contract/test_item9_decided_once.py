"""Issue 8, item 9: a request is decided once, on every lineage and transport: exactly one audit decision
event per request (as the ``fastmcp_scopes`` audit logger emits them), and a requirement computed from
the arguments is computed once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from fastmcp_scopes import Requirement, requires_scopes

from ..adapters.hr import add_hr_primitives
from .conftest import Install, ServerKind

AUDIT_LOGGER = "fastmcp_scopes.audit"


def hr(kind: ServerKind, computed: list[dict[str, Any]]) -> Any:
    server = kind.new("hr")
    add_hr_primitives(server, [])

    def scopes_of(arguments: Mapping[str, Any]) -> Requirement:
        computed.append(dict(arguments))
        return Requirement.all_of(f"{arguments['table']}:read")

    @server.tool()
    @requires_scopes(per_call=scopes_of)
    def query(table: str) -> str:
        return table

    return server


REQUESTS = [
    pytest.param(["employees:read"], "tools/call", {"name": "list_employees", "arguments": {}}, id="an-allowed-call"),
    pytest.param([], "tools/call", {"name": "list_employees", "arguments": {}}, id="a-refused-call"),
    pytest.param(
        ["employees:read"], "tools/call", {"name": "query", "arguments": {"table": "employees"}}, id="per-call"
    ),
    pytest.param([], "tools/list", {}, id="a-listing"),
    pytest.param(
        ["hr:review"], "prompts/get", {"name": "performance_review", "arguments": {"employee": "a"}}, id="prompt"
    ),
    pytest.param(["docs:read"], "resources/read", {"uri": "hr://policies"}, id="resource"),
    pytest.param(["employees:read"], "resources/read", {"uri": "hr://employees/7"}, id="template"),
]


@pytest.mark.parametrize(("scopes", "method", "params"), REQUESTS)
async def test_one_request_one_decision(
    server_kind: ServerKind,
    install: Install,
    transport: str,
    caplog: pytest.LogCaptureFixture,
    scopes: list[str],
    method: str,
    params: dict[str, Any],
) -> None:
    computed: list[dict[str, Any]] = []
    guarded = await install(hr(server_kind, computed))
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    await guarded.ask(scopes, method, params)

    events = [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]
    assert [(e["method"], e["name"]) for e in events if e["method"] == method] == [
        (method, params.get("name") or params.get("uri"))
    ]
    if params.get("name") == "query":
        assert computed == [params["arguments"]]
