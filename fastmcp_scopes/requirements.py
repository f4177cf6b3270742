"""Scope requirements in disjunctive normal form.

A :class:`Requirement` is an ordered tuple of *alternatives*, each an AND-set of scope tokens: the
caller needs every scope of at least one alternative. This is Apollo Federation's
``@requiresScopes(scopes: [[Scope!]!]!)`` shape (outer list OR, inner list AND) and Authlib's
"list of space-separated strings", made an explicit, hashable value.

Invariants, kept by every constructor:

- every scope is a valid RFC 6749 §3.3 scope-token;
- alternatives are *minimal*: none is a superset of another (absorption: ``{a}`` absorbs ``{a, b}``);
- declaration order is kept, because ties in :meth:`Requirement.closest` go to the first declared.

``Requirement.none()`` (one empty alternative) means "no scope needed".
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError, RequirementTooComplexError

__all__ = ["DEFAULT_MAX_ALTERNATIVES", "Requirement"]

DEFAULT_MAX_ALTERNATIVES = 64
"""Cap on alternatives after AND-combination; cross products grow multiplicatively."""

Alternative = frozenset[str]


def _minimal(alternatives: Iterable[Alternative]) -> tuple[Alternative, ...]:
    """Drop duplicates and supersets of other alternatives, keeping first-declared order."""
    candidates = list(dict.fromkeys(alternatives))
    return tuple(a for a in candidates if not any(b < a for b in candidates))


@dataclass(frozen=True, slots=True)
class Requirement:
    """An immutable OR of AND-sets of scopes. Build it with :meth:`all_of`, :meth:`any_of`,
    :meth:`parse` or :meth:`none`; combine with ``&`` (AND) and ``|`` (OR)."""

    alternatives: tuple[Alternative, ...]

    def __post_init__(self) -> None:
        if not self.alternatives:
            raise ConfigurationError("a requirement needs at least one alternative; use Requirement.none()")
        if _minimal(self.alternatives) != self.alternatives:
            raise ConfigurationError("requirement alternatives must be minimal; build it with Requirement.any_of")

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def none(cls) -> Requirement:
        """The requirement that needs no scope."""
        return _NONE

    @classmethod
    def all_of(cls, *scopes: str, where: str | None = None) -> Requirement:
        """One alternative needing every scope given. Raises :class:`InvalidScopeError`."""
        return cls((frozenset(validate_scope_token(s, where=where) for s in scopes),))

    @classmethod
    def any_of(
        cls,
        alternatives: Iterable[Iterable[str]],
        *,
        where: str | None = None,
    ) -> Requirement:
        """Any one of the given AND-sets. Raises :class:`InvalidScopeError` or :class:`ConfigurationError`."""
        if isinstance(alternatives, str):
            raise ConfigurationError(f"any_of{_at(where)} takes a list of scope lists, not a string")
        parsed: list[Alternative] = []
        for alternative in alternatives:
            if isinstance(alternative, str):
                raise ConfigurationError(
                    f"any_of{_at(where)} takes a list of scope lists; got the string {alternative!r} "
                    f"as an alternative (write [{alternative!r}])"
                )
            parsed.append(frozenset(validate_scope_token(s, where=where) for s in alternative))
        if not parsed:
            raise ConfigurationError(f"any_of{_at(where)} needs at least one alternative")
        return cls._trusted(_minimal(parsed))

    @classmethod
    def parse(cls, value: Any, *, where: str | None = None) -> Requirement:
        """Read a requirement from configuration: ``"a b"`` or ``["a", "b"]`` (all of them), or
        ``[["a"], ["b", "c"]]`` (any one alternative). An empty string or list means no scope."""
        if isinstance(value, Requirement):
            return value
        if isinstance(value, str):
            return cls.all_of(*value.split(), where=where)
        if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            return cls.all_of(*value, where=where)
        if isinstance(value, Sequence) and all(isinstance(v, Sequence) and not isinstance(v, str) for v in value):
            return cls.any_of(value, where=where)
        raise ConfigurationError(
            f"cannot read a scope requirement{_at(where)} from {value!r}: "
            'expected "a b", ["a", "b"] or [["a"], ["b", "c"]]'
        )

    # -- algebra --------------------------------------------------------------------------------

    def combine(
        self, other: Requirement, *, cap: int = DEFAULT_MAX_ALTERNATIVES, where: str | None = None
    ) -> Requirement:
        """AND: the minimal cross product. Raises :class:`RequirementTooComplexError` past ``cap``."""
        if other.is_empty:
            return self
        if self.is_empty:
            return other
        product = _minimal(a | b for a in self.alternatives for b in other.alternatives)
        if len(product) > cap:
            raise RequirementTooComplexError(len(product), cap, where=where)
        return Requirement._trusted(product)

    def __and__(self, other: Requirement) -> Requirement:
        return self.combine(other)

    def __or__(self, other: Requirement) -> Requirement:
        return Requirement._trusted(_minimal(self.alternatives + other.alternatives))

    @classmethod
    def _trusted(cls, alternatives: tuple[Alternative, ...]) -> Requirement:
        """Build from alternatives already validated and minimised here (skips re-checking)."""
        requirement = object.__new__(cls)
        object.__setattr__(requirement, "alternatives", alternatives)
        return requirement

    @classmethod
    def combine_all(
        cls, requirements: Iterable[Requirement], *, cap: int = DEFAULT_MAX_ALTERNATIVES, where: str | None = None
    ) -> Requirement:
        """AND over many requirements (``none()`` for an empty iterable)."""
        result = _NONE
        for requirement in requirements:
            result = result.combine(requirement, cap=cap, where=where)
        return result

    # -- questions ------------------------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        """True when no scope is needed."""
        return self.alternatives == _NONE_ALTERNATIVES

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope named by any alternative."""
        return frozenset().union(*self.alternatives)

    def is_satisfied_by(self, granted: Container[str]) -> bool:
        """True when some alternative is wholly granted. ``granted`` may be a set or a
        :class:`~fastmcp_scopes.hierarchy.GrantedScopes` (which honours wildcards)."""
        return any(all(s in granted for s in alternative) for alternative in self.alternatives)

    def closest(self, granted: Container[str]) -> Alternative:
        """The alternative with the fewest missing scopes; ties go to the first declared."""
        best = self.alternatives[0]
        best_missing = _count_missing(best, granted)
        for alternative in self.alternatives[1:]:
            if best_missing == 0:
                break
            missing = _count_missing(alternative, granted)
            if missing < best_missing:
                best, best_missing = alternative, missing
        return best

    def missing(self, granted: Container[str]) -> frozenset[str]:
        """The scopes of :meth:`closest` that are not granted (empty when satisfied)."""
        return frozenset(s for s in self.closest(granted) if s not in granted)

    def to_json(self) -> list[list[str]]:
        """Alternatives as sorted lists, in declaration order (``[[]]`` when no scope is needed)."""
        return [sorted(a) for a in self.alternatives]

    def __str__(self) -> str:
        if self.is_empty:
            return "(no scope)"
        return " OR ".join(
            "(" + " AND ".join(sorted(a)) + ")" if len(a) > 1 else next(iter(a)) for a in self.alternatives
        )

    def __repr__(self) -> str:
        return f"Requirement({self.to_json()!r})"


def _count_missing(alternative: Alternative, granted: Container[str]) -> int:
    return sum(1 for s in alternative if s not in granted)


def _at(where: str | None) -> str:
    return f" for {where}" if where else ""


_NONE_ALTERNATIVES: tuple[Alternative, ...] = (frozenset(),)
_NONE = Requirement(_NONE_ALTERNATIVES)
