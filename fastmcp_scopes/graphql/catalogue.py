"""A catalogue of operation documents merged into one, so that it is validated and analysed in one traversal.

:meth:`~fastmcp_scopes.graphql.ScopedSchema.analyze_catalogue` parses each document, merges them with
:func:`merge_catalogue` (fragments shared by name and text are kept once; the rules graphql-core checks per
document are checked here across documents), validates the result, and places each error with
:class:`CataloguePlaces`: its document, its ``file:line:column`` and the operation or fragment holding it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from graphql import (
    DefinitionNode,
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    print_ast,
)

from fastmcp_scopes.graphql.analysis import fragments_of

__all__ = [
    "CataloguePlaces",
    "merge_catalogue",
]


def merge_catalogue(documents: Sequence[DocumentNode]) -> tuple[DocumentNode, list[GraphQLError]]:
    """One document holding every definition of ``documents``, and the problems that merging reveals.

    A fragment defined in several documents with the same text is kept once; with different texts, it is an
    error naming both. Anonymous operations are left out and reported: a catalogue is keyed by name, and
    graphql-core would read one as "must be the only operation". Since validation sees one document, rules that
    hold per document are checked here across documents: a document may not use a fragment that only another
    one defines, nor define a fragment that only another one uses.
    """
    merged: list[DefinitionNode] = []
    errors: list[GraphQLError] = []
    owners: dict[str, tuple[int, FragmentDefinitionNode]] = {}
    for number, document in enumerate(documents):
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name is None:
                errors.append(
                    GraphQLError("A catalogue operation needs a name (the catalogue is keyed by it).", definition)
                )
                continue
            if isinstance(definition, FragmentDefinitionNode):
                owner = owners.setdefault(definition.name.value, (number, definition))
                if owner[0] != number:
                    if print_ast(owner[1]) != print_ast(definition):
                        errors.append(
                            GraphQLError(
                                f"Fragment '{definition.name.value}' is defined differently in two documents; "
                                "a fragment shared by name must be the same.",
                                [owner[1], definition],
                            )
                        )
                    continue  # The same fragment: the first definition stands for both.
            merged.append(definition)
    errors.extend(_fragment_scope_errors(documents, owners))
    return DocumentNode(definitions=tuple(merged)), errors


def _fragment_scope_errors(
    documents: Sequence[DocumentNode], owners: Mapping[str, tuple[int, FragmentDefinitionNode]]
) -> list[GraphQLError]:
    # What graphql-core's KnownFragmentNamesRule and NoUnusedFragmentsRule would say of each document alone
    # and cannot see in the merged one; what they do see there, they report themselves.
    spreads = {
        id(d): _spreads(d.selection_set)
        for document in documents
        for d in document.definitions
        if isinstance(d, ExecutableDefinitionNode)
    }

    def reach(operations: Iterable[DefinitionNode], fragments: Mapping[str, FragmentDefinitionNode]) -> set[str]:
        pending = [s.name.value for d in operations if isinstance(d, OperationDefinitionNode) for s in spreads[id(d)]]
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name not in seen and name in fragments:
                seen.add(name)
                pending.extend(s.name.value for s in spreads[id(fragments[name])])
        return seen

    kept = {name: definition for name, (_number, definition) in owners.items()}
    used_in_merged = reach((d for document in documents for d in document.definitions), kept)
    errors: list[GraphQLError] = []
    for document in documents:
        own = fragments_of(document.definitions)
        for definition in document.definitions:
            for spread in spreads.get(id(definition), ()):
                if spread.name.value not in own and spread.name.value in owners:
                    errors.append(GraphQLError(f"Unknown fragment '{spread.name.value}'.", spread))
        used = reach(document.definitions, own)
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode) and definition.name.value not in used:
                name = definition.name.value
                if kept[name] is not definition or name in used_in_merged:
                    errors.append(GraphQLError(f"Fragment '{name}' is never used.", definition))
    return errors


def _spreads(selection_set: SelectionSetNode | None) -> list[FragmentSpreadNode]:
    found: list[FragmentSpreadNode] = []
    pending = [selection_set] if selection_set is not None else []
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                found.append(selection)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                pending.append(selection.selection_set)
    return found


class CataloguePlaces:
    """Which document, and which operation or fragment of it, a catalogue error points into."""

    def __init__(self, documents: Sequence[DocumentNode]) -> None:
        self._documents: dict[int, int] = {}
        self._definitions: dict[int, list[tuple[int, int, str]]] = {}
        for number, document in enumerate(documents):
            for definition in document.definitions:
                if definition.loc is None:
                    continue
                self._documents.setdefault(id(definition.loc.source), number)
                label = _label(definition)
                if label:
                    spans = self._definitions.setdefault(id(definition.loc.source), [])
                    spans.append((definition.loc.start, definition.loc.end, label))

    def _first(self, error: GraphQLError) -> tuple[int, int] | None:
        for node in error.nodes or ():
            if node.loc is not None:
                return id(node.loc.source), node.loc.start
        return None

    def ordered(self, errors: Iterable[GraphQLError]) -> list[GraphQLError]:
        """``errors`` by document, then place; errors with no place last, in their order."""

        def key(error: GraphQLError) -> tuple[int, int]:
            first = self._first(error)
            if first is None:
                return (len(self._documents) + 1, 0)
            return (self._documents.get(first[0], len(self._documents)), first[1])

        return sorted(errors, key=key)

    def label(self, error: GraphQLError) -> str:
        """`` in query Name`` or `` in fragment Name``, for the definition holding the error's first node."""
        first = self._first(error)
        if first is not None:
            for start, end, label in self._definitions.get(first[0], ()):
                if start <= first[1] < end:
                    return f" in {label}"
        return ""


def _label(definition: DefinitionNode) -> str | None:
    if isinstance(definition, OperationDefinitionNode) and definition.name is not None:
        return f"{definition.operation.value} {definition.name.value}"
    if isinstance(definition, FragmentDefinitionNode):
        return f"fragment {definition.name.value}"
    return None
