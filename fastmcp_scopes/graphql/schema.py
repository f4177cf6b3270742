"""A GraphQL schema with its scope declarations resolved, ready to derive operations' requirements.

Real schemas are not always clean: GitHub's public schema defines some fields twice and deprecates
implementations of non-deprecated interface fields. By default such a schema loads with a
:class:`GraphQLSchemaWarning` listing every problem; ``strict=True`` refuses it with the same list.
Operations, on the other hand, are always validated in full: one that does not validate has no requirement.
"""

from __future__ import annotations

import gc
import hashlib
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    Source,
    build_ast_schema,
    build_client_schema,
    parse,
    print_schema,
    specified_rules,
    validate,
    validate_schema,
)
from graphql.validation.validate import validate_sdl

from fastmcp_scopes.errors import GraphQLScopeError
from fastmcp_scopes.graphql.analysis import OperationAnalysis, PlanEvaluator, analysis_of
from fastmcp_scopes.graphql.cache import CatalogueCache, entries_of, read_analyses
from fastmcp_scopes.graphql.catalogue import CataloguePlaces, merge_catalogue
from fastmcp_scopes.graphql.directives import ScopeDeclarations, read_declarations
from fastmcp_scopes.graphql.federation import DirectiveNames, prepare_document
from fastmcp_scopes.graphql.requires_scopes import DefinitionPlan, ScopePlans, scope_rule
from fastmcp_scopes.graphql.scope_index import ScopeIndex
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_TOKENS",
    "GraphQLSchemaWarning",
    "ScopedSchema",
]

DEFAULT_MAX_TOKENS = 50_000
"""Parser token cap for operation documents: a bound on work for text that may come from a client."""

DEFAULT_MAX_ERRORS = 20
"""Validation stops after this many errors (graphql-core's own default is 100), against crafted documents."""

_PLAIN_NAMES = DirectiveNames(frozenset({"requiresScopes"}), frozenset({"authenticated"}))
_MAX_LISTED_PROBLEMS = 50


class GraphQLSchemaWarning(UserWarning):
    """A schema was loaded despite strict validation problems (listed in the message)."""


class ScopedSchema:
    """A graphql-core schema plus its ``@requiresScopes``/``@authenticated`` declarations.

    Build it with :meth:`from_sdl`, :meth:`from_introspection` or :func:`~fastmcp_scopes.graphql.load_schema`.
    Then :meth:`analyze`, :meth:`requirement` and :meth:`operations` derive requirements of operations.

    ``problems`` lists what strict validation found in the schema (empty for a clean schema).
    ``input_directives``: count scope directives on argument and input types (scalars, enums, input objects
    and their fields) too; Apollo Router does not enforce them, so by default they do not count
    (``FASTMCP_SCOPES_GRAPHQL_INPUT_DIRECTIVES``). ``fingerprint``: what identifies this schema and its
    declarations for a :class:`~fastmcp_scopes.graphql.CatalogueCache` (:meth:`from_sdl` sets it from the
    SDL's text; otherwise it is worked out from the printed schema when first needed).
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        names: DirectiveNames = _PLAIN_NAMES,
        *,
        problems: Sequence[str] = (),
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_errors: int = DEFAULT_MAX_ERRORS,
        input_directives: bool = False,
        fingerprint: str | None = None,
    ) -> None:
        if max_tokens < 1 or max_errors < 1:
            raise ValueError("max_tokens and max_errors must be positive")
        self._fingerprint = fingerprint
        self.schema = schema
        self.names = names
        self.problems = tuple(problems)
        self.max_tokens = max_tokens
        self.max_errors = max_errors
        self.input_directives = input_directives
        self.declarations: ScopeDeclarations = read_declarations(schema, names)
        self._index = ScopeIndex(schema, self.declarations, input_directives=input_directives)

    # -- loading ----------------------------------------------------------------------------------

    @classmethod
    def from_sdl(
        cls,
        sdl: str,
        *,
        strict: bool = False,
        source_name: str = "schema",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_errors: int = DEFAULT_MAX_ERRORS,
        input_directives: bool = False,
        no_scope_directives: bool = False,
    ) -> ScopedSchema:
        """Build from SDL: a plain schema, a federation 1 or 2 subgraph, or a supergraph.

        Missing federation definitions are supplied (see :mod:`fastmcp_scopes.graphql.federation`).
        Problems found by graphql-core's SDL and schema validation are listed in a
        :class:`GraphQLSchemaWarning`, or raised as :class:`GraphQLScopeError` when ``strict``.
        Syntax errors, schemas that cannot be built at all, and scope directives that cannot be resolved (a
        linked schema applying ``@requiresScopes`` that its ``@link`` does not import) always raise
        :class:`GraphQLScopeError`; so does a schema declared to have none (``no_scope_directives``) that has some.
        ``max_tokens`` and ``max_errors`` bound the work spent on each operation document; see the class for
        ``input_directives``.
        """
        with cycle_collection_paused():  # A schema of thousands of types is a burst of allocations.
            try:
                document = parse(Source(sdl, source_name))
            except GraphQLError as error:
                raise GraphQLScopeError(f"cannot parse the schema: {_describe(error)}") from None
            document, names = prepare_document(document)
            problems = [_describe(error) for error in validate_sdl(document)]
            if problems and strict:
                raise _schema_problems_error(source_name, problems)
            try:
                # SDL problems are already listed; building without re-checking lets a schema with, say, a field
                # defined twice load (the last definition wins), as other GraphQL servers do.
                schema = build_ast_schema(document, assume_valid_sdl=True)
            except (GraphQLError, TypeError) as error:
                listed = [*problems, str(error)]
                raise GraphQLScopeError(
                    f"cannot build the schema {source_name}:\n" + _format_problems(listed)
                ) from None
            schema_problems = [_describe(error) for error in validate_schema(schema)]
            problems.extend(schema_problems)
            if problems:
                if strict:
                    raise _schema_problems_error(source_name, problems)
                warnings.warn(
                    f"the schema {source_name} does not pass strict validation and was loaded anyway "
                    f"(strict=False); {len(problems)} problem(s):\n{_format_problems(problems)}",
                    GraphQLSchemaWarning,
                    stacklevel=2,
                )
                if schema_problems:
                    # graphql-core's validate() refuses to run against a schema it found invalid; we have
                    # reported the problems, so mark this one as accepted.
                    kwargs = schema.to_kwargs()
                    kwargs["assume_valid"] = True
                    schema = GraphQLSchema(**kwargs)
            scoped = cls(
                schema,
                names,
                problems=problems,
                max_tokens=max_tokens,
                max_errors=max_errors,
                input_directives=input_directives,
                fingerprint=_digest(
                    "sdl", sdl, sorted(names.requires_scopes), sorted(names.authenticated), names.subgraph
                ),
            )
            if no_scope_directives and not scoped.declarations.is_empty:
                declared = sorted({*scoped.declarations.types, *(f"{t}.{f}" for t, f in scoped.declarations.fields)})
                raise GraphQLScopeError(
                    f"the schema {source_name} is declared to have no scope directives (no_scope_directives, "
                    f"FASTMCP_SCOPES_GRAPHQL_NO_SCOPE_DIRECTIVES) but declares scopes on {', '.join(declared[:5])}"
                    + (f" and {len(declared) - 5} more" if len(declared) > 5 else "")
                )
            return scoped

    @classmethod
    def from_introspection(
        cls,
        result: Mapping[str, Any],
        *,
        strict: bool = False,
        source_name: str = "introspection",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_errors: int = DEFAULT_MAX_ERRORS,
        input_directives: bool = False,
        no_scope_directives: bool = False,
    ) -> ScopedSchema:
        """Build from an introspection result (``{"data": {"__schema": ...}}`` or ``{"__schema": ...}``).

        A federation subgraph's ``{"_service": {"sdl": ...}}`` answer is read as SDL instead. Standard
        introspection carries no applied directives, so from it every operation would derive "no scope": such a
        result raises :class:`GraphQLScopeError` unless ``no_scope_directives`` declares that the schema has no
        scope directives (``FASTMCP_SCOPES_GRAPHQL_NO_SCOPE_DIRECTIVES=true``), which is then taken at its word.
        """
        data = result.get("data", result)
        if not isinstance(data, Mapping):
            raise GraphQLScopeError(f"{source_name} is not an introspection result: 'data' is not an object")
        service = data.get("_service")
        if isinstance(service, Mapping) and isinstance(service.get("sdl"), str):
            return cls.from_sdl(
                service["sdl"],
                strict=strict,
                source_name=source_name,
                max_tokens=max_tokens,
                max_errors=max_errors,
                input_directives=input_directives,
                no_scope_directives=no_scope_directives,
            )
        if not isinstance(data.get("__schema"), Mapping):
            raise GraphQLScopeError(f"{source_name} is not an introspection result: no '__schema' object")
        if not no_scope_directives:
            raise GraphQLScopeError(
                f"{source_name} is an introspection result, which carries no applied directives: every operation "
                "would need no scope, whatever @requiresScopes the schema declares. Load the SDL (or a federation "
                "subgraph's _service.sdl, or the supergraph) instead; or, if the schema really has no scope "
                "directives, say so with FASTMCP_SCOPES_GRAPHQL_NO_SCOPE_DIRECTIVES=true (no_scope_directives=True)"
            )
        try:
            schema = build_client_schema(data)  # type: ignore[arg-type]
        except (GraphQLError, TypeError) as error:
            raise GraphQLScopeError(f"cannot build a schema from {source_name}: {error}") from None
        return cls(
            schema, _PLAIN_NAMES, max_tokens=max_tokens, max_errors=max_errors, input_directives=input_directives
        )

    # -- operations -------------------------------------------------------------------------------

    def parse_operations(self, document: str | DocumentNode, *, source_name: str = "operation") -> DocumentNode:
        """Parse (with the token cap) and validate ``document`` against the schema.

        Raises :class:`GraphQLScopeError` listing each problem with its location. Validation hides
        "did you mean" suggestions so that errors shown to clients do not reveal the schema.
        """
        document = self._parse(document, source_name)
        self._validate(document, source_name, None)
        return document

    def operations(
        self,
        document: str | DocumentNode,
        *,
        cap: int = DEFAULT_MAX_ALTERNATIVES,
        source_name: str = "operation",
    ) -> tuple[OperationAnalysis, ...]:
        """Analyse every operation of a document, in document order.

        Raises :class:`GraphQLScopeError` for a document that does not parse or validate (fragment cycles
        included) and :class:`~fastmcp_scopes.errors.RequirementTooComplexError` past ``cap``.
        """
        document = self._parse(document, source_name)
        plans = ScopePlans()
        self._validate(document, source_name, plans)
        evaluator = PlanEvaluator(self._index, plans)
        return tuple(analysis_of(evaluator, plan, cap=cap) for plan in plans.operations)

    def analyze(
        self,
        document: str | DocumentNode,
        operation_name: str | None = None,
        *,
        cap: int = DEFAULT_MAX_ALTERNATIVES,
        source_name: str = "operation",
    ) -> OperationAnalysis:
        """Analyse one operation: the only one in ``document``, or the one named ``operation_name``.

        Raises :class:`GraphQLScopeError` for an unknown operation name, a missing name when the document
        holds several operations, or a document that does not validate.
        """
        document = self._parse(document, source_name)
        plans = ScopePlans()
        self._validate(document, source_name, plans)
        operations = plans.operations
        named = [_operation_name(plan) for plan in operations]
        listed = ", ".join(n for n in named if n)
        if operation_name is None:
            if len(operations) != 1:
                raise GraphQLScopeError(
                    f"{source_name} holds {len(operations)} operations ({listed or 'none named'}); "
                    "give the operation name"
                )
            plan = operations[0]
        else:
            found = next((p for p, n in zip(operations, named, strict=True) if n == operation_name), None)
            if found is None:
                raise GraphQLScopeError(
                    f"{source_name} has no operation named {operation_name!r}; "
                    f"it holds: {listed or 'no named operation'}"
                )
            plan = found
        return analysis_of(PlanEvaluator(self._index, plans), plan, cap=cap)

    def requirement(
        self,
        document: str | DocumentNode,
        operation_name: str | None = None,
        *,
        cap: int = DEFAULT_MAX_ALTERNATIVES,
    ) -> Requirement:
        """The :class:`Requirement` of one operation; see :meth:`analyze` for the errors it raises."""
        return self.analyze(document, operation_name, cap=cap).requirement

    def analyze_catalogue(
        self,
        documents: Iterable[tuple[str | Path, str | DocumentNode]],
        *,
        cap: int = DEFAULT_MAX_ALTERNATIVES,
        cache: CatalogueCache | None = None,
    ) -> dict[str, OperationAnalysis]:
        """Analyse a catalogue of operation documents, ``(source name, text or AST)`` pairs such as
        :func:`~fastmcp_scopes.graphql.read_operation_files` returns: every operation by name, in catalogue order.

        The result is what :meth:`operations` gives for each document on its own, but the whole catalogue is
        validated (every one of graphql-core's rules) and analysed in one traversal, which is what makes a
        large catalogue start quickly. Each document must stand on its own: it may use only fragments it
        defines, and must use each. A fragment defined with the same name and text in several documents is
        analysed once. Each analysis's :attr:`~OperationAnalysis.source_name` names its document.

        Raises :class:`GraphQLScopeError` listing every problem, each with its place (``file:line:column``)
        and the operation or fragment holding it: a document that does not parse or validate, an anonymous
        operation (a catalogue is keyed by name), two operations of one name, and one fragment name defined
        differently in two documents; and :class:`~fastmcp_scopes.errors.RequirementTooComplexError` past
        ``cap``.

        With a ``cache`` (texts only, not ASTs), a catalogue analysed before with the same schema, options and
        documents is read back instead (see :mod:`fastmcp_scopes.graphql.cache`): the same analyses, whose
        syntax trees are parsed only when asked for.
        """
        with cycle_collection_paused():
            return self._cached_catalogue(documents, cap, cache)

    def _cached_catalogue(
        self, documents: Iterable[tuple[str | Path, str | DocumentNode]], cap: int, cache: CatalogueCache | None
    ) -> dict[str, OperationAnalysis]:
        listed = [(str(name), document) for name, document in documents]
        texts = [(name, document) for name, document in listed if isinstance(document, str)]
        if cache is None or len(texts) != len(listed) or len({name for name, _ in texts}) != len(texts):
            return self._analyze_catalogue(listed, cap)  # Only named texts can be hashed into a key.
        options = {
            "cap": cap,
            "max_tokens": self.max_tokens,
            "max_errors": self.max_errors,
            "input_directives": self.input_directives,
        }
        key = cache.key(self.fingerprint, options, texts)
        found = read_analyses(cache.load(key), self.declarations, texts, max_tokens=self.max_tokens, cap=cap)
        if found is None:
            found = self._analyze_catalogue(listed, cap)
            cache.store(key, entries_of(found, texts))
        return found

    @property
    def fingerprint(self) -> str:
        """What identifies this schema and its declarations, for a catalogue cache's key."""
        if self._fingerprint is None:
            declared = sorted(
                (d.coordinate, d.requirement.to_json(), d.authenticated)
                for d in (*self.declarations.types.values(), *self.declarations.fields.values())
            )
            self._fingerprint = _digest("schema", print_schema(self.schema), declared)
        return self._fingerprint

    def _analyze_catalogue(
        self, documents: Iterable[tuple[str, str | DocumentNode]], cap: int
    ) -> dict[str, OperationAnalysis]:
        parsed: list[DocumentNode] = []
        syntax: list[str] = []
        for source_name, document in documents:
            try:
                parsed.append(self._parse(document, source_name))
            except GraphQLScopeError as error:
                syntax.append(str(error))
        if syntax:
            raise GraphQLScopeError("the operation catalogue does not parse:\n" + _format_problems(syntax))
        merged, errors = merge_catalogue(parsed)
        plans = ScopePlans()
        # Validated even after a merging problem, so that one start-up reports every problem.
        errors.extend(
            validate(self.schema, merged, self._rules(plans), max_errors=self.max_errors, hide_suggestions=True)
        )
        if errors:
            places = CataloguePlaces(parsed)
            listed = [f"{_describe(error)}{places.label(error)}" for error in places.ordered(errors)]
            raise GraphQLScopeError(
                f"the operation catalogue ({len(parsed)} document(s)) does not validate against the schema; "
                f"{len(listed)} problem(s):\n{_format_problems(listed)}"
            )
        evaluator = PlanEvaluator(self._index, plans)
        return {_operation_name(plan) or "": analysis_of(evaluator, plan, cap=cap) for plan in plans.operations}

    # -- internals --------------------------------------------------------------------------------

    def _parse(self, document: str | DocumentNode, source_name: str) -> DocumentNode:
        if isinstance(document, DocumentNode):
            return document
        try:
            return parse(Source(document, source_name), max_tokens=self.max_tokens)
        except GraphQLError as error:
            raise GraphQLScopeError(f"cannot parse {source_name}: {_describe(error)}") from None

    def _rules(self, plans: ScopePlans | None) -> list[type[ASTValidationRule]]:
        if plans is None:
            return list(specified_rules)
        # The scope rule shares validation's traversal: one walk of the document answers both.
        return [*specified_rules, scope_rule(self._index, plans)]

    def _validate(self, document: DocumentNode, source_name: str, plans: ScopePlans | None) -> None:
        errors = validate(self.schema, document, self._rules(plans), max_errors=self.max_errors, hide_suggestions=True)
        if errors:
            raise GraphQLScopeError(
                f"{source_name} does not validate against the schema:\n" + _format_problems(map(_describe, errors))
            )


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many long-lived objects at start-up.

    Parsing and validating allocate hundreds of thousands of objects that survive, and each such burst triggers
    full collections that traverse every object already alive, the loaded schema included: they cost more than
    the work itself. What is built here is freed by reference counting; the collector resumes afterwards
    (unless it was already disabled, which is left as it was).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _describe(error: GraphQLError) -> str:
    """The message with its locations (``source:line:column``), which graphql-core's str() spreads over lines.

    Each node is placed in its own source: in a catalogue, one error can point into two files.
    """
    places = []
    if error.nodes and any(node.loc is not None for node in error.nodes):
        for node in error.nodes:
            if node.loc is not None:
                location = node.loc.source.get_location(node.loc.start)
                places.append(f"{node.loc.source.name}:{location.line}:{location.column}")
    elif error.source is not None and error.locations:
        places = [f"{error.source.name}:{loc.line}:{loc.column}" for loc in error.locations]
    return f"{error.message} ({', '.join(places)})" if places else error.message


def _operation_name(plan: DefinitionPlan) -> str | None:
    name = plan.node.name
    return name.value if name is not None else None


def _format_problems(problems: Any) -> str:
    listed = list(problems)
    shown = [f"  - {p}" for p in listed[:_MAX_LISTED_PROBLEMS]]
    if len(listed) > _MAX_LISTED_PROBLEMS:
        shown.append(f"  ... and {len(listed) - _MAX_LISTED_PROBLEMS} more")
    return "\n".join(shown)


def _schema_problems_error(source_name: str, problems: Sequence[str]) -> GraphQLScopeError:
    return GraphQLScopeError(
        f"the schema {source_name} does not pass strict validation; {len(problems)} problem(s):\n"
        + _format_problems(problems)
    )


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode("utf-8", "surrogatepass")).hexdigest()
