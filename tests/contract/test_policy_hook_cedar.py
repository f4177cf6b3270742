"""Issue 14, part 2: the embedded Cedar engine behind the policy hook, on every lineage, in-process and over
real HTTP: the two example policies of ``examples/policies/`` refusing and allowing, with their reasons in the
JSON-RPC ``data`` and the audit, configured in code and by ``FASTMCP_SCOPES_CEDAR_POLICIES``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fastmcp_scopes.cedar import CedarPolicyHook

from .conftest import Install, ServerKind, every_transport, succeeded
from .test_policy_hook import AUDIT_LOGGER, DELETE, POLICY_ERROR, as_, audit_events, staff

POLICIES = Path(__file__).resolve().parents[2] / "examples" / "policies"
RESEARCH = "Research agents never call destructive tools"
HOURS = "No writes outside 08:00-18:00 UTC"
READ = {"name": "read_report", "arguments": {"name": "q3"}}
SCOPES = ["employees:write", "reports:read"]


def at(hour: int) -> float:
    return datetime(2026, 12, 1, hour, 30, tzinfo=UTC).timestamp()


@every_transport
@pytest.mark.parametrize(
    ("role", "call", "refused"),
    [
        pytest.param("research-agent", DELETE, True, id="a-research-agent-destroys"),
        pytest.param("research-agent", READ, False, id="a-research-agent-reads"),
        pytest.param("hr", DELETE, False, id="hr-destroys"),
        pytest.param(None, DELETE, False, id="no-role-claim"),
    ],
)
async def test_research_agents_never_call_destructive_tools(
    server_kind: ServerKind,
    install: Install,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    role: str | None,
    call: dict[str, Any],
    refused: bool,
) -> None:
    ran: list[str] = []
    monkeypatch.setenv("FASTMCP_SCOPES_CEDAR_POLICIES", str(POLICIES / "research_agents.cedar"))
    guarded = await install(staff(server_kind, ran))
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    claims = {"role": role} if role else {}

    answer = await guarded.ask(SCOPES, "tools/call", call, **as_(guarded, "agent-7", claims))

    [event] = audit_events(caplog, "tools/call")
    if refused:
        assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": RESEARCH}}, answer.whole()
        assert (event["outcome"], event["reason"]) == ("policy_denied", RESEARCH)
        assert ran == []
    else:
        assert succeeded(answer), answer.whole()
        assert event["outcome"] == "allow" and "reason" not in event
        assert ran == [call["name"]]


@every_transport
@pytest.mark.parametrize(
    ("hour", "call", "refused"),
    [
        pytest.param(7, DELETE, True, id="a-write-before-8"),
        pytest.param(8, DELETE, False, id="a-write-at-8"),
        pytest.param(17, DELETE, False, id="a-write-at-17"),
        pytest.param(18, DELETE, True, id="a-write-at-18"),
        pytest.param(23, READ, False, id="a-read-at-night"),
    ],
)
async def test_no_writes_outside_business_hours(
    server_kind: ServerKind,
    install: Install,
    caplog: pytest.LogCaptureFixture,
    hour: int,
    call: dict[str, Any],
    refused: bool,
) -> None:
    ran: list[str] = []
    hook = CedarPolicyHook.from_file(POLICIES / "business_hours.cedar", clock=lambda: at(hour))
    guarded = await install(staff(server_kind, ran), policy_hook=hook)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    answer = await guarded.ask(SCOPES, "tools/call", call)

    [event] = audit_events(caplog, "tools/call")
    if refused:
        assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": HOURS}}, answer.whole()
        assert answer.status in (None, 403) and "www-authenticate" not in answer.headers
        assert (event["outcome"], event["reason"]) == ("policy_denied", HOURS)
        assert ran == []
    else:
        assert succeeded(answer), answer.whole()
        assert ran == [call["name"]]


@every_transport
async def test_a_rule_on_arguments_and_the_canonical_resource(
    server_kind: ServerKind, install: Install, tmp_path: Path
) -> None:
    """Arguments reach ``context.arguments``; a template's reads reach the template as the resource, with the
    URI read in ``context.target``."""
    policies = tmp_path / "hr.cedar"
    policies.write_text(
        '@reason("The CEO is not deleted")\n'
        'forbid (principal, action == Action::"tools/call", resource == Tool::"delete_employee")\n'
        '  when { context.arguments has employee && context.arguments.employee == "ceo" };\n'
        '@reason("Record 7 is sealed")\n'
        'forbid (principal, action, resource == Resource::"hr://employees/{employee_id}")\n'
        '  when { context.target == "hr://employees/7" };\n'
    )
    ran: list[str] = []
    guarded = await install(staff(server_kind, ran), cedar_policies=str(policies))
    scopes = ["employees:write", "employees:read"]

    ceo = await guarded.ask(scopes, "tools/call", {"name": "delete_employee", "arguments": {"employee": "ceo"}})
    bob = await guarded.ask(scopes, "tools/call", {"name": "delete_employee", "arguments": {"employee": "bob"}})
    sealed = await guarded.ask(scopes, "resources/read", {"uri": "hr://employees/7"})
    other = await guarded.ask(scopes, "resources/read", {"uri": "hr://employees/8"})

    assert ceo.error is not None and ceo.error["data"]["reason"] == "The CEO is not deleted", ceo.whole()
    assert succeeded(bob), bob.whole()
    assert sealed.error is not None and sealed.error["data"]["reason"] == "Record 7 is sealed", sealed.whole()
    assert other.result is not None, other.whole()
    assert ran == ["delete_employee"]
