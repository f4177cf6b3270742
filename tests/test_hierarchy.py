"""Scope implications and wildcards, checked against a fixpoint oracle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastmcp_scopes import ConfigurationError, GrantedScopes, InvalidScopeError, Requirement, ScopeHierarchy

NAMES = ("a", "b", "c", "d", "e")

implication_maps = st.dictionaries(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3), max_size=5)
token_sets = st.frozensets(st.sampled_from(NAMES))


def oracle_closure(implications: dict[str, list[str]], held: frozenset[str]) -> frozenset[str]:
    closed = set(held)
    while True:
        grown = closed | {t for s in closed for t in implications.get(s, ())}
        if grown == closed:
            return frozenset(closed)
        closed = grown


@given(implication_maps, token_sets)
def test_expansion_is_the_transitive_closure(implications: dict[str, list[str]], held: frozenset[str]) -> None:
    granted = ScopeHierarchy(implications).expand(held)

    assert granted.scopes == oracle_closure(implications, held)
    assert granted.token_scopes == held
    for scope in NAMES:
        assert (scope in granted) == (scope in oracle_closure(implications, held))


def test_write_implies_read_for_a_requirement() -> None:
    hierarchy = ScopeHierarchy({"employees:write": ["employees:read"]})

    assert Requirement.all_of("employees:read").is_satisfied_by(hierarchy.expand({"employees:write"}))
    assert not Requirement.all_of("employees:write").is_satisfied_by(hierarchy.expand({"employees:read"}))


def test_implications_are_transitive_and_survive_cycles() -> None:
    hierarchy = ScopeHierarchy({"owner": ["write"], "write": ["read"], "read": ["owner"]})

    assert hierarchy.expand({"write"}).scopes == {"owner", "write", "read"}


def test_admin_star_grants_every_scope() -> None:
    granted = ScopeHierarchy({"admin": ["*"]}).expand({"admin"})

    assert granted.prefixes == ("",)
    assert "anything:at:all" in granted
    assert Requirement.any_of([["x", "y"], ["z"]]).is_satisfied_by(granted)


def test_a_configured_prefix_wildcard_grants_only_its_prefix() -> None:
    granted = ScopeHierarchy({"files:admin": ["files:*"]}).expand({"files:admin"})

    assert "files:read" in granted
    assert "filesystem:read" not in granted
    assert "mail:read" not in granted


def test_a_wildcard_on_a_token_is_ignored_unless_configured() -> None:
    assert "files:read" not in ScopeHierarchy().expand({"files:*"})
    assert "files:read" not in ScopeHierarchy().expand({"*"})
    assert "files:read" in ScopeHierarchy(wildcards=["files:*"]).expand({"files:*"})
    assert "mail:read" not in ScopeHierarchy(wildcards=["files:*"]).expand({"files:*", "*"})


def test_the_literal_wildcard_scope_still_matches_itself() -> None:
    granted = ScopeHierarchy().expand({"files:*"})

    assert "files:*" in granted
    assert granted.prefixes == ()


def test_granted_scopes_contains_only_strings() -> None:
    granted = GrantedScopes(token_scopes=frozenset(), scopes=frozenset(), prefixes=("",))

    assert "x" in granted
    assert 3 not in granted


@pytest.mark.parametrize(
    ("implications", "wildcards", "error", "message"),
    [
        ({"bad scope": ["a"]}, (), InvalidScopeError, "in the scope hierarchy"),
        ({"a": ["b c"]}, (), InvalidScopeError, "in the scope hierarchy entry 'a'"),
        ({"a": "b"}, (), ConfigurationError, "must map to a list of scopes, not the string 'b'"),
        ({}, ["files:"], ConfigurationError, "must end in '\\*'"),
        ({}, ['files:"*'], InvalidScopeError, "in the wildcard scopes"),
    ],
)
def test_bad_hierarchy_configuration_is_refused(
    implications: dict[str, object], wildcards: list[str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ScopeHierarchy(implications, wildcards)  # type: ignore[arg-type]
