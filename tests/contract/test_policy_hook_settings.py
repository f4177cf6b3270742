"""The policy hook's settings: read from ``FASTMCP_SCOPES_*`` like every other, bad values and typos stop
start-up with the variable named, and a hook named by import path in the environment refuses on every lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastmcp_scopes import ConfigurationError, ScopeGuard

from .conftest import Install, ServerKind, every_transport
from .test_policy_hook import DELETE, POLICY_ERROR, REASON, staff


@every_transport
async def test_a_hook_named_in_the_environment(
    server_kind: ServerKind, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_POLICY_HOOK", "tests.contract.test_policy_hook:refuse_deletions")
    ran: list[str] = []
    guarded = await install(staff(server_kind, ran))

    answer = await guarded.ask(["employees:write"], "tools/call", DELETE)

    assert answer.error == {**POLICY_ERROR, "data": {"error": "policy_denied", "reason": REASON}}, answer.whole()
    assert ran == []


def test_the_defaults_ask_nothing_and_cache_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    guard = ScopeGuard()

    assert guard.policy_hook is None
    assert (guard.settings.policy_hook_timeout, guard.settings.policy_cache_seconds) == (5.0, 0.0)
    assert guard.settings.policy_cache_size == 1024


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "FASTMCP_SCOPES_POLICY_HOOK_TIMEOUT",
            "0",
            "FASTMCP_SCOPES_POLICY_HOOK_TIMEOUT (or policy_hook_timeout=) = '0'",
        ),
        ("FASTMCP_SCOPES_POLICY_HOOK_TIMEOUT", "soon", "FASTMCP_SCOPES_POLICY_HOOK_TIMEOUT"),
        ("FASTMCP_SCOPES_POLICY_CACHE_SECONDS", "-1", "FASTMCP_SCOPES_POLICY_CACHE_SECONDS"),
        ("FASTMCP_SCOPES_POLICY_CACHE_SIZE", "0", "FASTMCP_SCOPES_POLICY_CACHE_SIZE"),
        ("FASTMCP_SCOPES_POLICY_HOOK_TIMOUT", "1", "did you mean FASTMCP_SCOPES_POLICY_HOOK_TIMEOUT?"),
        ("FASTMCP_SCOPES_CEDAR_POLICY", "p.cedar", "did you mean FASTMCP_SCOPES_CEDAR_POLICIES?"),
    ],
)
def test_a_bad_value_or_a_typo_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard()

    assert message in str(raised.value)


def test_an_empty_value_is_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTMCP_SCOPES_POLICY_HOOK", "")
    monkeypatch.setenv("FASTMCP_SCOPES_CEDAR_POLICIES", " ")

    assert ScopeGuard().policy_hook is None
