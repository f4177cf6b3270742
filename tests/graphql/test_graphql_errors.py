"""Operations from which no requirement can be derived are errors that say what and where, never "no scope"."""

from __future__ import annotations

import pytest

from fastmcp_scopes.errors import GraphQLScopeError, RequirementTooComplexError
from fastmcp_scopes.graphql import ScopedSchema


@pytest.fixture(scope="module")
def schema() -> ScopedSchema:
    return ScopedSchema.from_sdl(
        """
        type Query {
          employee: Employee @requiresScopes(scopes: [["e"]])
          a: String @requiresScopes(scopes: [["a1"], ["a2"], ["a3"]])
          b: String @requiresScopes(scopes: [["b1"], ["b2"], ["b3"]])
        }
        type Employee { name: String }
        """,
        max_tokens=200,
        max_errors=3,
    )


def test_unknown_field_names_the_field_and_the_place(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError) as caught:
        schema.analyze("query Q {\n  employee { nme }\n}", source_name="ops/q.graphql")
    message = str(caught.value)
    assert "Cannot query field 'nme' on type 'Employee'" in message
    assert "ops/q.graphql:2:14" in message


def test_validation_errors_do_not_suggest_schema_names(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError) as caught:
        schema.analyze("{ employee { nme } }")
    assert "Did you mean" not in str(caught.value)
    assert "name" not in str(caught.value).replace("named", "")


def test_validation_stops_after_max_errors(schema: ScopedSchema) -> None:
    document = "{ " + " ".join(f"x{i}" for i in range(10)) + " }"
    with pytest.raises(GraphQLScopeError) as caught:
        schema.analyze(document)
    assert "Too many validation errors" in str(caught.value)
    assert str(caught.value).count("Cannot query field") == 3


def test_fragment_cycle(schema: ScopedSchema) -> None:
    document = "{ employee { ...A } } fragment A on Employee { ...B } fragment B on Employee { ...A }"
    with pytest.raises(GraphQLScopeError, match="Cannot spread fragment 'A' within itself via 'B'"):
        schema.analyze(document)


def test_unknown_fragment(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError, match="Unknown fragment 'Nope'"):
        schema.analyze("{ employee { ...Nope } }")


def test_unknown_operation_name_lists_the_ones_there(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError, match="no operation named 'C'; it holds: A, B"):
        schema.analyze("query A { a } query B { b }", "C")


def test_several_operations_need_a_name(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError, match=r"holds 2 operations \(A, B\); give the operation name"):
        schema.analyze("query A { a } query B { b }")


def test_document_without_operation(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError, match="Fragment 'F' is never used"):
        schema.analyze("fragment F on Query { a }")


def test_syntax_error_has_a_location(schema: ScopedSchema) -> None:
    with pytest.raises(GraphQLScopeError, match=r"cannot parse operation: Syntax Error.*\(operation:1:3\)"):
        schema.analyze("{ { }")


def test_token_cap(schema: ScopedSchema) -> None:
    document = "{ " + "a " * 300 + "}"
    with pytest.raises(GraphQLScopeError, match="Document contains more than 200 tokens"):
        schema.analyze(document)


def test_alternatives_cap_fails_loudly(schema: ScopedSchema) -> None:
    assert len(schema.requirement("{ a b }").alternatives) == 9
    with pytest.raises(RequirementTooComplexError, match=r"operation Q has 9 alternatives.*cap of 8"):
        schema.requirement("query Q { a b }", cap=8)


def test_errors_are_configuration_errors(schema: ScopedSchema) -> None:
    # Start-up code catches ConfigurationError (a ValueError) for every bad declaration.
    with pytest.raises(ValueError):
        schema.analyze("{ nope }")
