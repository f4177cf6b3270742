"""A realistic employees/products supergraph (``schemas/supergraph.graphql``) with ``@requiresScopes`` imported
as ``@scopes``; each operation's requirement is written out by hand from the schema."""

from __future__ import annotations

import pytest
from graphql_harness import assert_requirement

from fastmcp_scopes.graphql import ScopedSchema

CASES: list[tuple[str, str, list[list[str]]]] = [
    ("no directive anywhere", "query Version { version }", [[]]),
    ("type-level on the return type", "query One { employee(id: 1) { id } }", [["employees:read"]]),
    (
        "field-level alternatives AND type-level",
        "query Pay { employees { name salary } }",
        [["employees:read", "hr:salary:read"], ["employees:read", "hr:admin"]],
    ),
    ("scalar with a directive", "query Ssn { employee(id: 1) { ssn } }", [["employees:read", "pii:ssn"]]),
    ("enum return type", "query Lvl { employee(id: 1) { level } }", [["employees:read", "hr:levels"]]),
    (
        "enum argument literal: the router enforces no directive on input types",
        "query S { employees(filter: {level: SENIOR}) { id } }",
        [["employees:read"]],
    ),
    (
        "input literal without the enum",
        'query N { employees(filter: {nameContains: "a"}) { id } }',
        [["employees:read"]],
    ),
    (
        "input variable reaches the enum: not enforced either",
        "query F($f: EmployeeFilter) { employees(filter: $f) { id } }",
        [["employees:read"]],
    ),
    ("enum without directive", "query Sorted { employees(sort: ASC) { id } }", [["employees:read"]]),
    (
        "interface without type-specific fragment: every implementation",
        "query AnyNode { node(id: 1) { id } }",
        [["contractors:read", "employees:read"]],
    ),
    ("interface narrowed by a fragment", "query E { node(id: 1) { ... on Employee { name } } }", [["employees:read"]]),
    ("interface with no scoped member selected", "query P { node(id: 1) { ... on Product { title } } }", [[]]),
    (
        "interface with its own directive",
        "query People { people { name } }",
        [["contractors:read", "employees:read", "people:read"]],
    ),
    (
        "interface field on an implementation",
        "query Emails { people { ... on Employee { email } } }",
        [["employees:read", "people:read", "pii:read"]],
    ),
    (
        "interface field selected on the interface",
        "query AllEmails { people { email } }",
        [["contractors:read", "employees:read", "people:read", "pii:read"]],
    ),
    (
        "union with __typename outside a fragment: __typename needs nothing",
        'query Search { search(text: "x") { __typename ... on Product { title } } }',
        [[]],
    ),
    (
        "union members by fragment only",
        'query Costs { search(text: "x") { ... on Product { title internalCost } } }',
        [["finance:read"]],
    ),
    (
        "named fragments, nested",
        "query Team { employee(id: 1) { ...Basics manager { ...Basics } } } fragment Basics on Employee { name level }",
        [["employees:read", "hr:levels"]],
    ),
    (
        "fragment on an interface spread on an object",
        "query Ident { employee(id: 1) { ...NodeId } } fragment NodeId on Node { id }",
        [["employees:read"]],
    ),
    (
        "fragment on an interface with a directive",
        "query PeopleBits { people { ...PersonBits } } fragment PersonBits on Person { email }",
        [["contractors:read", "employees:read", "people:read", "pii:read"]],
    ),
    (
        "across subgraphs",
        "query Owners { products { title owner { name salary } } }",
        [["employees:read", "hr:salary:read"], ["employees:read", "hr:admin"]],
    ),
    ("@authenticated alone", "query Me { me { id } }", [["employees:read"]]),
    (
        "mutation root type and field; its enum argument is not enforced",
        "mutation Promote { promote(id: 1, to: SENIOR) { name } }",
        [["employees:read", "hr:write", "write"]],
    ),
    (
        "mutation with alternatives and a variable",
        "mutation Price($p: Int!) { setPrice(id: 1, price: $p) { title } }",
        [["products:write", "write"], ["admin", "write"]],
    ),
    (
        "aliases",
        "query Alias { boss: employee(id: 1) { pay: salary } }",
        [["employees:read", "hr:salary:read"], ["employees:read", "hr:admin"]],
    ),
]


@pytest.mark.spec("federation/requires-scopes")
@pytest.mark.parametrize(("document", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_operation_requirement(supergraph: ScopedSchema, document: str, expected: list[list[str]]) -> None:
    assert_requirement(supergraph, document, expected)


@pytest.mark.spec("federation/link-imports")
def test_scope_directive_names_come_from_the_links(supergraph: ScopedSchema) -> None:
    # A linked schema's plain name is not ours unless a link binds it: the router resolves names the same way.
    assert supergraph.names.requires_scopes == {"scopes"}
    assert supergraph.names.authenticated == {"authenticated"}


def test_authenticated_field_flags_the_analysis(supergraph: ScopedSchema) -> None:
    assert supergraph.analyze("query Me { me { id } }").authenticated
    assert not supergraph.analyze("query One { employee(id: 1) { id } }").authenticated


def test_origins_of_each_scope(supergraph: ScopedSchema) -> None:
    analysis = supergraph.analyze("mutation Promote { promote(id: 1, to: SENIOR) { salary } }")
    assert dict(analysis.origins) == {
        "write": ("type Mutation",),
        "hr:write": ("Mutation.promote",),
        "employees:read": ("type Employee",),
        "hr:salary:read": ("Employee.salary",),
        "hr:admin": ("Employee.salary",),
    }


def test_preferred_alternative_stays_first(supergraph: ScopedSchema) -> None:
    requirement = supergraph.requirement("mutation Price($p: Int!) { setPrice(id: 1, price: $p) { title } }")
    assert requirement.to_json() == [["products:write", "write"], ["admin", "write"]]
