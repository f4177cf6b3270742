from __future__ import annotations

import pytest
from graphql_harness import SCHEMAS

from fastmcp_scopes.graphql import ScopedSchema, load_schema


@pytest.fixture(scope="session")
def supergraph() -> ScopedSchema:
    return load_schema(SCHEMAS / "supergraph.graphql", strict=True)
