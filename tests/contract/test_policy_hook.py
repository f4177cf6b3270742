"""Issue 14, part 2: a deny-only policy hook, asked after the scopes allow a call, on every lineage, in-process
and over real HTTP. Its refusal is a 403 that names no scope (no challenge: a step-up would not help), with the
reason in the JSON-RPC ``data`` and the audit event; a hook that fails or hangs refuses; its answers are cached
per caller and operation for a configured time; it runs once per request, never after the scopes refused, and
always sees the canonical primitive, whatever name or method reached it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import mcp.types as types
import pytest

from fastmcp_scopes import PolicyDenial, PolicyOperation, public, requires_scopes
from fastmcp_scopes import policy_hook as policy_hook_module
from fastmcp_scopes.policy import Caller

from ..adapters.hr import add_hr_primitives
from .conftest import (
    HANDSHAKE,
    Guarded,
    Install,
    ServerKind,
    dashboard,
    every_transport,
    http_only,
    listing,
    skip_unless,
    succeeded,
)

AUDIT_LOGGER = "fastmcp_scopes.audit"
DELETE = {"name": "delete_employee", "arguments": {"employee": "alice"}}
REASON = "Deletions need a second pair of eyes"


class Recorder:
    """A hook that records what it was asked and refuses the operations ``refuse(caller, operation)`` names."""

    def __init__(self, refuse: Any = None) -> None:
        self.asked: list[tuple[Caller | None, PolicyOperation]] = []
        self.refuse = refuse or (lambda caller, operation: operation.name == "delete_employee")

    async def __call__(self, caller: Caller | None, operation: PolicyOperation) -> PolicyDenial | None:
        self.asked.append((caller, operation))
        return PolicyDenial(REASON) if self.refuse(caller, operation) else None

    @property
    def names(self) -> list[tuple[str, str, str]]:
        return [(o.method, o.kind, o.name) for _, o in self.asked]


def _research_agents(caller: Caller | None, operation: PolicyOperation) -> bool:
    return caller is not None and (caller.claims or {}).get("role") == "research-agent"


def hints(**hints: bool) -> types.ToolAnnotations:
    """Tool annotations as the protocol spells them (``destructiveHint``), on either SDK major."""
    return types.ToolAnnotations.model_validate(hints)


def staff(kind: ServerKind, ran: list[str]) -> Any:
    """The HR server, with a destructive tool and a read-only one."""
    server = kind.new("hr")
    add_hr_primitives(server, ran)

    @server.tool(annotations=hints(destructiveHint=True))
    @requires_scopes("employees:write")
    def delete_employee(employee: str) -> str:
        ran.append("delete_employee")
        return f"deleted {employee}"

    @server.tool(annotations=hints(readOnlyHint=True))
    @requires_scopes("reports:read")
    def read_report(name: str) -> str:
        ran.append("read_report")
        return f"report {name}"

    return server


def as_(guarded: Guarded, subject: str, claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of ``ask`` for a caller named ``subject`` with ``claims`` on this transport."""
    if guarded.transport == "http":
        return {"subject": subject, **(claims or {})}
    return {"subject": subject, "claims": dict(claims or {})}


def caller(guarded: Guarded, scopes: list[str], subject: str, claims: Mapping[str, Any] | None = None) -> Any:
    """``await ask(method, params)`` as one caller: over HTTP with one token (claims such as ``jti`` and ``iat``
    differ per token, and the hook's answers are cached per caller, every claim included), as a real client does."""
    if guarded.transport != "http":
        return lambda method, params: guarded.ask(scopes, method, params, **as_(guarded, subject, claims))
    token = guarded.token(scopes, subject=subject, **(claims or {}))
    return lambda method, params: guarded.post(token, method, params)


def audit_events(caplog: pytest.LogCaptureFixture, method: str) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == AUDIT_LOGGER and r.audit["method"] == method]  # type: ignore[attr-defined]


POLICY_ERROR = {"code": -32005, "message": "policy_denied: Refused by policy"}


# -- refusing and allowing --------------------------------------------------------------------------------


@every_transport
async def test_a_refusal_names_no_scope_and_carries_the_reason(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    hook = Recorder()
    guarded = await install(staff(server_kind, ran), policy_hook=hook)

    answer = await guarded.ask(["employees:write"], "tools/call", DELETE)

    assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": REASON}}, answer.whole()
    assert ran == []
    if guarded.transport == "http":
        # RFC 9110 §15.5.4: understood, and refused; no Bearer challenge, so no client steps up for nothing.
        assert answer.status == 403
        assert "www-authenticate" not in answer.headers
        assert answer.raw == (
            b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "policy_denied: Refused by policy", '
            b'"data": {"error": "policy_denied", "reason": "Deletions need a second pair of eyes"}}}'
        )
        assert "scope" not in answer.raw.decode()


@every_transport
async def test_a_call_the_hook_lets_through_runs_and_the_hook_saw_everything(
    server_kind: ServerKind, install: Install
) -> None:
    ran: list[str] = []
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, ran), policy_hook=hook)

    answer = await guarded.ask(
        ["employees:write", "extra"], "tools/call", DELETE, **as_(guarded, "ada", {"role": "auditor"})
    )

    assert succeeded(answer), answer.whole()
    assert ran == ["delete_employee"]
    [(caller, operation)] = hook.asked
    assert caller is not None
    assert (caller.subject, caller.scopes) == ("ada", frozenset({"employees:write", "extra"}))
    assert caller.claims is not None and caller.claims["role"] == "auditor"
    assert (operation.method, operation.kind, operation.name, operation.target) == (
        "tools/call",
        "tools",
        "delete_employee",
        "delete_employee",
    )
    assert operation.scopes == (("employees:write",),)
    assert operation.annotations.get("destructiveHint") is True
    assert dict(operation.arguments) == {"employee": "alice"}


@every_transport
async def test_the_audit_event_records_the_refusal_and_its_reason(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    guarded = await install(staff(server_kind, []), policy_hook=Recorder())
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    await guarded.ask(["employees:write"], "tools/call", DELETE, **as_(guarded, "ada"))

    [event] = audit_events(caplog, "tools/call")
    assert (event["outcome"], event["reason"], event["name"], event["caller"]["sub"]) == (
        "policy_denied",
        REASON,
        "delete_employee",
        "ada",
    )
    assert event["missing"] == []


@every_transport
async def test_the_scopes_decide_first_and_a_refused_call_never_reaches_the_hook(
    server_kind: ServerKind, install: Install
) -> None:
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, []), policy_hook=hook)

    answer = await guarded.ask(["employees:read"], "tools/call", DELETE)

    assert answer.error is not None and answer.error["code"] == -32003, answer.whole()
    assert answer.error["data"]["missing"] == ["employees:write"]
    assert hook.asked == []


@every_transport
async def test_listings_are_filtered_by_scopes_only(server_kind: ServerKind, install: Install) -> None:
    hook = Recorder(refuse=lambda caller, operation: True)
    guarded = await install(staff(server_kind, []), policy_hook=hook)

    tools = await listing(guarded, ["employees:write"], "tools")

    assert "delete_employee" in tools["tools"]
    assert hook.asked == []


@every_transport
async def test_a_public_call_without_a_token_is_asked_about_too(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    server = staff(server_kind, ran)

    @server.tool()
    @public
    def search(query: str) -> str:
        ran.append("search")
        return f"found {query}"

    hook = Recorder(refuse=lambda caller, operation: operation.name == "search")
    guarded = await install(server, policy_hook=hook)

    answer = await guarded.ask(None, "tools/call", {"name": "search", "arguments": {"query": "lamps"}})

    assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": REASON}}, answer.whole()
    assert answer.status in (None, 403)
    [(asking, _)] = hook.asked
    assert asking is not None and asking.anonymous and asking.subject is None
    assert ran == []


# -- fail closed ------------------------------------------------------------------------------------------


async def _raises(caller: Caller | None, operation: PolicyOperation) -> PolicyDenial | None:
    raise RuntimeError("database password is hunter2")


async def _hangs(caller: Caller | None, operation: PolicyOperation) -> PolicyDenial | None:
    await asyncio.sleep(30)
    return None


async def _answers_oddly(caller: Caller | None, operation: PolicyOperation) -> Any:
    return "yes"


@every_transport
@pytest.mark.parametrize(
    ("hook", "reason"),
    [
        pytest.param(_raises, "The policy hook failed", id="an-exception"),
        pytest.param(_hangs, "The policy hook did not answer in time", id="a-timeout"),
        pytest.param(_answers_oddly, "The policy hook gave no valid answer", id="an-odd-answer"),
    ],
)
async def test_a_hook_that_cannot_decide_refuses_without_saying_why(
    server_kind: ServerKind, install: Install, hook: Any, reason: str
) -> None:
    ran: list[str] = []
    guarded = await install(staff(server_kind, ran), policy_hook=hook, policy_hook_timeout=0.2)

    answer = await guarded.ask(["employees:write"], "tools/call", DELETE)

    assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": reason}}, answer.whole()
    assert "hunter2" not in answer.whole() and "RuntimeError" not in answer.whole()
    assert ran == []


# -- once per request -------------------------------------------------------------------------------------


@every_transport
@pytest.mark.parametrize(
    ("method", "params"),
    [
        pytest.param("tools/call", DELETE, id="tool"),
        pytest.param("prompts/get", {"name": "performance_review", "arguments": {"employee": "a"}}, id="prompt"),
        pytest.param("resources/read", {"uri": "hr://employees/7"}, id="template"),
    ],
)
async def test_the_hook_runs_once_per_request(
    server_kind: ServerKind, install: Install, method: str, params: dict[str, Any]
) -> None:
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, []), policy_hook=hook)

    answer = await guarded.ask(["employees:write", "employees:read", "hr:review"], method, params)

    assert succeeded(answer), answer.whole()
    assert len(hook.asked) == 1, hook.names


@http_only
async def test_the_hook_runs_once_per_request_in_a_stateful_session(server_kind: ServerKind, install: Install) -> None:
    """A stateful session runs handlers in another task than the request's: the decision is handed on in the
    request's state, and the hook is not asked again there."""
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, []), policy_hook=hook, stateless_http=False)
    token = guarded.token(["employees:write"])
    initialize = {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "contract", "version": "1"}}
    opened = await guarded.post(token, "initialize", initialize)
    session = {"mcp-session-id": opened.headers["mcp-session-id"]}
    await guarded.post(token, "notifications/initialized", {}, id=None, headers=session)

    answer = await guarded.post(token, "tools/call", DELETE, headers=session, id=2)

    assert succeeded(answer), answer.whole()
    assert hook.names == [("tools/call", "tools", "delete_employee")]


@http_only
async def test_another_callers_session_lends_no_policy_answer(server_kind: ServerKind, install: Install) -> None:
    """In a session Alice opened, Mallory's request is decided, and asked about, as Mallory's."""
    ran: list[str] = []
    hook = Recorder(refuse=_research_agents)
    guarded = await install(staff(server_kind, ran), policy_hook=hook, stateless_http=False, policy_cache_seconds=3600)
    alice = guarded.token(["employees:write"], subject="alice", role="hr")
    mallory = guarded.token(["employees:write"], subject="mallory", role="research-agent")
    initialize = {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "contract", "version": "1"}}
    opened = await guarded.post(alice, "initialize", initialize)
    session = {"mcp-session-id": opened.headers["mcp-session-id"]}
    await guarded.post(alice, "notifications/initialized", {}, id=None, headers=session)
    allowed = await guarded.post(alice, "tools/call", DELETE, headers=session, id=2)

    answer = await guarded.post(mallory, "tools/call", DELETE, headers=session, id=3)

    assert succeeded(allowed), allowed.whole()
    assert answer.status in (403, 404), answer.whole()
    assert not succeeded(answer)
    assert ran == ["delete_employee"]
    assert [c.subject for c, _ in hook.asked if c is not None] == ["alice", "mallory"]


# -- the cache --------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@every_transport
async def test_answers_are_cached_per_caller_and_operation_until_they_expire(
    server_kind: ServerKind, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(policy_hook_module, "_monotonic", clock)
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, []), policy_hook=hook, policy_cache_seconds=60)
    ada = caller(guarded, ["employees:write"], "ada")

    await ada("tools/call", DELETE)
    await ada("tools/call", DELETE)  # cached
    clock.now += 59
    await ada("tools/call", DELETE)  # still cached
    assert len(hook.asked) == 1
    clock.now += 2
    await ada("tools/call", DELETE)  # expired: asked again

    assert len(hook.asked) == 2


@every_transport
async def test_the_cache_holds_at_most_its_size(server_kind: ServerKind, install: Install) -> None:
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, []), policy_hook=hook, policy_cache_seconds=3600, policy_cache_size=1)
    ada = caller(guarded, ["employees:write"], "ada")
    bob = caller(guarded, ["employees:write"], "bob")

    await ada("tools/call", DELETE)
    await ada("tools/call", DELETE)  # cached
    await bob("tools/call", DELETE)  # takes the one place
    await ada("tools/call", DELETE)  # asked again

    assert [c.subject for c, _ in hook.asked if c is not None] == ["ada", "bob", "ada"]


@every_transport
async def test_without_a_cache_time_every_call_is_asked(server_kind: ServerKind, install: Install) -> None:
    hook = Recorder(refuse=lambda caller, operation: False)
    guarded = await install(staff(server_kind, []), policy_hook=hook)

    for _ in range(3):
        await guarded.ask(["employees:write"], "tools/call", DELETE)

    assert len(hook.asked) == 3


@every_transport
@pytest.mark.parametrize(
    ("other", "claims", "scopes", "arguments"),
    [
        pytest.param("bob", {}, ["employees:write"], {"employee": "alice"}, id="another-subject"),
        pytest.param("alice", {"role": "hr"}, ["employees:write"], {"employee": "alice"}, id="other-claims"),
        pytest.param("alice", {"role": "hr"}, ["employees:write", "admin"], {"employee": "alice"}, id="other-scopes"),
    ],
)
async def test_another_callers_cached_answer_never_applies(
    server_kind: ServerKind,
    install: Install,
    other: str,
    claims: dict[str, Any],
    scopes: list[str],
    arguments: dict[str, Any],
) -> None:
    ran: list[str] = []
    hook = Recorder(refuse=_research_agents)
    guarded = await install(staff(server_kind, ran), policy_hook=hook, policy_cache_seconds=3600)
    call = {"name": "delete_employee", "arguments": arguments}

    alice = caller(guarded, ["employees:write"], "alice", {"role": "research-agent"})

    refused = await alice("tools/call", call)
    again = await alice("tools/call", call)  # her own answer, cached
    answer = await caller(guarded, scopes, other, claims)("tools/call", call)

    assert refused.error is not None and refused.error["code"] == -32005, refused.whole()
    assert again.error == refused.error
    assert succeeded(answer), answer.whole()
    assert ran == ["delete_employee"]
    assert len(hook.asked) == 2


@every_transport
async def test_a_cached_allow_for_some_arguments_does_not_apply_to_others(
    server_kind: ServerKind, install: Install
) -> None:
    hook = Recorder(refuse=lambda caller, operation: operation.arguments.get("employee") == "ceo")
    guarded = await install(staff(server_kind, []), policy_hook=hook, policy_cache_seconds=3600)

    ada = caller(guarded, ["employees:write"], "ada")

    allowed = await ada("tools/call", DELETE)
    refused = await ada("tools/call", {"name": "delete_employee", "arguments": {"employee": "ceo"}})

    assert succeeded(allowed), allowed.whole()
    assert refused.error is not None and refused.error["code"] == -32005, refused.whole()


# -- the attack table: other names and other methods reach the canonical primitive ------------------------


def _refuse_everything(caller: Caller | None, operation: PolicyOperation) -> bool:
    return True


ALL_SCOPES = ["employees:read", "employees:write", "hr:review", "docs:read", "admin:purge", "memo:read"]


@every_transport
@pytest.mark.parametrize(
    ("method", "params", "seen"),
    [
        pytest.param(
            "prompts/get",
            {"name": "performance_review", "arguments": {"employee": "a"}},
            ("prompts", "performance_review", "performance_review"),
            id="prompts/get",
        ),
        pytest.param(
            "resources/read",
            {"uri": "hr://policies"},
            ("resources", "hr://policies", "hr://policies"),
            id="resources/read",
        ),
        pytest.param(
            "resources/read",
            {"uri": "hr://employees/7"},
            ("resources", "hr://employees/{employee_id}", "hr://employees/7"),
            id="a-template",
        ),
    ],
)
async def test_every_method_reaching_a_primitive_asks_the_hook_about_it(
    server_kind: ServerKind, install: Install, method: str, params: dict[str, Any], seen: tuple[str, str, str]
) -> None:
    ran: list[str] = []
    hook = Recorder(refuse=_refuse_everything)
    guarded = await install(staff(server_kind, ran), policy_hook=hook)

    answer = await guarded.ask(ALL_SCOPES, method, params)

    assert answer.error is not None and answer.error["code"] == -32005, answer.whole()
    [(_, operation)] = hook.asked
    assert (operation.kind, operation.name, operation.target) == seen
    assert ran == []


@every_transport
async def test_a_completion_asks_the_hook_about_the_prompt_it_completes(
    server_kind: ServerKind, install: Install
) -> None:
    skip_unless(server_kind.add_completion, f"{server_kind.name} serves no completion/complete")
    assert server_kind.add_completion is not None
    completed: list[str] = []
    server = staff(server_kind, [])

    async def complete(ref: Any, argument: Any, context: Any) -> Any:
        completed.append(str(getattr(ref, "name", None) or getattr(ref, "uri", None)))
        return types.Completion(values=["alice"])

    server_kind.add_completion(server, complete)
    hook = Recorder(refuse=_refuse_everything)
    guarded = await install(server, policy_hook=hook)
    params = {
        "ref": {"type": "ref/prompt", "name": "performance_review"},
        "argument": {"name": "employee", "value": "a"},
    }

    answer = await guarded.ask(ALL_SCOPES, "completion/complete", params)

    assert answer.error is not None and answer.error["code"] == -32005, answer.whole()
    assert hook.names == [("completion/complete", "prompts", "performance_review")]
    assert completed == []


@http_only
async def test_a_subscription_asks_the_hook_about_the_resource(server_kind: ServerKind, install: Install) -> None:
    hook = Recorder(refuse=_refuse_everything)
    guarded = await install(staff(server_kind, []), policy_hook=hook)

    answer = await guarded.ask(ALL_SCOPES, "resources/subscribe", {"uri": "hr://employees/7"})

    assert answer.status == 403 and answer.error is not None and answer.error["code"] == -32005, answer.whole()
    assert hook.names == [("resources/subscribe", "resources", "hr://employees/{employee_id}")]


@every_transport
async def test_a_hashed_name_is_asked_about_as_the_tool_it_reaches(server_kind: ServerKind, install: Install) -> None:
    ran: list[str] = []
    server = dashboard(server_kind, ran)
    assert server_kind.hashed_name is not None
    hook = Recorder(refuse=lambda caller, operation: operation.name == "purge")
    guarded = await install(server, policy_hook=hook)
    hashed = server_kind.hashed_name("Dashboard", "purge")

    answer = await guarded.ask(["admin:purge"], "tools/call", {"name": hashed, "arguments": {}})

    assert answer.error is not None and answer.error["code"] == -32005, answer.whole()
    assert [(o.name, o.target) for _, o in hook.asked] == [("purge", hashed)]
    assert ran == []


@every_transport
async def test_a_mounted_tool_is_asked_about_by_the_name_the_parent_lists(
    server_kind: ServerKind, install: Install
) -> None:
    skip_unless(server_kind.mount, f"{server_kind.name} does not mount servers")
    assert server_kind.mount is not None
    ran: list[str] = []
    child = server_kind.new("child")

    @child.tool(annotations=hints(destructiveHint=True))
    @requires_scopes("admin:purge")
    def purge() -> str:
        ran.append("purge")
        return "purged"

    parent = server_kind.new("parent")
    server_kind.mount(parent, child, "kid")
    hook = Recorder(refuse=lambda caller, operation: operation.annotations.get("destructiveHint") is True)
    guarded = await install(parent, policy_hook=hook)
    [listed] = (await listing(guarded, ["admin:purge"], "tools"))["tools"]

    answer = await guarded.ask(["admin:purge"], "tools/call", {"name": listed, "arguments": {}})

    assert answer.error is not None and answer.error["code"] == -32005, answer.whole()
    assert [o.name for _, o in hook.asked] == [listed]
    assert ran == []


@every_transport
async def test_a_tool_version_is_asked_about_as_the_version_that_runs(
    server_kind: ServerKind, install: Install
) -> None:
    skip_unless(server_kind.tool_versions, f"{server_kind.name} has no tool versions")
    ran: list[str] = []
    server = server_kind.new("versions")

    @server.tool(name="report", version="1", annotations=hints(destructiveHint=True))
    @requires_scopes("reports:v1")
    def report_v1() -> str:
        ran.append("v1")
        return "v1"

    @server.tool(name="report", version="2", annotations=hints(readOnlyHint=True))
    @requires_scopes("reports:v2")
    def report_v2() -> str:
        ran.append("v2")
        return "v2"

    hook = Recorder(refuse=lambda caller, operation: operation.annotations.get("destructiveHint") is True)
    guarded = await install(server, policy_hook=hook)
    scopes = ["reports:v1", "reports:v2"]

    latest = await guarded.ask(scopes, "tools/call", {"name": "report", "arguments": {}})
    older = await guarded.ask(
        scopes, "tools/call", {"name": "report", "arguments": {}, "_meta": {"fastmcp": {"version": "1"}}}
    )

    assert succeeded(latest), latest.whole()
    assert older.error is not None and older.error["code"] == -32005, older.whole()
    assert [o.scopes for _, o in hook.asked] == [(("reports:v2",),), (("reports:v1",),)]
    assert ran == ["v2"]


# -- configuration ----------------------------------------------------------------------------------------


async def refuse_deletions(caller: Caller | None, operation: PolicyOperation) -> PolicyDenial | None:
    """A hook named by its import path (``FASTMCP_SCOPES_POLICY_HOOK``)."""
    return PolicyDenial(REASON) if operation.name == "delete_employee" else None


@every_transport
async def test_a_hook_named_by_import_path(server_kind: ServerKind, install: Install) -> None:
    guarded = await install(staff(server_kind, []), policy_hook=f"{__name__}:refuse_deletions")

    answer = await guarded.ask(["employees:write"], "tools/call", DELETE)
    other = await guarded.ask(["reports:read"], "tools/call", {"name": "read_report", "arguments": {"name": "q"}})

    assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": REASON}}, answer.whole()
    assert succeeded(other), other.whole()
