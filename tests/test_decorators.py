"""``@requires_scopes`` records a declaration, validates at decoration time, and ANDs when stacked."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from pydantic import validate_call

from fastmcp_scopes import (
    ConfigurationError,
    InvalidScopeError,
    Requirement,
    RequirementTooComplexError,
    requires_scopes,
)
from fastmcp_scopes.decorators import GraphQLOperation, ScopeDeclaration, declaration_of


def test_the_same_function_comes_back_with_its_declaration() -> None:
    def list_employees() -> str:
        return "ok"

    decorated = requires_scopes("employees:read")(list_employees)

    assert decorated is list_employees
    assert decorated() == "ok"
    assert declaration_of(decorated) == ScopeDeclaration(Requirement.all_of("employees:read"))


def test_an_undecorated_function_has_no_declaration() -> None:
    def plain() -> None: ...

    assert declaration_of(plain) is None


def test_positional_scopes_are_all_required() -> None:
    @requires_scopes("a", "b")
    def tool() -> None: ...

    assert declaration_of(tool).requirement.to_json() == [["a", "b"]]  # type: ignore[union-attr]


def test_any_of_keeps_the_declared_order() -> None:
    @requires_scopes(any_of=[["employees:write"], ["admin"]])
    def tool() -> None: ...

    assert declaration_of(tool).requirement.to_json() == [["employees:write"], ["admin"]]  # type: ignore[union-attr]


def test_positional_and_any_of_are_anded() -> None:
    @requires_scopes("mcp:hr", any_of=[["employees:write"], ["admin"]])
    def tool() -> None: ...

    assert declaration_of(tool).requirement.to_json() == [  # type: ignore[union-attr]
        ["employees:write", "mcp:hr"],
        ["admin", "mcp:hr"],
    ]


def test_stacked_decorators_are_anded() -> None:
    @requires_scopes(any_of=[["a"], ["b"]])
    @requires_scopes("c")
    def tool() -> None: ...

    assert declaration_of(tool).requirement.to_json() == [["a", "c"], ["b", "c"]]  # type: ignore[union-attr]


def test_stacking_absorbs_redundant_alternatives() -> None:
    @requires_scopes(any_of=[["a"], ["a", "b"]])
    @requires_scopes("a")
    def tool() -> None: ...

    assert declaration_of(tool).requirement.to_json() == [["a"]]  # type: ignore[union-attr]


def test_graphql_operations_are_recorded_for_install_time() -> None:
    @requires_scopes("x", graphql="query Q { me { id } }", operation_name="Q")
    @requires_scopes(graphql="ops/other.graphql")
    def tool() -> None: ...

    declaration = declaration_of(tool)
    assert declaration is not None
    assert declaration.requirement.to_json() == [["x"]]
    assert declaration.graphql == (
        GraphQLOperation("ops/other.graphql"),
        GraphQLOperation("query Q { me { id } }", "Q"),
    )


def test_a_graphql_operation_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "q.graphql"
    path.write_text("query Q { me { id } }", encoding="utf-8")

    assert GraphQLOperation(str(path)).document() == "query Q { me { id } }"
    assert GraphQLOperation("query Q { me { id } }").document() == "query Q { me { id } }"


def test_a_missing_graphql_operation_file_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read GraphQL operation file 'nowhere/q\.graphql'"):
        GraphQLOperation("nowhere/q.graphql").document()


# -- errors at decoration time ---------------------------------------------------------------------


@pytest.mark.spec("rfc6749/scope-token")
@pytest.mark.parametrize("token", ["employees read", 'x"y', "back\\slash", "", "r\u00e9sum\u00e9"])
def test_a_bad_scope_names_the_function_and_the_token(token: str) -> None:
    def update_salary() -> None: ...

    with pytest.raises(InvalidScopeError) as raised:
        requires_scopes(token)(update_salary)

    assert raised.value.token == token
    assert repr(token) in str(raised.value)
    assert "test_a_bad_scope_names_the_function_and_the_token.<locals>.update_salary" in str(raised.value)


def test_a_bad_scope_inside_any_of_names_the_function() -> None:
    def approve() -> None: ...

    with pytest.raises(InvalidScopeError, match=r"invalid scope token 'two words' in .*approve"):
        requires_scopes(any_of=[["ok"], ["two words"]])(approve)


def test_any_of_given_strings_explains_the_shape() -> None:
    def approve() -> None: ...

    with pytest.raises(ConfigurationError, match=r"got the string 'admin' as an alternative"):
        requires_scopes(any_of=["admin"])(approve)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"requires_scopes\(\) needs scopes"),
        ({"any_of": [["a"]], "operation_name": "Q"}, r"operation_name=\.\.\.\) goes with graphql"),
        ({"any_of": []}, "at least one alternative"),
    ],
)
def test_an_empty_or_inconsistent_declaration_is_refused(kwargs: dict[str, object], message: str) -> None:
    def tool() -> None: ...

    with pytest.raises(ConfigurationError, match=message):
        requires_scopes(**kwargs)(tool)  # type: ignore[arg-type]


def test_stacking_past_the_cap_is_refused_at_decoration() -> None:
    def tool() -> None: ...

    nine = [[f"a{i}"] for i in range(9)]
    other = [[f"b{i}"] for i in range(9)]
    requires_scopes(any_of=nine)(tool)

    with pytest.raises(RequirementTooComplexError, match="has 81 alternatives"):
        requires_scopes(any_of=other)(tool)


def test_an_object_that_cannot_carry_the_declaration_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="@requires_scopes cannot annotate"):
        requires_scopes("a")(len)


# -- declarations behind wrappers ------------------------------------------------------------------


def test_a_declaration_added_after_the_sdk_wrapped_the_function_is_found() -> None:
    """The SDK registers prompts and resources as ``validate_call(fn)``, which copies ``fn.__dict__``
    when it is made: a ``@requires_scopes`` written above ``@mcp.prompt()`` lands on ``fn`` only."""

    def review() -> str:
        return "r"

    registered = validate_call(review)
    requires_scopes("hr:review")(review)

    assert declaration_of(registered) == ScopeDeclaration(Requirement.all_of("hr:review"))


def test_declarations_on_both_sides_of_a_wrapper_are_anded() -> None:
    def review() -> str:
        return "r"

    requires_scopes("inner")(review)
    registered = validate_call(review)  # copies the "inner" declaration
    requires_scopes("outer")(review)  # review now holds inner AND outer

    assert declaration_of(registered).requirement.to_json() == [["inner", "outer"]]  # type: ignore[union-attr]


def test_a_declaration_on_a_user_wrapper_adds_to_the_wrapped_one() -> None:
    @requires_scopes("inner")
    def job() -> str:
        return "j"

    @requires_scopes("outer")
    @functools.wraps(job)
    def logged() -> str:
        return job()

    assert declaration_of(logged).requirement.to_json() == [["inner", "outer"]]  # type: ignore[union-attr]
    assert declaration_of(job).requirement.to_json() == [["inner"]]  # type: ignore[union-attr]


def test_a_wrapper_cycle_does_not_hang() -> None:
    def a() -> None: ...

    def b() -> None: ...

    a.__wrapped__ = b  # type: ignore[attr-defined]
    b.__wrapped__ = a  # type: ignore[attr-defined]
    requires_scopes("x")(b)

    assert declaration_of(a).requirement.to_json() == [["x"]]  # type: ignore[union-attr]
