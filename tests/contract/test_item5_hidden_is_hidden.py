"""Issue 8, item 5: with ``hidden_calls="not_found"`` a primitive the caller may not see answers exactly like
one that does not exist, whatever else the request carries: a per-call requirement that cannot be computed
from the arguments, a call layer the caller lacks, either protocol era, ``Mcp-Param-*`` headers. Answers
are compared whole (status, the headers that matter, body) with the two names written alike."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from fastmcp_scopes import requires_scopes

from ..adapters.hr import HIDDEN_AND_UNKNOWN
from .conftest import HANDSHAKE, MODERN, Install, ServerKind, skip_unless
from .conftest import hr as hr_server

Region = Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]


def hr(kind: ServerKind, ran: list[str]) -> Any:
    """The contract's HR server (its per-call ``query`` tool included) and a tool with an ``Mcp-Param`` header."""
    server = hr_server(kind, ran)

    @server.tool()
    @requires_scopes("payroll:run")
    def run_payroll(region: Region) -> str:
        ran.append("run_payroll")
        return region

    return server


def request_for(kind: str, name: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if kind == "tool":
        return "tools/call", {"name": name, "arguments": arguments}
    if kind == "prompt":
        return "prompts/get", {"name": name, "arguments": {"employee": "a"}}
    return "resources/read", {"uri": name}


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"table": "../etc"}, id="no-requirement-can-be-computed"),
        pytest.param({"table": "salaries"}, id="a-computable-requirement"),
        pytest.param({}, id="no-arguments"),
    ],
)
@pytest.mark.parametrize("scopes", [["unrelated:scope"], ["salaries:read"]], ids=["unrelated", "the-per-call-scope"])
async def test_a_hidden_tool_with_a_per_call_requirement_answers_like_a_missing_one(
    server_kind: ServerKind,
    install: Install,
    arguments: dict[str, Any],
    scopes: list[str],
) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), hidden_calls="not_found")

    hidden = await guarded.ask(scopes, "tools/call", {"name": "query", "arguments": arguments})
    missing = await guarded.ask(scopes, "tools/call", {"name": "no_such_tool", "arguments": arguments})

    assert hidden.whole("query") == missing.whole("no_such_tool")
    assert ran == []


@pytest.mark.parametrize(("kind", "hidden", "unknown"), HIDDEN_AND_UNKNOWN)
@pytest.mark.parametrize("call_scopes", [[], ["mcp:call"]], ids=["no-call-layer", "call-layer"])
async def test_every_kind_of_hidden_primitive_answers_like_a_missing_one(
    server_kind: ServerKind, install: Install, kind: str, hidden: str, unknown: str, call_scopes: list[str]
) -> None:
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), hidden_calls="not_found", undeclared="deny", call_scopes=call_scopes)
    arguments = {"employee": "a", "amount": 1}

    hidden_answer = await guarded.ask(["unrelated:scope"], *request_for(kind, hidden, arguments))
    missing_answer = await guarded.ask(["unrelated:scope"], *request_for(kind, unknown, arguments))

    assert hidden_answer.whole(hidden) == missing_answer.whole(unknown)
    assert "scope" not in hidden_answer.whole(hidden).replace("unrelated:scope", "")
    assert ran == []


@pytest.mark.parametrize("transport", ["http"], indirect=True)
@pytest.mark.parametrize("era", [HANDSHAKE, MODERN])
@pytest.mark.parametrize(("kind", "hidden", "unknown"), HIDDEN_AND_UNKNOWN)
async def test_over_http_in_either_era_a_hidden_primitive_answers_like_a_missing_one(
    server_kind: ServerKind, install: Install, era: str, kind: str, hidden: str, unknown: str
) -> None:
    skip_unless(era != MODERN or server_kind.modern_era, f"{server_kind.name} has no {MODERN} era")
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), hidden_calls="not_found", undeclared="deny")
    arguments = {"employee": "a", "amount": 1}

    hidden_answer = await guarded.ask(["unrelated:scope"], *request_for(kind, hidden, arguments), protocol_version=era)
    missing_answer = await guarded.ask(
        ["unrelated:scope"], *request_for(kind, unknown, arguments), protocol_version=era
    )

    assert hidden_answer.whole(hidden) == missing_answer.whole(unknown)
    assert ran == []


@pytest.mark.parametrize("transport", ["http"], indirect=True)
@pytest.mark.parametrize(
    "param_headers",
    [
        pytest.param({"mcp-param-region": "us"}, id="disagreeing-header"),
        pytest.param({}, id="missing-header"),
        pytest.param({"mcp-param-region": "eu"}, id="agreeing-header"),
        pytest.param({"mcp-param-region": "eu", "mcp-param-other": "x"}, id="unknown-header"),
    ],
)
async def test_param_headers_of_a_hidden_tool_answer_like_a_missing_tool(
    server_kind: ServerKind, install: Install, param_headers: dict[str, str]
) -> None:
    skip_unless(server_kind.modern_era, f"{server_kind.name} has no {MODERN} era, so no Mcp-Param-* headers")
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), hidden_calls="not_found")
    arguments = {"region": "eu"}

    hidden = await guarded.ask(
        ["unrelated:scope"],
        *request_for("tool", "run_payroll", arguments),
        protocol_version=MODERN,
        headers=param_headers,
    )
    missing = await guarded.ask(
        ["unrelated:scope"],
        *request_for("tool", "run_payrolx", arguments),
        protocol_version=MODERN,
        headers=param_headers,
    )

    assert hidden.whole("run_payroll") == missing.whole("run_payrolx")
    assert ran == []


@pytest.mark.parametrize("transport", ["http"], indirect=True)
async def test_param_headers_are_still_checked_for_a_visible_tool(server_kind: ServerKind, install: Install) -> None:
    """The control for the table above: the header check is the server's, and runs when the tool is visible."""
    skip_unless(server_kind.modern_era, f"{server_kind.name} has no {MODERN} era, so no Mcp-Param-* headers")
    ran: list[str] = []
    guarded = await install(hr(server_kind, ran), hidden_calls="not_found")

    answer = await guarded.ask(
        ["payroll:run"],
        *request_for("tool", "run_payroll", {"region": "eu"}),
        protocol_version=MODERN,
        headers={"mcp-param-region": "us"},
    )

    assert answer.status == 400, answer.whole()
    assert answer.error is not None and answer.error["code"] == -32020  # HEADER_MISMATCH
    assert ran == []
