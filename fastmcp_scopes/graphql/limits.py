"""Bounds on the work a caller's GraphQL text can cause before anything about it is decided.

``execute_graphql`` derives its requirement from the query its caller sends, so the text is read by the server
for anyone who can call the tool: :func:`parse_bounded` refuses, cheaply and in this order, text past a size
(before parsing), past a parser token count (graphql-core stops parsing there), selections nested past a depth
(fragments expanded) and one response key repeated past a count in one selection set, before validation and
analysis spend anything on it. Refusals
carry fixed text naming the limit, never the caller's input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    SelectionSetNode,
    Source,
    parse,
)

from fastmcp_scopes.errors import ConfigurationError, GraphQLScopeError

if TYPE_CHECKING:
    from fastmcp_scopes.settings import ScopesSettings

__all__ = ["QueryLimitError", "QueryLimits", "most_repeated_key", "parse_bounded", "selection_depth"]


class QueryLimitError(GraphQLScopeError):
    """A caller's query is past one of the :class:`QueryLimits`; the message is fixed text naming the limit."""


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """How large, long and deep a caller's query may be (``FASTMCP_SCOPES_GRAPHQL_MAX_QUERY_BYTES``,
    ``..._TOKENS``, ``..._DEPTH``; ``max_repeats`` is fixed unless given here). Raises :class:`ConfigurationError`
    for a limit below 1."""

    max_bytes: int = 16_384
    max_tokens: int = 2_000
    max_depth: int = 12
    max_repeats: int = 32
    """Most selections under one response key in one selection set (see :func:`most_repeated_key`): graphql-core
    compares those pairwise, so a few hundred copies of one field cost seconds even within ``max_tokens``."""

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_tokens", "max_depth", "max_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"QueryLimits {name} must be a whole number >= 1, not {value!r}")

    @classmethod
    def from_settings(cls, settings: ScopesSettings) -> QueryLimits:
        """The limits ``settings`` configure."""
        return cls(
            max_bytes=settings.graphql_max_query_bytes,
            max_tokens=settings.graphql_max_query_tokens,
            max_depth=settings.graphql_max_query_depth,
        )


def parse_bounded(text: str, limits: QueryLimits, source_name: str) -> DocumentNode:
    """Parse a caller's ``text`` within ``limits``.

    Raises :class:`QueryLimitError` past a limit, and :class:`GraphQLScopeError` for text that does not parse.
    """
    # len() in characters is a lower bound of the UTF-8 size, so most oversized text is refused without encoding.
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise QueryLimitError(f"the query is larger than {limits.max_bytes} bytes")
    try:
        document = parse(Source(text, source_name), max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as error:
        if "more than" in error.message and "tokens" in error.message:
            raise QueryLimitError(f"the query has more than {limits.max_tokens} tokens") from None
        if "nested too deeply" in error.message:
            raise QueryLimitError(f"the query nests selections deeper than the limit of {limits.max_depth}") from None
        raise GraphQLScopeError(f"cannot parse {source_name}: {error.message}") from None
    shape = _Shape(document)
    if shape.depth > limits.max_depth:
        raise QueryLimitError(f"the query nests selections deeper than the limit of {limits.max_depth}")
    if shape.repeats > limits.max_repeats:
        raise QueryLimitError(f"the query selects one response key more than {limits.max_repeats} times in one place")
    return document


def selection_depth(document: DocumentNode) -> int:
    """The deepest nesting of fields in any operation or fragment of ``document``, fragment spreads expanded."""
    return _Shape(document).depth


def most_repeated_key(document: DocumentNode) -> int:
    """The most selections one selection set holds under a single response key (a field name or alias), inline
    fragments and fragment spreads merged in: what graphql-core's overlapping-fields validation compares pairwise."""
    return _Shape(document).repeats


class _Shape:
    """Depth and response-key repeats of a document, in time linear in it (plus fragments times fragments).

    Each fragment is summarised once (its deepest nesting, its top-level response keys) and summaries are combined
    in post-order with an explicit stack, so that no chain of fragments can exhaust the interpreter's stack; a
    cycle counts as nothing (validation rejects it). A fragment spread twice in one selection set counts once,
    as graphql-core compares it once; keys a fragment reaches through two paths count twice (a bound, not a
    count, so only ever stricter).
    """

    def __init__(self, document: DocumentNode) -> None:
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        walked = {d: _walk(d.selection_set) for d in document.definitions if isinstance(d, ExecutableDefinitionNode)}
        local = {name: walked[fragment] for name, fragment in fragments.items()}
        depths: dict[str, int] = {}
        keys: dict[str, Counter[str]] = {}
        for name in fragments:
            if name in depths:
                continue
            stack, visiting = [name], {name}
            while stack:
                current = stack[-1]
                walk = local[current]
                pending = next(
                    (s for _at, s in walk.spreads if s in local and s not in depths and s not in visiting), None
                )
                if pending is not None:
                    stack.append(pending)
                    visiting.add(pending)
                    continue
                depths[current] = max([walk.depth, *(at + depths.get(s, 0) for at, s in walk.spreads)])
                top = Counter(walk.groups[0].keys)
                for spread in walk.groups[0].spreads:
                    top.update(keys.get(spread, {}))
                keys[current] = top
                stack.pop()
                visiting.discard(current)
        self.depth = 0
        self.repeats = 0
        for walk in walked.values():
            self.depth = max([self.depth, walk.depth, *(at + depths.get(s, 0) for at, s in walk.spreads)])
            for group in walk.groups:
                merged = Counter(group.keys)
                for spread in group.spreads:
                    merged.update(keys.get(spread, {}))
                if merged:
                    self.repeats = max(self.repeats, max(merged.values()))


class _Group:
    """One selection set with its inline fragments merged in: response keys selected, fragments spread."""

    __slots__ = ("keys", "spreads")

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.spreads: set[str] = set()


class _Walk:
    """One definition: its deepest field nesting, each spread with the depth it sits at, and its selection sets
    (the first is the definition's own)."""

    __slots__ = ("depth", "groups", "spreads")

    def __init__(self) -> None:
        self.depth = 0
        self.spreads: list[tuple[int, str]] = []
        self.groups: list[_Group] = [_Group()]


def _walk(selection_set: SelectionSetNode) -> _Walk:
    walk = _Walk()
    pending: list[tuple[SelectionSetNode, int, _Group]] = [(selection_set, 0, walk.groups[0])]
    while pending:
        current, depth, group = pending.pop()
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                walk.depth = max(walk.depth, depth + 1)
                group.keys[(selection.alias or selection.name).value] += 1
                if selection.selection_set is not None:
                    inner = _Group()
                    walk.groups.append(inner)
                    pending.append((selection.selection_set, depth + 1, inner))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, depth, group))
            elif isinstance(selection, FragmentSpreadNode):
                walk.spreads.append((depth, selection.name.value))
                group.spreads.add(selection.name.value)
    return walk
