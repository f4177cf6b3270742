"""The Cedar policy hook on its own: policies checked at start-up (a parse error names file:line:column), the
entity model it builds, deny-only use of Cedar, and failing closed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fastmcp_scopes import ConfigurationError, PolicyDenial, PolicyOperation, ScopeGuard
from fastmcp_scopes.cedar import NOT_EVALUATED, UNREPRESENTABLE, CedarPolicyHook
from fastmcp_scopes.policy import Caller

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "policies"
NOON = datetime(2026, 12, 1, 12, 5, tzinfo=UTC).timestamp()  # a Tuesday

ALICE = Caller(
    frozenset({"employees:write"}),
    subject="alice",
    client_id="c1",
    issuer="https://issuer.test",
    claims={"role": "research-agent", "exp": 1, "nested": {"list": [1, "a", None], "none": None}},
)
DELETE = PolicyOperation(
    method="tools/call",
    kind="tools",
    name="delete_employee",
    target="delete_employee",
    scopes=(("employees:write",), ("admin",)),
    annotations={"destructiveHint": True, "title": "Delete"},
    arguments={"employee": "ceo", "ratio": 0.5, "count": 3, "big": 2**70},
)


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one


def hook(policies: str, now: float = NOON) -> CedarPolicyHook:
    return CedarPolicyHook(policies, source="rules.cedar", clock=lambda: now)


async def ask(policies: str, caller: Caller | None = ALICE, operation: PolicyOperation = DELETE) -> PolicyDenial | None:
    return await hook(policies)(caller, operation)


# -- start-up ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param(
            "forbid (principal, action, resource)\n  when { resource.annotations.destructiveHint = true };",
            "rules.cedar:2:47: '=' is not a valid operator in Cedar",
            id="a-bad-operator",
        ),
        pytest.param(
            "forbid (principal, action, resource)\nforbid (principal, action, resource);",
            "rules.cedar:2:8: unexpected token `(`",
            id="a-missing-semicolon",
        ),
        pytest.param(
            '// a comment with a "quote\nforbid (principal, actoin, resource);',
            "rules.cedar:2:20: found an invalid variable in the policy scope: actoin",
            id="a-misspelt-variable-after-a-comment",
        ),
        pytest.param(
            'forbid (principal, action, resource) when { context.target == "a;b" &&\n  context.x <<< 3 };',
            "rules.cedar:2:14: unexpected token `<`",
            id="after-a-string-holding-a-semicolon",
        ),
        pytest.param(
            'forbid (principal, action, resource)\n  when { context.target == "unterminated };',
            "rules.cedar:2:28: invalid token",
            id="an-unterminated-string",
        ),
    ],
)
def test_a_policy_that_does_not_parse_names_its_line_and_column(text: str, where: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        hook(text)

    assert str(raised.value) == where


def test_a_bad_policy_file_stops_the_guard_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "policies.cedar"
    path.write_text(
        '@id("ok")\nforbid (principal, action, resource) when { true };\n\n'
        "forbid (principal, action, resource) when {\n  1 +\n};\n"
    )

    with pytest.raises(ConfigurationError) as raised:
        ScopeGuard(cedar_policies=str(path))

    assert str(raised.value).startswith(f"{path}:6:1: ")


def test_the_file_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_CEDAR_POLICIES", str(EXAMPLES / "research_agents.cedar"))

    guard = ScopeGuard()

    assert isinstance(guard.policy_hook, CedarPolicyHook) and guard.policy_hook.rules == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"cedar_policies": "no/such/file.cedar"}, "cannot read it", id="a-missing-file"),
        pytest.param(
            {"cedar_policies": str(EXAMPLES / "research_agents.cedar"), "policy_hook": "json:loads"},
            "are both set",
            id="two-hooks",
        ),
        pytest.param({"policy_hook": "no_such_module_here:hook"}, "cannot import", id="an-unknown-module"),
        pytest.param({"policy_hook": "json:no_such_name"}, "has no attribute", id="an-unknown-attribute"),
        pytest.param({"policy_hook": "json"}, "expected package.module:attribute", id="no-attribute"),
        pytest.param({"policy_hook": "json:__name__"}, "is not callable", id="not-callable"),
    ],
)
def test_a_hook_that_cannot_be_loaded_stops_start_up(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ScopeGuard(**settings)


def test_a_permit_is_refused_at_start_up() -> None:
    """Scopes decide what is permitted; the hook only takes away. A permit would widen nothing, and a reader
    would expect it to (Cedar's own default is to deny what no permit allows)."""
    with pytest.raises(ConfigurationError, match=r"policy 2 of rules.cedar \('hours'\) is a permit"):
        hook(
            'forbid (principal, action, resource) when { false };\n@id("hours")\npermit (principal, action, resource);'
        )


def test_a_template_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="templates are not supported"):
        hook("forbid (principal == ?principal, action, resource);")


def test_a_directory_holds_one_file_per_rule_set(tmp_path: Path) -> None:
    guard = ScopeGuard(cedar_policies=str(EXAMPLES))

    assert isinstance(guard.policy_hook, CedarPolicyHook) and guard.policy_hook.rules == 2


def test_in_a_directory_an_error_names_its_own_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.cedar").write_text("forbid (principal, action, resource) when { false };\n" * 3)
    (tmp_path / "b.cedar").write_text("\nforbid (principal, action, resource) when { context.x = 1 };\n")
    (tmp_path / "notes.txt").write_text("not a policy")

    with pytest.raises(ConfigurationError) as raised:
        CedarPolicyHook.from_file(tmp_path)

    assert str(raised.value) == f"{tmp_path / 'b.cedar'}:2:55: '=' is not a valid operator in Cedar"


def test_a_directory_without_policy_files_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"has no \.cedar file"):
        CedarPolicyHook.from_file(tmp_path)


async def test_across_files_each_refusal_names_its_own_rule(tmp_path: Path) -> None:
    rules = "".join(
        f'@reason("rule {i}")\nforbid (principal, action, resource) when {{ context.epoch == {i} }};\n'
        for i in range(12)
    )
    (tmp_path / "a.cedar").write_text(rules)
    (tmp_path / "b.cedar").write_text("forbid (principal, action, resource) when { context.epoch == 12 };\n")

    for second in (3, 11, 12):
        checked = CedarPolicyHook.from_file(tmp_path, clock=lambda second=second: float(second))
        denial = await checked(ALICE, DELETE)
        assert denial == PolicyDenial(f"rule {second}" if second < 12 else "forbid rule 1 of b.cedar")


# -- deny-only evaluation ---------------------------------------------------------------------------------


async def test_with_no_matching_rule_the_call_goes_through() -> None:
    assert await ask('forbid (principal, action, resource) when { principal.subject == "mallory" };') is None


async def test_an_empty_policy_file_refuses_nothing() -> None:
    assert await ask("// nothing yet\n") is None


async def test_a_refusal_gives_each_matching_rules_reason() -> None:
    policies = (
        '@reason("first")\nforbid (principal, action, resource);\n'
        '@id("second-by-id")\nforbid (principal, action, resource);\n'
        "forbid (principal, action, resource) when { true };\n"
        'forbid (principal, action, resource) when { principal.subject == "bob" };\n'
    )

    denial = await ask(policies)

    assert denial is not None
    assert sorted(denial.reason.split("; ")) == ["first", "forbid rule 3 of rules.cedar", "second-by-id"]


async def test_a_rule_that_cannot_be_evaluated_refuses(caplog: pytest.LogCaptureFixture) -> None:
    """Cedar skips a policy whose evaluation errs; for a forbid rule that would let the call through."""
    with caplog.at_level(logging.WARNING, logger="fastmcp_scopes"):
        denial = await ask('forbid (principal, action, resource) when { principal.claims.department == "x" };')

    assert denial == PolicyDenial(NOT_EVALUATED)
    assert "department" in caplog.text


@pytest.mark.parametrize("reserved", ["__entity", "__extn", "__expr"])
async def test_arguments_cedar_would_read_as_something_else_refuse(reserved: str) -> None:
    forged = {reserved: {"type": "Caller", "id": "admin"}}
    operation = PolicyOperation("tools/call", "tools", "t", "t", arguments={"who": forged})

    assert await ask("forbid (principal, action, resource) when { false };", operation=operation) == PolicyDenial(
        UNREPRESENTABLE
    )


async def test_arguments_nested_without_bound_refuse() -> None:
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"d": deep}
    operation = PolicyOperation("tools/call", "tools", "t", "t", arguments=deep)

    assert await ask("forbid (principal, action, resource) when { false };", operation=operation) == PolicyDenial(
        UNREPRESENTABLE
    )


# -- the entity model -------------------------------------------------------------------------------------


def test_the_entity_model() -> None:
    request, entities = hook("").request(ALICE, DELETE)

    assert request["principal"] == {"type": "Caller", "id": "alice"}
    assert request["action"] == {"type": "Action", "id": "tools/call"}
    assert request["resource"] == {"type": "Tool", "id": "delete_employee"}
    assert request["context"] == {
        "arguments": {"employee": "ceo", "ratio": "0.5", "count": 3, "big": str(2**70)},
        "target": "delete_employee",
        "method": "tools/call",
        "now": {"__extn": {"fn": "datetime", "arg": "2026-12-01T12:05:00Z"}},
        "epoch": int(NOON),
        "hour_utc": 12,
        "minute_utc": 5,
        "weekday_utc": 2,
    }
    assert entities == [
        {
            "uid": {"type": "Caller", "id": "alice"},
            "attrs": {
                "subject": "alice",
                "client_id": "c1",
                "issuer": "https://issuer.test",
                "authenticated": True,
                "scopes": ["employees:write"],
                "claims": {"role": "research-agent", "exp": 1, "nested": {"list": [1, "a"]}},
            },
            "parents": [],
        },
        {
            "uid": {"type": "Tool", "id": "delete_employee"},
            "attrs": {
                "name": "delete_employee",
                "scopes": ["admin", "employees:write"],
                "alternatives": [["employees:write"], ["admin"]],
                "annotations": {"destructiveHint": True, "title": "Delete"},
            },
            "parents": [],
        },
    ]


@pytest.mark.parametrize(
    ("rule", "refused"),
    [
        ('principal == Caller::"alice"', True),
        ('principal.claims.role == "research-agent"', True),
        ('principal.scopes.contains("employees:write")', True),
        ('resource.scopes.contains("admin")', True),
        ('resource.alternatives.contains(["admin"])', True),
        ("resource.annotations.destructiveHint", True),
        ('context.arguments.employee == "ceo"', True),
        ("context.arguments.count > 2", True),
        ('context.now >= datetime("2026-12-01T12:00:00Z")', True),
        ("context.weekday_utc == 2 && context.hour_utc == 12", True),
        ('principal.client_id == "c2"', False),
        ("principal.authenticated == false", False),
        ('resource is Prompt || action == Action::"prompts/get"', False),
    ],
)
async def test_rules_see_the_model(rule: str, refused: bool) -> None:
    denial = await ask(f"forbid (principal, action, resource) when {{ {rule} }};")

    assert (denial is not None) == refused, denial


async def test_a_caller_without_a_token_is_an_unauthenticated_principal() -> None:
    anonymous = Caller(frozenset(), anonymous=True)
    policies = "forbid (principal, action, resource) when { !principal.authenticated };"

    assert await ask(policies, caller=None) is not None
    assert await ask(policies, caller=anonymous) is not None
    assert await ask(policies) is None


# -- the examples -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "annotations", "refused"),
    [
        ({"role": "research-agent"}, {"destructiveHint": True}, True),
        ({"role": "research-agent"}, {"destructiveHint": False}, False),
        ({"role": "research-agent"}, {}, False),
        ({"role": "analyst"}, {"destructiveHint": True}, False),
        ({}, {"destructiveHint": True}, False),
    ],
)
async def test_the_research_agents_example(claims: dict[str, Any], annotations: dict[str, Any], refused: bool) -> None:
    research = CedarPolicyHook.from_file(EXAMPLES / "research_agents.cedar", clock=lambda: NOON)
    caller = Caller(frozenset(), subject="a", claims=claims)
    operation = PolicyOperation("tools/call", "tools", "t", "t", annotations=annotations)

    denial = await research(caller, operation)

    assert denial == (PolicyDenial("Research agents never call destructive tools") if refused else None)


@pytest.mark.parametrize(
    ("hour", "annotations", "method", "refused"),
    [
        (7, {}, "tools/call", True),
        (7, {"readOnlyHint": False}, "tools/call", True),
        (7, {"readOnlyHint": True}, "tools/call", False),
        (7, {}, "prompts/get", False),
        (8, {}, "tools/call", False),
        (17, {}, "tools/call", False),
        (18, {}, "tools/call", True),
    ],
)
async def test_the_business_hours_example(hour: int, annotations: dict[str, Any], method: str, refused: bool) -> None:
    moment = datetime(2026, 12, 1, hour, 59, tzinfo=UTC).timestamp()
    hours = CedarPolicyHook.from_file(EXAMPLES / "business_hours.cedar", clock=lambda: moment)
    kind = "prompts" if method == "prompts/get" else "tools"
    operation = PolicyOperation(method, kind, "t", "t", annotations=annotations)

    denial = await hours(ALICE, operation)

    assert denial == (PolicyDenial("No writes outside 08:00-18:00 UTC") if refused else None)
