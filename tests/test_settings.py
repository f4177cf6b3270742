"""Settings from ``FASTMCP_SCOPES_*`` variables, a ``.env`` file and keyword arguments, and the errors
that name the variable and the bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

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
    # Unioned with the token's scopes on protocol versions before 2026-07-28 only: both kinds of client step up.
    assert settings.scope_challenge_include_token_scopes == "auto"
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
        '{"a": "x", "b": ["x", "y"], "c": [["admin"], ["x", "y"]], "d": []}',
    )

    assert load_settings().tool_scopes == {
        "a": Requirement.all_of("x"),
        "b": Requirement.all_of("x", "y"),
        "c": Requirement.any_of([["admin"], ["x", "y"]]),
        "d": Requirement.none(),
    }


@pytest.mark.parametrize(
    ("value", "advice"),
    [
        ("bad scope", '["bad", "scope"] for all of them, or [["bad"], ["scope"]] for any one'),
        ("a\tb c", '["a", "b", "c"] for all of them, or [["a"], ["b"], ["c"]] for any one'),
        ("", "[] for no scope of its own"),
        (" ", "[] for no scope of its own"),
    ],
)
def test_a_tool_scope_string_that_is_not_one_scope_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, advice: str
) -> None:
    # It used to become every word ANDed: a scope mistyped with a space silently became two.
    monkeypatch.setenv("FASTMCP_SCOPES_TOOL_SCOPES", json.dumps({"payroll": value}))

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard()

    message = str(raised.value)
    assert "FASTMCP_SCOPES_TOOL_SCOPES (or tool_scopes=)" in message
    assert f"tool 'payroll': {value!r} is not one scope; write a list: {advice}" in message


def test_a_tool_scope_string_of_one_scope_is_that_scope() -> None:
    assert load_settings(tool_scopes={"payroll": " payroll:read "}).tool_scopes == {
        "payroll": Requirement.all_of("payroll:read")
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


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("auto", "auto"),
        (" Auto ", "auto"),
        ("", "auto"),  # empty means unset, as for every setting
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_include_token_scopes_takes_auto_and_the_booleans(
    monkeypatch: pytest.MonkeyPatch, value: str, read: object
) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES", value)

    assert load_settings().scope_challenge_include_token_scopes == read
    assert load_settings(scope_challenge_include_token_scopes=value).scope_challenge_include_token_scopes == read


@pytest.mark.parametrize(("value", "read"), [(True, True), (False, False), (1, True), (0, False), ("auto", "auto")])
def test_include_token_scopes_as_a_keyword(value: object, read: object) -> None:
    settings = load_settings(scope_challenge_include_token_scopes=value)

    assert settings.scope_challenge_include_token_scopes == read
    assert type(settings.scope_challenge_include_token_scopes) is type(read)
    # and it reads back from its own dump, as ScopeGuard(settings, **overrides) does
    assert load_settings(**settings.model_dump()).scope_challenge_include_token_scopes == read


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("atuo", "= 'atuo': expected auto, true or false; did you mean auto?"),
        ("ture", "= 'ture': expected auto, true or false; did you mean true?"),
        ("flase", "= 'flase': expected auto, true or false; did you mean false?"),
        ("sometimes", "= 'sometimes': expected auto, true or false\n"),
        ("2", "= '2': expected auto, true or false\n"),
    ],
)
def test_include_token_scopes_typos_stop_start_up(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES", value)

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    named = "FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES (or scope_challenge_include_token_scopes=)"
    assert f"{named} {message}" in str(raised.value) + "\n"


@pytest.mark.parametrize("value", [2, -1, None, 0.5, ["auto"]])
def test_include_token_scopes_refuses_other_values(value: object) -> None:
    with pytest.raises(ConfigurationError, match="expected auto, true or false"):
        load_settings(scope_challenge_include_token_scopes=value)


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
        ConfigurationError, match=r"unknown option hide_unauthorised=False; did you mean hide_unauthorized\?"
    ):
        ScopeGuard(hide_unauthorised=False)


# -- unknown names stop start-up, wherever they come from -------------------------------------------


def test_a_misspelt_variable_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # It used to be skipped, leaving undeclared=allow in force.
    monkeypatch.setenv("FASTMCP_SCOPES_UNDECLRED", "deny")

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard()

    assert str(raised.value) == (
        "invalid fastmcp-scopes configuration:\n"
        "  unknown setting FASTMCP_SCOPES_UNDECLRED; did you mean FASTMCP_SCOPES_UNDECLARED?"
    )


def test_a_misspelt_variable_in_dotenv_is_refused_and_other_programs_lines_are_not(_in_empty_directory: Path) -> None:
    (_in_empty_directory / ".env").write_text(
        "UNRELATED_APP_SETTING=ignored\nFASTMCP_SCOPES_HIDEN_CALLS=not_found\n", encoding="utf-8"
    )

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert str(raised.value) == (
        "invalid fastmcp-scopes configuration:\n"
        "  unknown setting FASTMCP_SCOPES_HIDEN_CALLS; did you mean FASTMCP_SCOPES_HIDDEN_CALLS?"
    )


def test_every_unknown_name_is_reported_at_once_with_the_bad_values(
    _in_empty_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_in_empty_directory / ".env").write_text("FASTMCP_SCOPES_CONECT_SCOPES=mcp:connect\n", encoding="utf-8")
    monkeypatch.setenv("fastmcp_scopes_stdio_scope", "local")  # variable names are case-insensitive
    monkeypatch.setenv("FASTMCP_SCOPES_COLOUR", "blue")
    monkeypatch.setenv("FASTMCP_SCOPES_UNDECLARED", "block")

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard(hiden_calls="not_found")

    problems = str(raised.value).splitlines()[1:]
    assert sorted(p.strip() for p in problems) == [
        "FASTMCP_SCOPES_UNDECLARED (or undeclared=) = 'block': Input should be 'allow' or 'deny'",
        "unknown option hiden_calls='not_found'; did you mean hidden_calls?",
        "unknown setting FASTMCP_SCOPES_COLOUR; no fastmcp-scopes setting has this name "
        "(another program's variable needs another prefix)",
        "unknown setting FASTMCP_SCOPES_CONECT_SCOPES; did you mean FASTMCP_SCOPES_CONNECT_SCOPES?",
        "unknown setting FASTMCP_SCOPES_STDIO_SCOPE; did you mean FASTMCP_SCOPES_STDIO_SCOPES?",
    ]


def test_the_settings_model_itself_refuses_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_UNDECLRED", "deny")

    with pytest.raises(ValidationError, match="undeclred"):
        ScopesSettings()
    with pytest.raises(ValidationError, match="hiden_calls"):
        ScopesSettings(_env_file=None, hiden_calls="not_found")  # type: ignore[call-arg]


# -- URLs: absolute, https except on loopback --------------------------------------------------------

URL_VARIABLES = ["ISSUER", "JWKS_URI", "RESOURCE_URL", "AUTHORIZATION_SERVERS", "GRAPHQL_SCHEMA"]


@pytest.mark.parametrize("variable", URL_VARIABLES)
@pytest.mark.parametrize(
    "value",
    [
        "https://auth.example.com",
        "https://auth.example.com:8443/realms/acme",
        "http://127.0.0.1:9000/mcp",
        "http://127.8.9.10/",
        "http://[::1]:8000/mcp",
        "http://localhost:8000",
        "http://LOCALHOST",
    ],
)
def test_https_urls_and_loopback_http_urls_are_accepted(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", value)

    setting = getattr(load_settings(), variable.lower())

    assert setting == ([value] if variable == "AUTHORIZATION_SERVERS" else value)


@pytest.mark.parametrize("variable", URL_VARIABLES)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https:///path-only", "expected an absolute https URL"),
        ("http://auth.example.com", "http is allowed on loopback hosts only (127.0.0.0/8, ::1, localhost)"),
        ("http://127.0.0.1.example.com", "http is allowed on loopback hosts only"),
        ("http://10.0.0.1:8000", "http is allowed on loopback hosts only"),
        ("ftp://auth.example.com", "expected an absolute https URL"),
        ("https://auth.example.com:99999", "the port is not a number from 0 to 65535"),
        ("https://user:secret@auth.example.com", "no user name or password"),
        ("https://auth.example.com/#top", "no fragment"),
        ("https://b\u00fccher.example", "no spaces, control or non-ASCII characters"),
    ],
)
def test_a_bad_url_is_named_with_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", value)

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard()

    message = str(raised.value)
    assert f"FASTMCP_SCOPES_{variable} (or {variable.lower()}=) = {value!r}: " in message
    assert reason in message


@pytest.mark.parametrize("variable", ["ISSUER", "JWKS_URI", "RESOURCE_URL", "AUTHORIZATION_SERVERS"])
@pytest.mark.parametrize("value", ["not a url", "auth.example.com", "/mcp"])
def test_what_is_not_a_url_is_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", value)

    with pytest.raises(ConfigurationError, match=f"FASTMCP_SCOPES_{variable} .*: .*"):
        load_settings()


@pytest.mark.parametrize("variable", ["ISSUER", "AUTHORIZATION_SERVERS"])
def test_an_issuer_identifier_has_no_query(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", "https://auth.example.com/?tenant=acme")

    with pytest.raises(ConfigurationError, match=r"an issuer identifier has no query \(\?\.\.\.\) \(RFC 8414 §2\)"):
        load_settings()


def test_a_resource_url_may_have_a_query_and_a_schema_may_be_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_RESOURCE_URL", "https://mcp.example.com/mcp?tenant=acme")
    monkeypatch.setenv("FASTMCP_SCOPES_GRAPHQL_SCHEMA", "schemas/employees.graphql")

    settings = load_settings()

    assert settings.resource_url == "https://mcp.example.com/mcp?tenant=acme"
    assert settings.graphql_schema == "schemas/employees.graphql"


def test_each_bad_authorization_server_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_AUTHORIZATION_SERVERS", "https://a.example.com, http://b.example.com")

    with pytest.raises(ConfigurationError, match=r"'http://b.example.com': http is allowed on loopback hosts only"):
        load_settings()


@pytest.mark.parametrize("variable", ["ISSUER", "JWKS_URI", "RESOURCE_URL", "GRAPHQL_SCHEMA"])
def test_an_empty_url_variable_is_unset(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(f"FASTMCP_SCOPES_{variable}", " ")

    assert getattr(load_settings(), variable.lower()) is None


def test_a_misspelt_override_next_to_settings_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigurationError, match="unknown option hiden_calls='not_found'"):
        ScopeGuard(ScopesSettings(), hiden_calls="not_found")


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        load_settings(undeclared="sometimes")
