"""``scope_challenge_include_token_scopes``: ``auto`` (the default), ``true``, ``false``, on every lineage.

With ``auto`` a refusal's challenge names the token's scopes too for a request of the handshake era (MCP
before 2026-07-28), whose clients may replace their scopes with the challenge's, and only the operation's
for one of the per-request era (2026-07-28 on), whose clients add the challenge's scopes to theirs
(SEP-2350). The era is read from every place a request states its version: the ``MCP-Protocol-Version``
header (absent: 2025-03-26), the ``_meta`` key ``io.modelcontextprotocol/protocolVersion``, ``initialize``'s
``protocolVersion``, and in-process the session's version. A version that is absent, malformed or
contradicted reads as the handshake era: a union names only scopes the token already holds.

Each row is asserted whole on the wire: the 403's ``WWW-Authenticate`` ``scope`` and the JSON-RPC error's
``data.scope`` (over HTTP), the JSON-RPC error (in-process), and the audit event's ``challenge``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from fastmcp_scopes import requires_scopes
from fastmcp_scopes.audit import AUDIT_LOGGER
from fastmcp_scopes.challenge import parse_www_authenticate

from .conftest import HANDSHAKE, MODERN, SDK_MAJOR, Guarded, Install, http_answer, http_only, refusal_of
from .kinds import ServerKind

HELD = ["employees:read", "mcp:connect"]
"""The caller's token: connected, reading, not writing."""
PRECISE = "employees:write mcp:connect"
UNION = "employees:read employees:write mcp:connect"
VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
SETTINGS = ["auto", True, False]


def expected(setting: object, unions_itself: bool) -> str:
    """The challenge ``scope`` a caller holding :data:`HELD` gets for ``update_employee_mood``."""
    if setting is True or (setting == "auto" and not unions_itself):
        return UNION
    return PRECISE


def mode_of(scope: str) -> str:
    return "union" if scope == UNION else "precise"


def employees(kind: ServerKind) -> Any:
    server = kind.new("employees")

    @server.tool()
    @requires_scopes("employees:write")
    def update_employee_mood(employee_id: int, mood: str) -> str:
        raise AssertionError("a refused call never runs")

    @server.prompt()
    @requires_scopes("employees:write")
    def mood_report(team: str) -> str:
        raise AssertionError("a refused prompt never runs")

    @server.resource("employees://moods")
    @requires_scopes("employees:write")
    def moods() -> str:
        raise AssertionError("a refused read never runs")

    return server


CALL: dict[str, Any] = {"name": "update_employee_mood", "arguments": {"employee_id": 1, "mood": "calm"}}


def with_meta(params: Mapping[str, Any], version: object) -> dict[str, Any]:
    """``params`` carrying the 2026-07-28 per-request fields, with ``version`` as the stated version."""
    meta = {VERSION_KEY: version, "io.modelcontextprotocol/clientCapabilities": {}}
    return {**params, "_meta": meta}


async def raw_post(guarded: Guarded, message: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
    """POST ``message`` with exactly ``headers`` (beside accept, content type and the bearer token): no
    ``MCP-Protocol-Version`` unless given."""
    assert guarded.http is not None
    sent = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "authorization": f"Bearer {guarded.token(HELD)}",
        **headers,
    }
    response = await guarded.http.post(guarded.url, content=json.dumps(message).encode(), headers=sent)
    return http_answer(response)


def challenge_of(answer: Any) -> str:
    """The challenge ``scope`` of a 403, checked to be the same in the header and in the JSON-RPC data."""
    assert answer.status == 403, answer.whole()
    header = parse_www_authenticate(answer.challenge or "")["scope"]
    data = refusal_of(answer)["data"]["scope"]
    assert header == data, answer.whole()
    return str(header)


def audited_modes(caplog: pytest.LogCaptureFixture) -> list[str | None]:
    return [r.audit["challenge"] for r in caplog.records if getattr(r, "audit", None) and r.audit["outcome"] != "allow"]


# -- over HTTP: each era's version sources ------------------------------------------------------------

# (row, headers, params' stated version (absent: no per-request _meta), whether the request unions itself)
HTTP_ROWS: list[tuple[str, dict[str, str], object, bool]] = [
    ("2025-11-25 header", {"mcp-protocol-version": HANDSHAKE}, None, False),
    ("2025-06-18 header", {"mcp-protocol-version": "2025-06-18"}, None, False),
    ("no header: 2025-03-26", {}, None, False),
    ("2026-07-28 header and _meta", {"mcp-protocol-version": MODERN, "mcp-method": "tools/call"}, MODERN, True),
    ("2026-07-28 header only", {"mcp-protocol-version": MODERN}, None, True),
    ("a later version in both", {"mcp-protocol-version": "2027-03-01"}, "2027-03-01", True),
    ("2026-07-28 _meta, no header", {}, MODERN, False),
    ("header 2026-07-28, _meta 2025-11-25", {"mcp-protocol-version": MODERN}, HANDSHAKE, False),
    ("header 2025-11-25, _meta 2026-07-28", {"mcp-protocol-version": HANDSHAKE}, MODERN, False),
    ("garbage header", {"mcp-protocol-version": "latest"}, None, False),
    ("garbage header, 2026-07-28 _meta", {"mcp-protocol-version": "latest"}, MODERN, False),
    ("empty header", {"mcp-protocol-version": ""}, None, False),
    ("_meta version not a string", {"mcp-protocol-version": MODERN}, 20260728, False),
    ("_meta version null", {"mcp-protocol-version": MODERN}, "null", False),
]


@pytest.mark.spec("mcp/include-token-scopes")
@http_only
@pytest.mark.parametrize("setting", SETTINGS, ids=["auto", "true", "false"])
@pytest.mark.parametrize(("row", "headers", "stated", "unions_itself"), HTTP_ROWS, ids=[r[0] for r in HTTP_ROWS])
async def test_over_http_each_version_source_decides_the_challenge(
    server_kind: ServerKind,
    install: Install,
    caplog: pytest.LogCaptureFixture,
    setting: object,
    row: str,
    headers: dict[str, str],
    stated: object,
    unions_itself: bool,
) -> None:
    guarded = await install(
        employees(server_kind), connect_scopes=["mcp:connect"], scope_challenge_include_token_scopes=setting
    )
    params = dict(CALL) if stated is None else with_meta(CALL, None if stated == "null" else stated)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    answer = await raw_post(guarded, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}, headers)

    scope = challenge_of(answer)
    assert scope == expected(setting, unions_itself), row
    assert audited_modes(caplog) == [mode_of(scope)]


# (row, headers, initialize's protocolVersion, whether the request unions itself)
INITIALIZE_ROWS: list[tuple[str, dict[str, str], str, bool]] = [
    ("2025-11-25, no header", {}, HANDSHAKE, False),  # the header comes after initialize: 2025-03-26 disagrees
    ("2025-11-25 in both", {"mcp-protocol-version": HANDSHAKE}, HANDSHAKE, False),
    ("2025-06-18 proposed, 2025-11-25 header", {"mcp-protocol-version": HANDSHAKE}, "2025-06-18", False),
    ("2026-07-28 in both", {"mcp-protocol-version": MODERN}, MODERN, True),
    ("2026-07-28 proposed, 2025-11-25 header", {"mcp-protocol-version": HANDSHAKE}, MODERN, False),
]


@http_only
@pytest.mark.parametrize("setting", SETTINGS, ids=["auto", "true", "false"])
@pytest.mark.parametrize(
    ("row", "headers", "proposed", "unions_itself"), INITIALIZE_ROWS, ids=[r[0] for r in INITIALIZE_ROWS]
)
async def test_initialize_is_challenged_by_the_version_it_proposes(
    server_kind: ServerKind,
    install: Install,
    setting: object,
    row: str,
    headers: dict[str, str],
    proposed: str,
    unions_itself: bool,
) -> None:
    """A token without the connect scope is refused the handshake itself, as its era asks."""
    guarded = await install(
        employees(server_kind),
        connect_scopes=["mcp:connect", "mcp:handshake"],
        scope_challenge_include_token_scopes=setting,
    )
    params = {"protocolVersion": proposed, "capabilities": {}, "clientInfo": {"name": "contract", "version": "1"}}

    answer = await raw_post(guarded, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}, headers)

    union = "employees:read mcp:connect mcp:handshake"
    assert challenge_of(answer) == (union if expected(setting, unions_itself) == UNION else "mcp:connect mcp:handshake")


@http_only
@pytest.mark.parametrize("setting", SETTINGS, ids=["auto", "true", "false"])
@pytest.mark.parametrize(
    ("version", "unions_itself"), [(HANDSHAKE, False), (MODERN, True), (None, False), ("garbage", False)]
)
async def test_the_sse_stream_and_ending_a_session_follow_the_header(
    server_kind: ServerKind, install: Install, setting: object, version: str | None, unions_itself: bool
) -> None:
    """GET and DELETE have no body: the header alone (absent: 2025-03-26) says the era."""
    guarded = await install(
        employees(server_kind),
        connect_scopes=["mcp:connect", "mcp:stream"],
        scope_challenge_include_token_scopes=setting,
    )
    assert guarded.http is not None
    headers = {"accept": "text/event-stream", "authorization": f"Bearer {guarded.token(HELD)}"}
    if version is not None:
        headers["mcp-protocol-version"] = version
    for verb in ("GET", "DELETE"):
        answer = http_answer(await guarded.http.request(verb, guarded.url, headers=headers))
        scope = parse_www_authenticate(answer.challenge or "")["scope"]
        assert answer.status == 403, answer.whole()
        union = "employees:read mcp:connect mcp:stream"
        assert scope == (union if expected(setting, unions_itself) == UNION else "mcp:connect mcp:stream"), verb


# -- in-process: the session's version ----------------------------------------------------------------

ERAS = ["legacy", MODERN]


@pytest.mark.spec("mcp/include-token-scopes")
@pytest.mark.parametrize("transport", ["in-process"], indirect=True)
@pytest.mark.parametrize("setting", SETTINGS, ids=["auto", "true", "false"])
@pytest.mark.parametrize("era", ERAS)
async def test_in_process_the_sessions_version_decides_the_challenge(
    server_kind: ServerKind, install: Install, caplog: pytest.LogCaptureFixture, setting: object, era: str
) -> None:
    if era == MODERN and (SDK_MAJOR < 2 or not server_kind.modern_era):
        pytest.skip(f"{server_kind.name} speaks only the handshake era")
    guarded = await install(
        employees(server_kind), connect_scopes=["mcp:connect"], scope_challenge_include_token_scopes=setting
    )
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    answer = await guarded.ask(HELD, "tools/call", CALL, mode=era)

    scope = refusal_of(answer)["data"]["scope"]
    assert scope == expected(setting, unions_itself=era == MODERN)
    assert audited_modes(caplog) == [mode_of(scope)]


# Every method that reaches the guard's decision, in both eras: each challenges by the same rule.
OTHER_PATHS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("tools/call", CALL, HELD),
    ("prompts/get", {"name": "mood_report", "arguments": {"team": "a"}}, HELD),
    ("resources/read", {"uri": "employees://moods"}, HELD),
    ("tools/list", {}, ["employees:read"]),  # without the connect layer
    ("ping", {}, ["employees:read"]),
]


@http_only
@pytest.mark.parametrize("setting", SETTINGS, ids=["auto", "true", "false"])
@pytest.mark.parametrize("version", [HANDSHAKE, MODERN])
@pytest.mark.parametrize(("method", "params", "held"), OTHER_PATHS, ids=[p[0] for p in OTHER_PATHS])
async def test_every_path_to_a_decision_challenges_by_the_same_rule(
    server_kind: ServerKind,
    install: Install,
    setting: object,
    version: str,
    method: str,
    params: dict[str, Any],
    held: list[str],
) -> None:
    guarded = await install(
        employees(server_kind), connect_scopes=["mcp:connect"], scope_challenge_include_token_scopes=setting
    )

    answer = await guarded.post(guarded.token(held), method, params, protocol_version=version)

    precise = PRECISE if held == HELD else "mcp:connect"
    union = UNION if held == HELD else "employees:read mcp:connect"
    assert challenge_of(answer) == (union if expected(setting, version == MODERN) == UNION else precise)
