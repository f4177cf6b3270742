from __future__ import annotations

from pathlib import Path

import pytest

from fastmcp_scopes.graphql import ScopedSchema, load_schema

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
OPERATIONS = HERE / "operations"
GITHUB_SCHEMA = HERE.parents[2] / "shared" / "data" / "github-schema.graphql"


@pytest.fixture(scope="session")
def supergraph() -> ScopedSchema:
    return load_schema(SCHEMAS / "supergraph.graphql", strict=True)
