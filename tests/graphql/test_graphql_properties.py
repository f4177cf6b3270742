"""Properties of the analysis over the supergraph: selections combine by AND, and the spelling of a
selection (aliases, fragments) never changes its requirement."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastmcp_scopes.graphql import ScopedSchema

# Valid root selections with different requirements (see test_graphql_supergraph.py).
SELECTIONS = [
    "version",
    "me { id }",
    "employee(id: 1) { salary }",
    "employee(id: 1) { ssn level }",
    "employees(sort: DESC) { email }",
    "people { name }",
    'search(text: "x") { ... on Product { internalCost } }',
    "node(id: 2) { id }",
    "products { owner { name } }",
]

selections = st.lists(st.sampled_from(SELECTIONS), min_size=1, max_size=5, unique=True)
relaxed = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def query(parts: list[str], *, aliased: bool = False) -> str:
    if aliased:
        parts = [f"a{i}: {p}" for i, p in enumerate(parts)]
    return "{ " + " ".join(parts) + " }"


@relaxed
@given(left=selections, right=selections)
def test_selections_combine_by_and(supergraph: ScopedSchema, left: list[str], right: list[str]) -> None:
    together = supergraph.requirement(query(left + [p for p in right if p not in left], aliased=True))
    apart = supergraph.requirement(query(left)).combine(supergraph.requirement(query(right)))
    assert set(together.alternatives) == set(apart.alternatives)


@relaxed
@given(parts=selections, wrap=st.sampled_from(["inline", "typed", "named"]))
def test_spelling_does_not_change_the_requirement(supergraph: ScopedSchema, parts: list[str], wrap: str) -> None:
    plain = supergraph.requirement(query(parts, aliased=True))
    body = " ".join(f"a{i}: {p}" for i, p in enumerate(parts))
    if wrap == "inline":
        document = "{ ... { " + body + " } }"
    elif wrap == "typed":
        document = "{ ... on Query { " + body + " } }"
    else:
        document = "{ ...F } fragment F on Query { " + body + " }"
    assert set(supergraph.requirement(document).alternatives) == set(plain.alternatives)


@relaxed
@given(parts=selections)
def test_every_scope_has_an_origin(supergraph: ScopedSchema, parts: list[str]) -> None:
    analysis = supergraph.analyze(query(parts, aliased=True))
    assert set(analysis.origins) == analysis.requirement.scopes
    assert all(analysis.origins[scope] for scope in analysis.requirement.scopes)
