"""Installing the guard, on every lineage: configuration that cannot be enforced stops it, with a message
naming what is wrong; and every decision is audited with the caller."""

from __future__ import annotations

import logging

import pytest

from fastmcp_scopes import ConfigurationError, RequirementTooComplexError, ScopeGuard, requires_scopes

from .conftest import Install, ServerKind, every_transport, hr


def test_too_many_alternatives_stop_install(server_kind: ServerKind) -> None:
    server = server_kind.new("complex")

    @server.tool()
    @requires_scopes(any_of=[["a1"], ["a2"], ["a3"]])
    def wide() -> str:
        return "w"

    guard = ScopeGuard(tool_scopes={"wide": [["b1"], ["b2"], ["b3"]]}, max_alternatives=8)

    with pytest.raises(RequirementTooComplexError, match="requirement for tool 'wide' has 9 alternatives") as raised:
        guard.install(server)
    assert raised.value.cap == 8


def test_a_requirement_that_cannot_be_computed_stops_install(server_kind: ServerKind) -> None:
    server = server_kind.new("bad")

    @server.tool()
    @requires_scopes(graphql="query Q { employees { id } }")
    def employees() -> str:
        return ""

    with pytest.raises(ConfigurationError, match="FASTMCP_SCOPES_GRAPHQL_SCHEMA"):
        ScopeGuard().install(server)


def test_a_bad_environment_stops_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_TOOL_SCOPES", '{"list_employees": "employees read\\""}')

    with pytest.raises(ConfigurationError, match=r"FASTMCP_SCOPES_TOOL_SCOPES .*invalid scope token 'read\"'"):
        ScopeGuard()


def test_installing_twice_is_refused(server_kind: ServerKind) -> None:
    server = hr(server_kind)
    ScopeGuard().install(server)

    with pytest.raises(RuntimeError, match="already installed"):
        ScopeGuard().install(server)


@pytest.mark.parametrize("server", ["not a server", object()], ids=["str", "object"])
def test_another_kind_of_server_is_refused_naming_what_is_supported(server: object) -> None:
    # The supported kinds depend on the lineages installed; the message names them and what it got.
    with pytest.raises(TypeError, match=rf"supports .*(MCPServer|FastMCP).*got \S*\b{type(server).__name__}\b"):
        ScopeGuard().install(server)


def test_a_subclass_in_the_users_own_module_is_guarded_like_its_base(server_kind: ServerKind) -> None:
    base = type(server_kind.new("probe"))
    subclass = type("MyServer", (base,), {"__module__": "my_app.server"})
    server = hr(server_kind, server=subclass("mine"))

    assert ScopeGuard().install(server).undeclared == ("tools:server_time",)


@every_transport
async def test_every_decision_is_audited_with_the_caller(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    guarded = await install(hr(server_kind))
    caplog.set_level(logging.INFO, logger="fastmcp_scopes.audit")
    identity = {"subject": "alice", "client_id": "hr-app"}

    await guarded.ask(["employees:read"], "tools/call", {"name": "list_employees", "arguments": {}}, **identity)
    await guarded.ask(
        ["employees:read"],
        "tools/call",
        {"name": "update_salary", "arguments": {"employee": "a", "amount": 1}},
        **identity,
    )

    events = [r.audit for r in caplog.records if r.name == "fastmcp_scopes.audit"]  # type: ignore[attr-defined]
    calls = [(e["method"], e["name"], e["outcome"], e["missing"]) for e in events if e["method"] == "tools/call"]
    assert calls == [
        ("tools/call", "list_employees", "allow", []),
        ("tools/call", "update_salary", "insufficient_scope", ["employees:write"]),
    ]
    issuer = guarded.auth.issuer if guarded.transport == "http" else "https://issuer.test"
    for event in events:
        assert event["caller"] == {"sub": "alice", "client_id": "hr-app", "iss": issuer}
        # A notification is decided too (the connect layer), and has no request id to record.
        assert (event["request_id"] is None) == event["method"].startswith("notifications/")
