"""Settings from ``FASTMCP_SCOPES_*`` variables, a ``.env`` file and keyword arguments, and the errors
that name the variable and the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastmcp_scopes import ConfigurationError, Requirement, ScopeGuard, ScopesSettings
from fastmcp_scopes.settings import load_settings


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_defaults_are_safe() -> None:
    settings = load_settings()

    assert settings.hide_unauthorized is True
    assert settings.hidden_calls == "challenge"
    assert settings.undeclared == "allow"
    assert settings.scope_challenge_include_token_scopes is False
    assert settings.stdio_scopes is None  # no token, no scopes: fail closed
    assert settings.connect_scopes == []
    assert settings.list_scopes == {}
    assert settings.call_scopes == {}
    assert settings.tool_scopes == {}
    assert settings.audit is True


# -- lists: JSON, comma or space separated ---------------------------------------------------------


@pytest.mark.parametrize(
    "value", ['["mcp:connect", "mcp:base"]', "mcp:connect,mcp:base", "mcp:connect mcp:base", " mcp:connect , mcp:base "]
)
@pytest.mark.parametrize("variable", ["CONNECT_SCOPES", "SCOPES_SUPPORTED", "STDIO_SCOPES", "WILDCARD_SCOPES"])
def test_scope_lists_accept_json_commas_and_spaces(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(
        f"FASTMCP_SCOPES_{variable}", value.replace("mcp:base", "mcp:*") if "WILDCARD" in variable else value
    )

    settings = load_settings()

    expected = ["mcp:connect", "mcp:*"] if "WILDCARD" in variable else ["mcp:connect", "mcp:base"]
    assert getattr(settings, variable.lower()) == expected


def test_an_empty_stdio_variable_grants_no_scopes_but_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_STDIO_SCOPES", "")

    assert load_settings().stdio_scopes == []


@pytest.mark.parametrize("variable", ["LIST_SCOPES", "CALL_SCOPES"])
def test_layered_scopes_as_a_list_apply_to_every_kind(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", "mcp:read, mcp:more")

    assert getattr(load_settings(), variable.lower()) == {
        "tools": ["mcp:read", "mcp:more"],
        "prompts": ["mcp:read", "mcp:more"],
        "resources": ["mcp:read", "mcp:more"],
    }


@pytest.mark.parametrize("variable", ["LIST_SCOPES", "CALL_SCOPES"])
def test_layered_scopes_as_an_object_apply_per_kind(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", '{"tools": ["mcp:tools"], "prompts": "mcp:p1 mcp:p2"}')

    assert getattr(load_settings(), variable.lower()) == {"tools": ["mcp:tools"], "prompts": ["mcp:p1", "mcp:p2"]}


def test_tool_scopes_read_every_requirement_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FASTMCP_SCOPES_TOOL_SCOPES",
        '{"a": "x y", "b": ["x", "y"], "c": [["admin"], ["x", "y"]], "d": ""}',
    )

    assert load_settings().tool_scopes == {
        "a": Requirement.all_of("x", "y"),
        "b": Requirement.all_of("x", "y"),
        "c": Requirement.any_of([["admin"], ["x", "y"]]),
        "d": Requirement.none(),
    }


def test_hierarchy_and_policy_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_HIERARCHY", '{"employees:write": ["employees:read"], "admin": ["*"]}')
    monkeypatch.setenv("FASTMCP_SCOPES_HIDE_UNAUTHORIZED", "false")
    monkeypatch.setenv("FASTMCP_SCOPES_HIDDEN_CALLS", "not_found")
    monkeypatch.setenv("FASTMCP_SCOPES_UNDECLARED", "deny")
    monkeypatch.setenv("FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES", "1")
    monkeypatch.setenv("FASTMCP_SCOPES_MAX_ALTERNATIVES", "8")

    settings = load_settings()

    assert settings.hierarchy == {"employees:write": ["employees:read"], "admin": ["*"]}
    assert settings.hide_unauthorized is False
    assert settings.hidden_calls == "not_found"
    assert settings.undeclared == "deny"
    assert settings.scope_challenge_include_token_scopes is True
    assert settings.max_alternatives == 8


# -- sources and precedence ------------------------------------------------------------------------


def test_a_dotenv_file_is_read(_in_empty_directory: Path) -> None:
    (_in_empty_directory / ".env").write_text(
        "FASTMCP_SCOPES_CONNECT_SCOPES=mcp:connect,mcp:base\n"
        'FASTMCP_SCOPES_TOOL_SCOPES={"payroll": [["payroll:read"], ["admin"]]}\n'
        "FASTMCP_SCOPES_HIDDEN_CALLS=not_found\n"
        "UNRELATED_APP_SETTING=ignored\n",
        encoding="utf-8",
    )

    settings = load_settings()

    assert settings.connect_scopes == ["mcp:connect", "mcp:base"]
    assert settings.tool_scopes == {"payroll": Requirement.any_of([["payroll:read"], ["admin"]])}
    assert settings.hidden_calls == "not_found"


def test_environment_beats_dotenv_and_arguments_beat_both(
    _in_empty_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_in_empty_directory / ".env").write_text(
        "FASTMCP_SCOPES_CONNECT_SCOPES=from-dotenv\nFASTMCP_SCOPES_UNDECLARED=deny\n", encoding="utf-8"
    )
    monkeypatch.setenv("FASTMCP_SCOPES_CONNECT_SCOPES", "from-env")

    assert load_settings().connect_scopes == ["from-env"]
    assert load_settings().undeclared == "deny"
    assert load_settings(connect_scopes=["from-argument"]).connect_scopes == ["from-argument"]
    assert ScopeGuard(connect_scopes="from-argument").settings.connect_scopes == ["from-argument"]


def test_settings_round_trip_through_their_dump() -> None:
    settings = load_settings(
        tool_scopes={"t": [["a", "b"], ["c"]]}, list_scopes={"tools": ["l"]}, hierarchy={"w": ["r"]}
    )

    assert load_settings(**settings.model_dump()) == settings


def test_a_guard_built_from_settings_and_overrides_keeps_both() -> None:
    settings = ScopesSettings(tool_scopes={"payroll": "payroll:read"}, connect_scopes=["mcp:connect"])

    guard = ScopeGuard(settings, hide_unauthorized=False)

    assert guard.settings.hide_unauthorized is False
    assert guard.settings.tool_scopes == {"payroll": Requirement.all_of("payroll:read")}
    assert guard.settings.connect_scopes == ["mcp:connect"]


# -- bad configuration names the variable and the value --------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("CONNECT_SCOPES", 'mcp:connect "quoted', "invalid scope token"),
        ("CONNECT_SCOPES", '["a" "b"]', "invalid JSON"),
        ("SCOPES_SUPPORTED", "mcp:connect offline_access", "offline_access does not belong in the baseline"),
        ("STDIO_SCOPES", "caf\u00e9", "invalid scope token"),
        ("LIST_SCOPES", '{"tool": ["x"]}', "unknown kind(s) ['tool']"),
        ("CALL_SCOPES", '{"tools": [7]}', "invalid scope token 7"),
        ("TOOL_SCOPES", '{"payroll": "pay roll\\\\"}', "invalid scope token"),
        ("TOOL_SCOPES", '["payroll"]', "expected a JSON object"),
        ("TOOL_SCOPES", "payroll=read", "invalid JSON"),
        ("HIERARCHY", '{"a b": ["c"]}', "invalid scope token 'a b'"),
        ("HIDE_UNAUTHORIZED", "maybe", "valid boolean"),
        ("HIDDEN_CALLS", "hide", "'challenge' or 'not_found'"),
        ("UNDECLARED", "block", "'allow' or 'deny'"),
        ("MAX_ALTERNATIVES", "0", "greater than or equal to 1"),
    ],
)
def test_a_bad_variable_is_named_with_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", value)

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard()

    message = str(raised.value)
    assert f"FASTMCP_SCOPES_{variable} " in message
    assert repr(value) in message
    assert reason in message


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_HIDDEN_CALLS", "hide")
    monkeypatch.setenv("FASTMCP_SCOPES_UNDECLARED", "block")

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert "FASTMCP_SCOPES_HIDDEN_CALLS" in str(raised.value)
    assert "FASTMCP_SCOPES_UNDECLARED" in str(raised.value)


def test_a_bad_value_in_dotenv_is_named_too(_in_empty_directory: Path) -> None:
    (_in_empty_directory / ".env").write_text("FASTMCP_SCOPES_HIDDEN_CALLS=nowhere\n", encoding="utf-8")

    with pytest.raises(ConfigurationError, match=r"FASTMCP_SCOPES_HIDDEN_CALLS \(or hidden_calls=\) = 'nowhere'"):
        load_settings()


def test_a_bad_keyword_argument_is_named_with_its_value() -> None:
    with pytest.raises(ConfigurationError, match=r"FASTMCP_SCOPES_CONNECT_SCOPES .*'bad scope'"):
        ScopeGuard(connect_scopes=["bad scope"])


def test_a_misspelt_keyword_argument_is_refused_not_ignored() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown option hide_unauthorised=False \(did you mean hide_unauthorized\?\)"
    ):
        ScopeGuard(hide_unauthorised=False)


def test_a_misspelt_override_next_to_settings_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigurationError, match="unknown option hiden_calls='not_found'"):
        ScopeGuard(ScopesSettings(), hiden_calls="not_found")


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        load_settings(undeclared="sometimes")
