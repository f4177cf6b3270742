"""Audit events and log lines stay small whatever the caller sends: every string from the request or the
token is cut with a marker giving its length, and stays quoted, so it can neither flood nor forge the log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx2
import pytest

from fastmcp_scopes import Caller, ScopeGuard
from fastmcp_scopes.audit import AUDIT_LOGGER, MAX_SCOPES, MAX_TEXT, audit_event, bounded, emit
from fastmcp_scopes.testing import DevAuthorizationServer
from tests.http.conftest import GRANTABLE, deploy
from tests.http.rpc import post_rpc, tool_call

HUGE = 200_000


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def cut(text: str) -> str:
    return f"{text[:MAX_TEXT]}...[{len(text)} characters]"


async def test_a_200_kb_unknown_tool_name_makes_a_small_audit_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    name = "x" * HUGE

    async with DevAuthorizationServer(scopes=GRANTABLE) as auth:
        loopback, get = deploy(auth, json_response=True, stateless_http=True)
        async with loopback:
            deployment = get()
            token = auth.issue_token(["mcp:connect", "mcp:tools:call"], audience=deployment.url, subject="alice")
            async with httpx2.AsyncClient(timeout=30) as http:
                await post_rpc(http, deployment.url, tool_call(name, id=3), token)

    [record] = [r for r in caplog.records if r.name == AUDIT_LOGGER and r.audit["method"] == "tools/call"]  # type: ignore[attr-defined]
    event = record.audit  # type: ignore[attr-defined]
    assert event["name"] == cut(name)
    assert record.getMessage() == f"{event['outcome']} 'tools/call' {cut(name)!r} by 'alice'"
    assert len(json.dumps(event)) < 2 * MAX_TEXT + 500
    assert deployment.calls == []


def test_every_caller_supplied_string_is_bounded() -> None:
    long = "é" * (MAX_TEXT + 1)
    caller = Caller(
        frozenset({f"scope:{i:03}" for i in range(MAX_SCOPES + 6)} | {"s" * HUGE}),
        subject="sub-" + long,
        client_id="client-" + long,
        issuer="https://as.example/" + long,
    )
    decision = ScopeGuard().decide("tools/call", caller=caller, name="n" * HUGE, request_id="r" * HUGE)

    event = audit_event(decision, now=0.0)

    assert event["name"] == cut("n" * HUGE)
    assert event["request_id"] == cut("r" * HUGE)
    assert event["caller"] == {
        "sub": cut("sub-" + long),
        "client_id": cut("client-" + long),
        "iss": cut("https://as.example/" + long),
    }
    assert event["granted"] == [
        *(f"scope:{i:03}" for i in range(MAX_SCOPES)),
        f"...[{MAX_SCOPES + 7} scopes]",
    ]
    assert len(json.dumps(event, ensure_ascii=False)) < 10 * MAX_TEXT + MAX_SCOPES * 20


def test_a_method_from_the_request_is_bounded() -> None:
    decision = ScopeGuard().decide("m" * HUGE, caller=Caller(frozenset(), subject="alice"), name="x")

    assert audit_event(decision, now=0.0)["method"] == cut("m" * HUGE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", ""),
        ("a" * MAX_TEXT, "a" * MAX_TEXT),
        ("a" * (MAX_TEXT + 1), "a" * MAX_TEXT + f"...[{MAX_TEXT + 1} characters]"),
        (7, 7),
        (10**400, str(10**400)[:MAX_TEXT] + "...[401 characters]"),
    ],
)
def test_bounded(value: str | int | None, expected: str | int | None) -> None:
    assert bounded(value) == expected


def test_a_long_forged_name_is_cut_and_still_quoted(caplog: pytest.LogCaptureFixture) -> None:
    forged = "pay\nallow tools/call pay " + "y" * HUGE
    decision = ScopeGuard().decide("tools/call", caller=Caller(frozenset(), subject="eve\nINFO allow"), name=forged)

    with caplog.at_level("INFO", logger=AUDIT_LOGGER):
        emit(decision, clock=lambda: 0.0)

    [record] = caplog.records
    assert record.getMessage() == f"allow 'tools/call' {cut(forged)!r} by 'eve\\nINFO allow'"
    assert "\n" not in record.getMessage()
