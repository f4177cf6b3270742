"""A graphql-core-style harness: ``assert_requirement(schema, document, expected)``, specialised per schema
with ``functools.partial``. Alternatives are compared as sets: the algebra, not the order, is under test."""

from __future__ import annotations

from pathlib import Path

from fastmcp_scopes.graphql import ScopedSchema

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
OPERATIONS = HERE / "operations"
GITHUB_SCHEMA = HERE.parents[2] / "shared" / "data" / "github-schema.graphql"


def normalise(alternatives: list[list[str]]) -> list[list[str]]:
    return sorted(sorted(a) for a in alternatives)


def assert_requirement(
    schema: ScopedSchema, document: str, expected: list[list[str]], operation_name: str | None = None
) -> None:
    got = schema.requirement(document, operation_name).to_json()
    assert normalise(got) == normalise(expected), f"{document!r}: got {got}, expected {expected}"
