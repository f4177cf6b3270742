"""The requirement algebra against a brute-force oracle, plus its parsing and error paths."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastmcp_scopes import ConfigurationError, InvalidScopeError, Requirement, RequirementTooComplexError
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES

UNIVERSE = ("a", "b", "c", "d", "e")

scope_sets = st.frozensets(st.sampled_from(UNIVERSE), max_size=4)
raw_alternatives = st.lists(scope_sets, min_size=1, max_size=5)
granted_sets = st.frozensets(st.sampled_from(UNIVERSE))


# -- the oracle: plain sets, no cleverness ---------------------------------------------------------


def oracle_satisfied(alternatives: Iterable[frozenset[str]], granted: frozenset[str]) -> bool:
    return any(alternative <= granted for alternative in alternatives)


def oracle_minimal(alternatives: Iterable[frozenset[str]]) -> set[frozenset[str]]:
    pool = set(alternatives)
    return {a for a in pool if not any(b < a for b in pool)}


def every_subset() -> list[frozenset[str]]:
    return [frozenset(s for i, s in enumerate(UNIVERSE) if mask >> i & 1) for mask in range(2 ** len(UNIVERSE))]


# -- satisfaction ----------------------------------------------------------------------------------


@given(raw_alternatives, granted_sets)
def test_satisfaction_matches_the_oracle(raw: list[frozenset[str]], granted: frozenset[str]) -> None:
    requirement = Requirement.any_of(raw)

    assert requirement.is_satisfied_by(granted) == oracle_satisfied(raw, granted)


@given(raw_alternatives)
def test_absorption_keeps_exactly_the_minimal_alternatives_in_declared_order(raw: list[frozenset[str]]) -> None:
    requirement = Requirement.any_of(raw)

    assert set(requirement.alternatives) == oracle_minimal(raw)
    assert len(requirement.alternatives) == len(set(requirement.alternatives))
    first_seen = [a for i, a in enumerate(raw) if a not in raw[:i]]
    assert list(requirement.alternatives) == [a for a in first_seen if a in oracle_minimal(raw)]


@given(raw_alternatives, raw_alternatives)
def test_and_is_the_minimal_cross_product(left: list[frozenset[str]], right: list[frozenset[str]]) -> None:
    combined = Requirement.any_of(left) & Requirement.any_of(right)

    product = [a | b for a in oracle_minimal(left) for b in oracle_minimal(right)]
    assert set(combined.alternatives) == oracle_minimal(product)
    for granted in every_subset():
        assert combined.is_satisfied_by(granted) == (
            oracle_satisfied(left, granted) and oracle_satisfied(right, granted)
        )


@given(raw_alternatives, raw_alternatives)
def test_or_is_the_minimal_union(left: list[frozenset[str]], right: list[frozenset[str]]) -> None:
    either = Requirement.any_of(left) | Requirement.any_of(right)

    assert set(either.alternatives) == oracle_minimal(left + right)
    for granted in every_subset():
        assert either.is_satisfied_by(granted) == (oracle_satisfied(left, granted) or oracle_satisfied(right, granted))


@given(raw_alternatives, raw_alternatives, raw_alternatives)
def test_and_is_associative_and_commutative_in_meaning(
    x: list[frozenset[str]], y: list[frozenset[str]], z: list[frozenset[str]]
) -> None:
    a, b, c = Requirement.any_of(x), Requirement.any_of(y), Requirement.any_of(z)

    assert set(((a & b) & c).alternatives) == set((a & (b & c)).alternatives)
    assert set((a & b).alternatives) == set((b & a).alternatives)


@given(raw_alternatives)
def test_none_is_the_identity_of_and(raw: list[frozenset[str]]) -> None:
    requirement = Requirement.any_of(raw)

    assert requirement & Requirement.none() == requirement
    assert Requirement.none() & requirement == requirement


# -- closest alternative and missing scopes -------------------------------------------------------


@given(raw_alternatives, granted_sets)
def test_closest_is_first_with_fewest_missing(raw: list[frozenset[str]], granted: frozenset[str]) -> None:
    requirement = Requirement.any_of(raw)

    closest = requirement.closest(granted)

    fewest = min(len(a - granted) for a in requirement.alternatives)
    assert len(closest - granted) == fewest
    assert closest == next(a for a in requirement.alternatives if len(a - granted) == fewest)
    assert requirement.missing(granted) == closest - granted
    assert (requirement.missing(granted) == frozenset()) == oracle_satisfied(raw, granted)


def test_ties_go_to_the_alternative_declared_first() -> None:
    preferred_first = Requirement.any_of([["employees:write"], ["admin"]])
    admin_first = Requirement.any_of([["admin"], ["employees:write"]])

    assert preferred_first.closest(set()) == {"employees:write"}
    assert admin_first.closest(set()) == {"admin"}


def test_closest_prefers_fewer_missing_over_declaration_order() -> None:
    requirement = Requirement.any_of([["a", "b", "c"], ["d"]])

    assert requirement.closest({"a", "b"}) == {"a", "b", "c"}
    assert requirement.missing({"a", "b"}) == {"c"}
    assert requirement.closest(set()) == {"d"}


# -- construction and parsing ---------------------------------------------------------------------


def test_none_needs_nothing() -> None:
    assert Requirement.none().is_empty
    assert Requirement.none().is_satisfied_by(set())
    assert Requirement.none().to_json() == [[]]
    assert str(Requirement.none()) == "(no scope)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a b", [["a", "b"]]),
        (["b", "a"], [["a", "b"]]),
        ([["a"], ["b", "c"]], [["a"], ["b", "c"]]),
        ("", [[]]),
        ([], [[]]),
        ([["a"], ["a", "b"]], [["a"]]),
    ],
)
def test_parse_reads_every_configuration_shape(value: object, expected: list[list[str]]) -> None:
    assert Requirement.parse(value).to_json() == expected


def test_parse_passes_a_requirement_through() -> None:
    requirement = Requirement.all_of("a")

    assert Requirement.parse(requirement) is requirement


@pytest.mark.parametrize("value", [42, {"a": 1}, ["a", ["b"]]])
def test_parse_rejects_other_shapes_naming_the_place(value: object) -> None:
    with pytest.raises(ConfigurationError, match="cannot read a scope requirement for tool 'x'"):
        Requirement.parse(value, where="tool 'x'")


def test_any_of_rejects_a_bare_string() -> None:
    with pytest.raises(ConfigurationError, match="not a string"):
        Requirement.any_of("ab")


def test_any_of_rejects_a_string_alternative_and_suggests_the_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"got the string 'admin' as an alternative \(write \['admin'\]\)"):
        Requirement.any_of(["admin"])


def test_any_of_needs_an_alternative() -> None:
    with pytest.raises(ConfigurationError, match="at least one alternative"):
        Requirement.any_of([])


@pytest.mark.parametrize("token", ["", "a b", 'say"hi"', "back\\slash", "caf\u00e9", "line\nbreak", 7])
def test_invalid_scope_tokens_are_refused(token: object) -> None:
    with pytest.raises(InvalidScopeError) as raised:
        Requirement.all_of(token, where="tool 'x'")  # type: ignore[arg-type]

    assert raised.value.token == token
    assert "in tool 'x'" in str(raised.value)


def test_the_constructor_keeps_the_invariants() -> None:
    with pytest.raises(ConfigurationError, match="at least one alternative"):
        Requirement(())
    with pytest.raises(ConfigurationError, match="minimal"):
        Requirement((frozenset({"a"}), frozenset({"a", "b"})))


def test_requirements_are_hashable_values() -> None:
    assert Requirement.any_of([["a", "b"]]) == Requirement.all_of("b", "a")
    assert len({Requirement.all_of("a"), Requirement.parse("a")}) == 1


def test_string_forms() -> None:
    requirement = Requirement.any_of([["b", "a"], ["admin"]])

    assert str(requirement) == "(a AND b) OR admin"
    assert repr(requirement) == "Requirement([['a', 'b'], ['admin']])"
    assert requirement.scopes == {"a", "b", "admin"}


# -- the cap ---------------------------------------------------------------------------------------


def test_combining_past_the_cap_raises_with_the_count() -> None:
    nine = Requirement.any_of([[f"x{i}"] for i in range(9)])
    other = Requirement.any_of([[f"y{i}"] for i in range(9)])

    with pytest.raises(RequirementTooComplexError) as raised:
        nine.combine(other, where="tool 'big'")

    assert (raised.value.count, raised.value.cap) == (81, DEFAULT_MAX_ALTERNATIVES)
    assert "tool 'big'" in str(raised.value)


def test_the_cap_counts_after_absorption() -> None:
    shared = Requirement.any_of([["s"], *([f"x{i}"] for i in range(9))])
    absorbing = Requirement.any_of([["s"]])

    assert shared.combine(absorbing, cap=1).to_json() == [["s"]]


def test_combine_all_and_with_a_custom_cap() -> None:
    parts = [Requirement.any_of([["a"], ["b"]]), Requirement.any_of([["c"], ["d"]])]

    assert Requirement.combine_all([]) == Requirement.none()
    assert Requirement.combine_all(parts).to_json() == [["a", "c"], ["a", "d"], ["b", "c"], ["b", "d"]]
    with pytest.raises(RequirementTooComplexError):
        Requirement.combine_all(parts, cap=3)
