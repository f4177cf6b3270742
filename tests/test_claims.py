"""Claims to scopes, the core: paths, shapes, and configuration errors that name the variable."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fastmcp_scopes import ScopeGuard
from fastmcp_scopes.claims import MAX_CLAIM_VALUES, ClaimScopes, parse_claim_path
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.settings import load_settings


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("roles", ("roles",)),
        ("realm_access.roles", ("realm_access", "roles")),
        ("resource_access.my\\.app.roles", ("resource_access", "my.app", "roles")),
        ("https://example\\.com/roles", ("https://example.com/roles",)),
        ("a\\\\.b", ("a\\", "b")),
    ],
)
def test_claim_paths(path: str, segments: tuple[str, ...]) -> None:
    assert parse_claim_path(path) == segments


@pytest.mark.parametrize("path", ["", ".roles", "roles.", "a..b", "a\\", "a\\x", ".".join("a" * 17)])
def test_bad_claim_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="claim path"):
        parse_claim_path(path)


def test_values_map_to_the_union_of_their_scopes() -> None:
    mapping = ClaimScopes({"roles": {"a": ["x:read"], "b": "y:read"}, "groups": {"g": ["x:write"]}})
    assert mapping.scopes({"roles": ["a", "b", "c"], "groups": "g h"}) == {"x:read", "y:read", "x:write"}
    assert mapping.scopes({}) == frozenset() and mapping.scopes(None) == frozenset()


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": [["a"]]},
        {"roles": ["a", None]},
        {"roles": 1},
        {"roles": True},
        {"roles": {"a": 1}},
        {"roles": ["z"] * MAX_CLAIM_VALUES + ["a"]},
    ],
)
def test_a_claim_of_another_shape_grants_nothing_and_says_why(
    claims: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    mapping = ClaimScopes({"roles": {"a": ["x:read"]}, "other": {"o": ["o:read"]}})
    with caplog.at_level(logging.WARNING, logger="fastmcp_scopes"):
        assert mapping.scopes({**claims, "other": ["o"]}) == {"o:read"}  # the other path still counts
    assert "'roles'" in caplog.text and "grants no scope" in caplog.text


def test_a_path_through_a_list_grants_nothing() -> None:
    mapping = ClaimScopes({"realm_access.roles": {"a": ["x:read"]}})
    assert mapping.scopes({"realm_access": [{"roles": ["a"]}]}) == frozenset()
    assert mapping.scopes({"realm_access": "roles"}) == frozenset()
    assert mapping.scopes({"realm_access": {"roles": ["a"]}}) == {"x:read"}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{"roles": {"a": ["bad scope"]}}', "bad scope"),
        ('{"roles": {"a": []}}', "expected a scope or a list of scopes"),
        ('{"roles": {}}', "non-empty object"),
        ('{"roles": ["a"]}', "non-empty object"),
        ('{"a..b": {"x": "y"}}', "empty segment"),
        ('["roles"]', "expected a JSON object"),
        ("{not json", "invalid JSON"),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str, fragment: str) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_CLAIM_SCOPES", value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "FASTMCP_SCOPES_CLAIM_SCOPES" in str(raised.value) and fragment in str(raised.value)


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_CLAIM_SCOPES", '{"realm_access.roles": {"agent": "docs:read"}}')
    settings = load_settings()
    assert settings.claim_scopes == {"realm_access.roles": {"agent": ["docs:read"]}}
    assert ClaimScopes(settings.claim_scopes).scopes({"realm_access": {"roles": ["agent"]}}) == {"docs:read"}


def test_caller_from_token_maps_the_claims_of_any_access_token() -> None:
    """In-process callers come as the SDK's ``AccessToken`` with their verified claims: the same mapping applies,
    the one the guard compiled from its settings."""
    from fastmcp_scopes._compat import AccessToken
    from fastmcp_scopes.http import caller_from_token

    mapping = ScopeGuard(claim_scopes={"roles": {"agent": ["docs:read"]}}).claim_scopes
    token = AccessToken(token="t", client_id="c", scopes=["own"], claims={"iss": "https://as", "roles": ["agent"]})
    caller = caller_from_token(token, mapping)
    assert caller.scopes == {"own", "docs:read"} and caller.issuer == "https://as"
    assert caller_from_token(token).scopes == {"own"}
    bare = AccessToken(token="t", client_id="c", scopes=["own"])
    assert caller_from_token(bare, mapping).scopes == {"own"}
