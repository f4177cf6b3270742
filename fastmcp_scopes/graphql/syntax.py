"""An analysed operation's syntax tree, held as parsed or parsed again on first use from its document's text.

An analysis read back from a :class:`~fastmcp_scopes.graphql.cache.CatalogueCache` knows its operation's name,
its fragments' names and its document's text, which is enough to rebuild the syntax tree when (and only when)
someone asks for it: a warm start does not parse every document again.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    Source,
    parse,
)

from fastmcp_scopes.errors import GraphQLScopeError

__all__ = ["DeferredDocument", "OperationSyntax"]


class DeferredDocument:
    """A document's text, parsed on first use (once, whoever asks)."""

    __slots__ = ("_parsed", "max_tokens", "source_name", "text")

    def __init__(self, text: str, source_name: str, max_tokens: int) -> None:
        self.text = text
        self.source_name = source_name
        self.max_tokens = max_tokens
        self._parsed: DocumentNode | None = None

    def parsed(self) -> DocumentNode:
        """The document's syntax tree. Raises :class:`GraphQLScopeError` if the text no longer parses."""
        if self._parsed is None:
            try:
                self._parsed = parse(Source(self.text, self.source_name), max_tokens=self.max_tokens)
            except GraphQLError as error:
                raise GraphQLScopeError(f"cannot parse {self.source_name}: {error.message}") from None
        return self._parsed


class OperationSyntax:
    """An operation definition and the fragment definitions it uses, in the order reached."""

    __slots__ = ("_definition", "_document", "_fragment_names", "_fragments", "_name", "source_name")

    def __init__(self) -> None:
        self.source_name: str | None = None
        self._definition: OperationDefinitionNode | None = None
        self._fragments: tuple[FragmentDefinitionNode, ...] = ()
        self._document: DeferredDocument | None = None
        self._name = ""
        self._fragment_names: tuple[str, ...] = ()

    @classmethod
    def parsed(
        cls, definition: OperationDefinitionNode, fragments: tuple[FragmentDefinitionNode, ...]
    ) -> OperationSyntax:
        """Syntax already parsed."""
        syntax = cls()
        syntax._definition = definition
        syntax._fragments = fragments
        syntax.source_name = definition.loc.source.name if definition.loc is not None else None
        return syntax

    @classmethod
    def deferred(cls, document: DeferredDocument, name: str, fragment_names: tuple[str, ...]) -> OperationSyntax:
        """Syntax found on first use in ``document``: the operation ``name`` and the fragments named."""
        syntax = cls()
        syntax._document = document
        syntax._name = name
        syntax._fragment_names = fragment_names
        syntax.source_name = document.source_name
        return syntax

    @property
    def definition(self) -> OperationDefinitionNode:
        """The operation definition (parsed now if it was deferred)."""
        if self._definition is None:
            self._resolve()
        if self._definition is None:  # pragma: no cover - _resolve sets it or raises
            raise GraphQLScopeError(f"{self.source_name}: no operation {self._name}")
        return self._definition

    @property
    def fragments(self) -> tuple[FragmentDefinitionNode, ...]:
        """The fragment definitions the operation uses (parsed now if they were deferred)."""
        if self._definition is None:
            self._resolve()
        return self._fragments

    def _resolve(self) -> None:
        if self._document is None:  # pragma: no cover - a syntax is either parsed or deferred
            raise GraphQLScopeError("an operation without syntax")
        definitions = self._document.parsed().definitions
        operation = next(
            (
                d
                for d in definitions
                if isinstance(d, OperationDefinitionNode) and d.name is not None and d.name.value == self._name
            ),
            None,
        )
        fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
        if operation is None or any(name not in fragments for name in self._fragment_names):
            # The text was hashed into the cache key, so this is a cache entry that does not fit its document.
            raise GraphQLScopeError(f"{self.source_name} no longer holds operation {self._name} and its fragments")
        self._fragments = tuple(fragments[name] for name in self._fragment_names)
        self._definition = operation
