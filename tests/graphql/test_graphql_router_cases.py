"""The derived requirement is what Apollo Router enforces: one row per case of the reference implementations.

Each row names the repository, file and test its case comes from. The yardstick is the router's authorization
plugin: an operation's requirement is the smallest set of scopes (per alternative) under which the router
removes nothing from it. Its cases are filter tests that snapshot what remains for a given set of scopes;
each is turned here into the requirement those snapshots imply. Composition cases check what federation 2
composition (2.12+) puts on interfaces, which the router then enforces, for a subgraph loaded before composition.

Where the router lets something through that it should not (``STRICTER`` below), the row keeps our stricter
answer and says why; the README's GraphQL section says the same.

Sources (read at apollographql/router 27d8f60, apollographql/federation 8200b15, wundergraph/cosmo 08d41cd):
- ``apollographql/router`` ``apollo-router/src/plugins/authorization/scopes.rs`` (tests module) and its
  ``snapshots/apollo_router__plugins__authorization__scopes__tests__*.snap``;
- ``apollographql/router`` ``apollo-router/src/plugins/authorization/authenticated.rs`` (tests module);
- ``apollographql/federation`` ``composition-js/src/__tests__/compose.auth.test.ts`` ("interfaces");
- ``wundergraph/cosmo`` ``router/pkg/mcpserver/scope_extractor_test.go`` (its MCP server's scope extraction,
  which agrees with the router on these cases).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import pytest
from graphql_harness import assert_requirement

from fastmcp_scopes.graphql import GraphQLSchemaWarning, ScopedSchema

ROUTER = "apollographql/router apollo-router/src/plugins/authorization/"
COMPOSITION = "apollographql/federation composition-js/src/__tests__/compose.auth.test.ts"


def supergraph(spec: str, body: str, *, mutation: bool = False, imports: str = "") -> str:
    """A supergraph the way the router's tests write one: the link, join and one security spec linked."""
    link_import = f", import: {imports}" if imports else ""
    roots = "query: Query" + (" mutation: Mutation" if mutation else "")
    return (
        'schema @link(url: "https://specs.apollo.dev/link/v1.0")'
        ' @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)'
        f' @link(url: "https://specs.apollo.dev/{spec}/v0.1", for: SECURITY{link_import}) {{ {roots} }}\n' + body
    )


def subgraph(body: str) -> str:
    """A federation 2 subgraph as composition tests write one (composeAsFed2Subgraphs links federation)."""
    imports = '["@key", "@shareable", "@requiresScopes", "@authenticated"]'
    return f'extend schema @link(url: "https://specs.apollo.dev/federation/v2.12", import: {imports})\n' + body


# The router's schemas, reduced to what their queries touch.
SCHEMAS: dict[str, str] = {
    "basic": supergraph(
        "requiresScopes",
        """
        type Query { topProducts: Product customer: User me: User @requiresScopes(scopes: [["profile"]]) itf: I }
        type Mutation @requiresScopes(scopes: [["mut"]]) {
          ping: User @requiresScopes(scopes: [["ping"]])
          other: String
        }
        interface I { id: ID }
        type Product { type: String reviews: [Review] internal: Internal publicReviews: [Review] }
        scalar Internal @requiresScopes(scopes: [["internal", "test"]])
        type Review @requiresScopes(scopes: [["review"]]) { body: String author: User }
        type User implements I @requiresScopes(scopes: [["read:user"]]) {
          id: ID
          name: String @requiresScopes(scopes: [["read:username"]])
        }
        """,
        mutation=True,
    ),
    "renamed": supergraph(
        "requiresScopes",
        """
        type Query { topProducts: Product me: User @scopes(scopes: [["profile"]]) }
        type Product { type: String }
        type User @scopes(scopes: [["read:user"]]) { id: ID name: String @scopes(scopes: [["read:username"]]) }
        """,
        imports='[{ name: "@requiresScopes", as: "@scopes" }]',
    ),
    "interface types": supergraph(
        "requiresScopes",
        """
        type Query { test: String itf: I! }
        interface I { id: ID }
        type A implements I @requiresScopes(scopes: [["a", "b"]]) { id: ID a: String }
        type B implements I @requiresScopes(scopes: [["c", "d"]]) { id: ID b: String }
        """,
    ),
    "interface fields": supergraph(
        "requiresScopes",
        """
        type Query { test: String itf: I! }
        interface I { id: ID other: String }
        type A implements I { id: ID @requiresScopes(scopes: [["a", "b"]]) other: String a: String }
        type B implements I { id: ID @requiresScopes(scopes: [["c", "d"]]) other: String b: String }
        """,
    ),
    "union members": supergraph(
        "requiresScopes",
        """
        type Query { test: String uni: I! }
        union I = A | B
        type A @requiresScopes(scopes: [["a", "b"]]) { id: ID }
        type B @requiresScopes(scopes: [["c", "d"]]) { id: ID }
        """,
    ),
    "posts": supergraph(
        "requiresScopes",
        """
        type Query { post(id: ID!): Post }
        interface Post { id: ID! title: String! }
        type Stats { views: Int }
        type PublicBlog implements Post { id: ID! title: String! stats: Stats @requiresScopes(scopes: [["a"]]) }
        type PrivateBlog implements Post @requiresScopes(scopes: [["b"]]) { id: ID! title: String! publishAt: String }
        """,
    ),
    "same field scopes": supergraph(
        "requiresScopes",
        """
        type Query { test: String itf: I! }
        interface I { id: ID other: String }
        type A implements I { id: ID @requiresScopes(scopes: [["a", "b"]]) other: String }
        type B implements I { id: ID @requiresScopes(scopes: [["a", "b"]]) other: String }
        """,
    ),
    "one field scoped": supergraph(
        "requiresScopes",
        """
        type Query { test: String itf: I! }
        interface I { id: ID }
        type A implements I { id: ID @requiresScopes(scopes: [["read"]]) a: String }
        type B implements I { id: ID b: String }
        """,
    ),
    "one type scoped": supergraph(
        "requiresScopes",
        """
        type Query { test: String itf: I! }
        interface I { id: ID }
        type A implements I @requiresScopes(scopes: [["read"]]) { id: ID a: String }
        type B implements I { id: ID b: String }
        """,
    ),
    "scoped root": supergraph("requiresScopes", 'type Query @requiresScopes(scopes: [["root"]]) { t: String }'),
    "authenticated": supergraph(
        "authenticated",
        """
        type Query { topProducts: Product me: User @authenticated itf: I! }
        interface I { id: ID }
        type Product { type: String reviews: [Review] @authenticated }
        type Review { body: String }
        type User implements I @authenticated { id: ID name: String }
        """,
    ),
    "authenticated union": supergraph(
        "authenticated",
        """
        type Query { test: String uni: I! }
        union I = A | B
        type A { id: ID }
        type B @authenticated { id: ID }
        """,
    ),
    "authenticated posts": supergraph(
        "authenticated",
        """
        type Query { post(id: ID!): Post }
        interface Post { id: ID! title: String! }
        type PublicBlog implements Post { id: ID! title: String! }
        type PrivateBlog implements Post @authenticated { id: ID! title: String! }
        """,
    ),
    "authenticated root": supergraph("authenticated", "type Query @authenticated { t: String }"),
    # Cosmo's demo supergraph, as its scope extractor's field configurations describe it after composition.
    "cosmo demo": supergraph(
        "requiresScopes",
        """
        type Query {
          employees: [Employee!]!
          employee(id: Int!): Employee
          topSecretFederationFacts: [TopSecretFact!]! @requiresScopes(scopes: [["read:fact"], ["read:all"]])
        }
        type Mutation {
          addFact(fact: TopSecretFactInput!): TopSecretFact! @requiresScopes(scopes: [["write:fact"], ["write:all"]])
        }
        input TopSecretFactInput { title: String! description: String }
        type Employee {
          id: Int!
          details: Details!
          tag: String!
          updatedAt: String!
          startDate: String! @requiresScopes(scopes: [["read:employee", "read:private"], ["read:all"]])
        }
        type Details { forename: String! surname: String! }
        interface TopSecretFact { title: String! description: String }
        type DirectiveFact implements TopSecretFact {
          title: String!
          description: String @requiresScopes(scopes: [["read:scalar"], ["read:all"]])
        }
        type EntityFact implements TopSecretFact {
          title: String!
          description: String @requiresScopes(scopes: [["read:scalar"], ["read:all"]])
        }
        type MiscellaneousFact implements TopSecretFact {
          title: String!
          description: String
            @requiresScopes(scopes: [["read:scalar", "read:miscellaneous"], ["read:all", "read:miscellaneous"]])
        }
        """,
        mutation=True,
    ),
    # Subgraphs, loaded before composition: the interfaces get what composition would give them.
    "propagated types": subgraph(
        """
        type Query { i: I! }
        interface I { id: ID }
        type T implements I @key(fields: "id") @requiresScopes(scopes: [["S1"], ["S2"]]) { id: ID vT: String }
        type U implements I @key(fields: "id") @requiresScopes(scopes: [["S1"], ["S2", "S3"]]) { id: ID vU: String }
        type V implements I @key(fields: "id") { id: ID vV: String }
        """
    ),
    "propagated fields": subgraph(
        """
        type Query { i: I! }
        interface I { id: ID i1: Int i3: String }
        type T1 implements I @key(fields: "id") { id: ID i1: Int @requiresScopes(scopes: [["S1"]]) i3: String }
        type T2 implements I @key(fields: "id") { id: ID i1: Int @requiresScopes(scopes: [["S1", "S2"]]) i3: String }
        type T3 implements I @key(fields: "id") { id: ID i1: Int i3: String }
        """
    ),
    "propagated authenticated": subgraph(
        """
        type Query { i: I! }
        interface I { id: ID i1: Int }
        type T implements I @key(fields: "id") @authenticated { id: ID i1: Int }
        type U implements I @key(fields: "id") { id: ID i1: Int @authenticated }
        """
    ),
}


@cache
def schema(name: str) -> ScopedSchema:
    with warnings.catch_warnings():
        # The router's schemas leave the join directives undefined (unused here): a lenient load lists them.
        warnings.simplefilter("ignore", GraphQLSchemaWarning)
        return ScopedSchema.from_sdl(SCHEMAS[name], source_name=name)


@dataclass(frozen=True)
class Case:
    source: str
    schema: str
    operation: str
    expected: list[list[str]]
    authenticated: bool | None = None


COSMO = "wundergraph/cosmo router/pkg/mcpserver/scope_extractor_test.go"
SCOPES_RS = ROUTER + "scopes.rs"
AUTHENTICATED_RS = ROUTER + "authenticated.rs"
BASIC_NAME = ["profile", "read:user", "read:username"]

CASES: list[Case] = [
    Case(
        f"{SCOPES_RS} filter_basic_query",
        "basic",
        "{ topProducts { type internal } me { id name } }",
        [["internal", "test", *BASIC_NAME]],
    ),
    Case(
        f"{SCOPES_RS} mutation",
        "basic",
        "mutation { ping { name } other }",
        [["mut", "ping", "read:user", "read:username"]],
    ),
    Case(f"{SCOPES_RS} query_field", "basic", "{ topProducts { type } me { name } }", [BASIC_NAME]),
    Case(f"{SCOPES_RS} query_field_alias", "basic", "{ topProducts { type } moi: me { name } }", [BASIC_NAME]),
    Case(f"{SCOPES_RS} scalar", "basic", "{ topProducts { type internal } }", [["internal", "test"]]),
    Case(
        f"{SCOPES_RS} array",
        "basic",
        "{ topProducts { type publicReviews { body author { name } } } }",
        [["review", "read:user", "read:username"]],
    ),
    Case(
        f"{SCOPES_RS} interface_inline_fragment",
        "basic",
        "{ topProducts { type } itf { id ... on User { id2: id name } } }",
        [["read:user", "read:username"]],
    ),
    Case(
        f"{SCOPES_RS} interface_fragment",
        "basic",
        "{ topProducts { type } itf { id ...F } } fragment F on User { id2: id name }",
        [["read:user", "read:username"]],
    ),
    Case(
        f"{SCOPES_RS} fragment_fields",
        "basic",
        "{ topProducts { type ...F } } fragment F on Product { reviews { body } }",
        [["review"]],
    ),
    Case(f"{SCOPES_RS} interface_type (QUERY)", "interface types", "{ test itf { id } }", [["a", "b", "c", "d"]]),
    Case(
        f"{SCOPES_RS} interface_type (QUERY2)",
        "interface types",
        "{ test itf { ... on A { id } ... on B { id } } }",
        [["a", "b", "c", "d"]],
    ),
    Case(
        f"{SCOPES_RS} interface_field (QUERY)", "interface fields", "{ test itf { id other } }", [["a", "b", "c", "d"]]
    ),
    Case(
        f"{SCOPES_RS} interface_field (QUERY2)",
        "interface fields",
        "{ test itf { ... on A { id other } ... on B { id other } } }",
        [["a", "b", "c", "d"]],
    ),
    Case(
        f"{SCOPES_RS} union",
        "union members",
        "{ test uni { ... on A { id } ... on B { id } } }",
        [["a", "b", "c", "d"]],
    ),
    Case(f"{SCOPES_RS} renamed_directive", "renamed", "{ topProducts { type } me { name } }", [BASIC_NAME]),
    # __typename needs nothing, inside a fragment or outside one on the interface whose implementations differ.
    Case(
        f"{SCOPES_RS} interface_typename (QUERY)",
        "posts",
        'query Anonymous { post(id: "1") { ... on PublicBlog { __typename title } } }',
        [[]],
    ),
    Case(
        f"{SCOPES_RS} interface_typename (QUERY2)",
        "posts",
        'query Anonymous { post(id: "1") { __typename ... on PublicBlog { __typename title } } }',
        [[]],
    ),
    Case(
        f"{SCOPES_RS} implementations_with_same_scopes", "same field scopes", "{ test itf { id other } }", [["a", "b"]]
    ),
    Case(
        f"{SCOPES_RS} implementations_with_different_field_scopes",
        "one field scoped",
        "{ test itf { id } }",
        [["read"]],
    ),
    Case(
        f"{SCOPES_RS} implementations_with_different_type_scopes", "one type scoped", "{ test itf { id } }", [["read"]]
    ),
    # Introspection is answered before authorization: the root type's requirement does not apply to it.
    Case(
        f"{AUTHENTICATED_RS} introspection_fragment_with_authenticated_root_query (with @requiresScopes)",
        "scoped root",
        "{ __schema { types { ...TypeDef } } } fragment TypeDef on __Type { name }",
        [[]],
    ),
    Case(
        f"{AUTHENTICATED_RS} introspection_fragment_with_authenticated_root_query",
        "authenticated root",
        "{ __schema { types { ...TypeDef } } } fragment TypeDef on __Type { name }",
        [[]],
        authenticated=False,
    ),
    Case(f"{AUTHENTICATED_RS} query_field", "authenticated", "{ topProducts { type } me { name } }", [[]], True),
    Case(f"{AUTHENTICATED_RS} query_field (public part)", "authenticated", "{ topProducts { type } }", [[]], False),
    Case(f"{AUTHENTICATED_RS} array", "authenticated", "{ topProducts { type reviews { body } } }", [[]], True),
    Case(f"{AUTHENTICATED_RS} interface_field", "authenticated", "{ itf { id } }", [[]], True),
    Case(
        f"{AUTHENTICATED_RS} union",
        "authenticated union",
        "{ test uni { ... on A { id } ... on B { id } } }",
        [[]],
        True,
    ),
    Case(
        f"{AUTHENTICATED_RS} interface_typename",
        "authenticated posts",
        'query Anonymous { post(id: "1") { __typename ... on PublicBlog { __typename title } } }',
        [[]],
        False,
    ),
    # Cosmo's MCP server derives an operation's scopes the same way (its cases agree with the router's rules).
    Case(
        f"{COSMO} no scoped fields",
        "cosmo demo",
        "query ListEmployees { employees { id details { forename surname } tag } }",
        [[]],
    ),
    Case(
        f"{COSMO} single scoped root query field",
        "cosmo demo",
        "query Q { topSecretFederationFacts { ... on DirectiveFact { title } ... on EntityFact { title } } }",
        [["read:fact"], ["read:all"]],
    ),
    Case(
        f"{COSMO} single scoped mutation field",
        "cosmo demo",
        "mutation AddFact($fact: TopSecretFactInput!) { addFact(fact: $fact) { ... on DirectiveFact { title } } }",
        [["write:fact"], ["write:all"]],
    ),
    Case(
        f"{COSMO} single scoped entity field with AND group",
        "cosmo demo",
        "query S($id: Int!) { employee(id: $id) { id details { forename surname } startDate } }",
        [["read:employee", "read:private"], ["read:all"]],
    ),
    Case(
        f"{COSMO} multiple scoped fields via inline fragments on different types",
        "cosmo demo",
        "query D { topSecretFederationFacts { ... on DirectiveFact { title description }"
        " ... on MiscellaneousFact { title description } } }",
        [["read:fact", "read:scalar", "read:miscellaneous"], ["read:all", "read:miscellaneous"]],
    ),
    Case(
        f"{COSMO} cross-subgraph scoped fields",
        "cosmo demo",
        "query X($id: Int!) { topSecretFederationFacts { ... on DirectiveFact { title } }"
        " employee(id: $id) { id startDate } }",
        [["read:fact", "read:employee", "read:private"], ["read:all"]],
    ),
    Case(
        f"{COSMO} no scoped fields despite touching a scoped type",
        "cosmo demo",
        "query B($id: Int!) { employee(id: $id) { id tag updatedAt } }",
        [[]],
    ),
    # Composition copies the implementations' requirements onto the interface (AND): the router then asks for
    # them wherever the interface is the type of a field, __typename-only selections included.
    Case(
        f"{COMPOSITION} propagates @requiresScopes from type",
        "propagated types",
        "{ i { __typename } }",
        [["S1"], ["S2", "S3"]],
    ),
    Case(f"{COMPOSITION} propagates @requiresScopes from field", "propagated fields", "{ i { i1 } }", [["S1", "S2"]]),
    Case(f"{COMPOSITION} propagates @requiresScopes from field (none)", "propagated fields", "{ i { i3 } }", [[]]),
    Case(
        f"{COMPOSITION} propagates @authenticated from type",
        "propagated authenticated",
        "{ i { __typename } }",
        [[]],
        True,
    ),
]

# Where the router lets an implementation's data through without that implementation's requirement. The router
# checks the implementations' type-level requirements only for fields selected directly on an interface-typed
# field; through a fragment on the interface itself it checks none, so a token without "a b" or "c d" reads an
# A's or B's id. Our answer asks for what the data returned needs.
STRICTER: list[Case] = [
    Case(
        f"{SCOPES_RS} interface_type schema, fragment on the interface itself (router asks for nothing)",
        "interface types",
        "{ test itf { ... on I { id } } }",
        [["a", "b", "c", "d"]],
    ),
    Case(
        f"{SCOPES_RS} interface_type schema, named fragment on the interface (router asks for nothing)",
        "interface types",
        "{ test itf { ...F } } fragment F on I { id }",
        [["a", "b", "c", "d"]],
    ),
]


@pytest.mark.parametrize("case", CASES + STRICTER, ids=[c.source.rpartition("/")[2] for c in CASES + STRICTER])
def test_requirement_is_what_the_router_enforces(case: Case) -> None:
    loaded = schema(case.schema)
    assert_requirement(loaded, case.operation, case.expected)
    if case.authenticated is not None:
        assert loaded.analyze(case.operation).authenticated is case.authenticated


@pytest.mark.parametrize(
    ("name", "coordinate", "expected", "authenticated"),
    [
        ("propagated types", ("I", None), [["S1"], ["S2", "S3"]], False),
        ("propagated fields", ("I", "i1"), [["S1", "S2"]], False),
        ("propagated authenticated", ("I", None), [[]], True),
        ("propagated authenticated", ("I", "i1"), [[]], True),
    ],
)
def test_interfaces_carry_what_composition_gives_them(
    name: str, coordinate: tuple[str, str | None], expected: list[list[str]], authenticated: bool
) -> None:
    # compose.auth.test.ts "interfaces": the supergraph's interface carries exactly these after composition.
    declarations = schema(name).declarations
    type_name, field_name = coordinate
    found = declarations.types[type_name] if field_name is None else declarations.fields[type_name, field_name]
    assert sorted(sorted(a) for a in found.requirement.to_json()) == expected
    assert found.authenticated is authenticated


def test_the_table_covers_each_source() -> None:
    sources = {c.source.split(" ")[1] for c in CASES}
    assert sources == {
        "apollo-router/src/plugins/authorization/scopes.rs",
        "apollo-router/src/plugins/authorization/authenticated.rs",
        "composition-js/src/__tests__/compose.auth.test.ts",
        "router/pkg/mcpserver/scope_extractor_test.go",
    }
    assert len(CASES) + len(STRICTER) >= 40
