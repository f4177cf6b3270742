"""One test group per rule of the analysis, each against a small schema written for it."""

from __future__ import annotations

from functools import partial

import pytest
from graphql_harness import assert_requirement

from fastmcp_scopes.graphql import ScopedSchema

RULES_SDL = """
    directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
        | INPUT_OBJECT | INPUT_FIELD_DEFINITION

    type Query @requiresScopes(scopes: [["q"]]) {
      open: String
      guarded: String @requiresScopes(scopes: [["f1"], ["f2"]])
      account: Account
      accounts: [[Account!]!]!
      tagged: Tag
      colour(c: Colour): String
      colours(c: [Colour!]): String
      find(filter: Filter): String
      secret: Secret
      animal: Animal
      pet: Pet
    }
    type Mutation @requiresScopes(scopes: [["m"]]) { touch: String }
    type Subscription { ping: String @requiresScopes(scopes: [["s"]]) }

    type Account @requiresScopes(scopes: [["acct"]]) { id: ID, owner: Owner }
    type Owner { name: String @requiresScopes(scopes: [["pii"]]) }
    scalar Tag @requiresScopes(scopes: [["tags"]])
    scalar Secret @requiresScopes(scopes: [["secret"]])
    enum Colour @requiresScopes(scopes: [["colour"]]) { RED GREEN }
    input Filter @requiresScopes(scopes: [["filter"]]) {
      colour: Colour
      deep: Inner
      note: String
      flagged: Boolean @requiresScopes(scopes: [["flags"]])
    }
    input Inner { tag: Tag }

    interface Animal @requiresScopes(scopes: [["animal"]]) { name: String }
    type Dog implements Animal @requiresScopes(scopes: [["dog"]]) {
      name: String @requiresScopes(scopes: [["dog:name"]])
      bark: String
    }
    type Cat implements Animal { name: String, purr: String @requiresScopes(scopes: [["purr"]]) }
    union Pet = Dog | Cat
    """
# Directives on argument and input types count only when opted in (the router enforces none): the input rules
# are tested with the opt-in, and the default below.
RULES = ScopedSchema.from_sdl(RULES_SDL, strict=True, input_directives=True)
ROUTER_DEFAULT = ScopedSchema.from_sdl(RULES_SDL, strict=True)

expect = partial(assert_requirement, RULES)


def test_root_type_and_plain_field() -> None:
    expect("{ open }", [["q"]])
    expect("mutation { touch }", [["m"]])
    expect("subscription { ping }", [["s"]])


@pytest.mark.spec("federation/requires-scopes")
def test_field_directive_alternatives() -> None:
    expect("{ guarded }", [["q", "f1"], ["q", "f2"]])


def test_aliases_do_not_hide_fields() -> None:
    expect("{ a: guarded b: open }", [["q", "f1"], ["q", "f2"]])


def test_return_type_through_lists_and_non_null() -> None:
    expect("{ account { id } }", [["q", "acct"]])
    expect("{ accounts { id } }", [["q", "acct"]])


def test_nested_field_on_plain_type() -> None:
    expect("{ account { owner { name } } }", [["q", "acct", "pii"]])


def test_scalar_return_type() -> None:
    expect("{ tagged secret }", [["q", "tags", "secret"]])


def test_enum_argument_literal_and_list() -> None:
    expect("{ colour(c: RED) }", [["q", "colour"]])
    expect("{ colours(c: [RED]) }", [["q", "colour"]])


def test_argument_not_given_imposes_nothing() -> None:
    expect("{ colour }", [["q"]])


def test_variable_types() -> None:
    expect("query($c: Colour) { colour(c: $c) }", [["q", "colour"]])
    expect("query($c: [Colour!]!) { colours(c: $c) }", [["q", "colour"]])


def test_input_object_literal_counts_only_given_fields() -> None:
    expect('{ find(filter: {note: "x"}) }', [["q", "filter"]])
    expect("{ find(filter: {colour: RED}) }", [["q", "filter", "colour"]])
    expect("{ find(filter: {flagged: true}) }", [["q", "filter", "flags"]])
    expect('{ find(filter: {deep: {tag: "t"}}) }', [["q", "filter", "tags"]])


@pytest.mark.parametrize(
    "document",
    [
        "{ colour(c: RED) }",
        "{ colours(c: [RED]) }",
        "query($c: Colour) { colour(c: $c) }",
        "query($f: Filter) { find(filter: $f) }",
        '{ find(filter: {flagged: true, deep: {tag: "t"}}) }',
    ],
)
def test_input_directives_count_nothing_by_default(document: str) -> None:
    assert_requirement(ROUTER_DEFAULT, document, [["q"]])


def test_input_object_variable_counts_everything_reachable() -> None:
    expect("query($f: Filter) { find(filter: $f) }", [["q", "filter", "colour", "flags", "tags"]])


def test_variable_inside_literal() -> None:
    expect("query($c: Colour) { find(filter: {colour: $c}) }", [["q", "filter", "colour"]])


def test_interface_without_type_specific_fragment_needs_every_implementation() -> None:
    expect("{ animal { name } }", [["q", "animal", "dog", "dog:name"]])
    # __typename needs nothing, not even on an interface whose implementations differ; the interface's own
    # type-level requirement is the field's return type's.
    expect("{ animal { __typename } }", [["q", "animal"]])


def test_interface_with_type_specific_fragment() -> None:
    expect("{ animal { ... on Cat { purr } } }", [["q", "animal", "purr"]])
    expect("{ animal { ... on Dog { bark } } }", [["q", "animal", "dog"]])


def test_union_members() -> None:
    expect("{ pet { __typename } }", [["q"]])
    expect("{ pet { ... on Cat { name } } }", [["q"]])
    expect("{ pet { ... on Animal { name } } }", [["q", "animal", "dog", "dog:name"]])


def test_named_fragment_type_condition() -> None:
    expect("{ animal { ...D } } fragment D on Dog { bark }", [["q", "animal", "dog"]])


def test_fragment_on_interface_in_object_context_narrows_types_not_fields() -> None:
    # Only a Cat can be there, so Dog's type-level "dog" is not needed; but a field selected on the interface
    # needs every implementation's definition of it (Dog.name's "dog:name"), as Apollo Router checks.
    expect("{ pet { ... on Cat { ...A } } } fragment A on Animal { name }", [["q", "animal", "dog:name"]])


def test_inline_fragment_without_condition() -> None:
    expect("{ ... { guarded } }", [["q", "f1"], ["q", "f2"]])


def test_fragment_spread_twice_counts_once() -> None:
    expect("{ account { ...A } a2: account { ...A } } fragment A on Account { id }", [["q", "acct"]])


def test_absorption_keeps_requirement_minimal() -> None:
    schema = ScopedSchema.from_sdl(
        """
        type Query { a: String @requiresScopes(scopes: [["x"]]), b: String @requiresScopes(scopes: [["x"], ["y"]]) }
        """
    )
    # x AND (x OR y) = x
    assert_requirement(schema, "{ a b }", [["x"]])


def test_no_directives_means_no_scope() -> None:
    schema = ScopedSchema.from_sdl("type Query { a: String }")
    analysis = schema.analyze("{ a }")
    assert analysis.requirement.is_empty
    assert analysis.to_json()["alternatives"] == [[]]
    assert not analysis.requires_token


@pytest.mark.parametrize(
    ("document", "name", "expected"),
    [
        ("query A { open } query B { guarded }", "A", [["q"]]),
        ("query A { open } query B { guarded }", "B", [["q", "f1"], ["q", "f2"]]),
    ],
)
def test_operation_by_name(document: str, name: str, expected: list[list[str]]) -> None:
    expect(document, expected, name)


def test_operations_lists_every_operation() -> None:
    analyses = RULES.operations("query A { open } mutation B { touch }")
    assert [(a.name, a.kind, a.requirement.to_json()) for a in analyses] == [
        ("A", "query", [["q"]]),
        ("B", "mutation", [["m"]]),
    ]


def test_authenticated_is_no_scope_but_flagged() -> None:
    schema = ScopedSchema.from_sdl("type Query { me: String @authenticated, open: String }")
    me = schema.analyze("{ me }")
    assert me.requirement.is_empty
    assert me.authenticated
    assert me.requires_token
    assert not schema.analyze("{ open }").authenticated


def test_origins_name_every_imposing_element() -> None:
    analysis = RULES.analyze("{ account { owner { name } } guarded }")
    assert dict(analysis.origins) == {
        "q": ("type Query",),
        "acct": ("type Account",),
        "pii": ("Owner.name",),
        "f1": ("Query.guarded",),
        "f2": ("Query.guarded",),
    }
