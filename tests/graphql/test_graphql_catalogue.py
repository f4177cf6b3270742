"""A catalogue analysed in one traversal gives what each document gives alone, and what the straightforward
analysis (each fragment walked again wherever it is spread) gives; its errors say what, where and in which
operation, never "no scope"."""

from __future__ import annotations

import importlib.util
import random
import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    InlineFragmentNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.language import ArgumentNode, FieldNode
from graphql.language.visitor import SKIP, VisitorAction
from graphql_harness import GITHUB_SCHEMA, OPERATIONS

from fastmcp_scopes.errors import GraphQLScopeError, RequirementTooComplexError
from fastmcp_scopes.graphql import GraphQLSchemaWarning, OperationAnalysis, ScopedSchema, read_operation_files
from fastmcp_scopes.graphql.directives import ScopeDeclaration
from fastmcp_scopes.graphql.scope_index import ScopeIndex
from fastmcp_scopes.requirements import Requirement

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "graphql.py"

# -- the reference: one visit per operation, each fragment visited again where it is spread -------------


class _ReferenceRule(Visitor):
    def __init__(self, index: ScopeIndex, type_info: TypeInfo, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        super().__init__()
        self.index = index
        self.type_info = type_info
        self.fragments = fragments
        self.collected: dict[str, ScopeDeclaration] = {}
        self.used: dict[str, None] = {}
        self._possible: list[frozenset[str]] = []
        self._expanded: set[tuple[str, frozenset[str]]] = set()

    def _add(self, declarations: Iterable[ScopeDeclaration]) -> None:
        for declaration in declarations:
            self.collected.setdefault(declaration.coordinate, declaration)

    def _add_type(self, named_type: GraphQLNamedType | None) -> None:
        if named_type is not None and named_type.name in self.index.declarations.types:
            self._add([self.index.declarations.types[named_type.name]])

    def enter_selection_set(self, _node: SelectionSetNode, _key: Any, parent: Any, *_args: Any) -> None:
        parent_type = self.type_info.get_parent_type()
        possible = self.index.possible(parent_type)
        if isinstance(parent, InlineFragmentNode | FragmentDefinitionNode):
            self._add_type(parent_type)
            if self._possible:
                possible = possible & self._possible[-1]
        self._possible.append(possible)

    def leave_selection_set(self, *_args: Any) -> None:
        self._possible.pop()

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value.startswith("__"):
            return
        possible = self._possible[-1]
        parent = self.type_info.get_parent_type()
        field_def = self.type_info.get_field_def()
        assert parent is not None and field_def is not None
        self._add(self.index.field_contributions(parent, node.name.value))
        self._add(self.index.type_contributions(possible))
        self._add_type(get_named_type(field_def.type))

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        if self.index.input_directives and not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.type_info.get_input_type()))

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        if not self.index.input_directives:
            return
        parent = get_named_type(self.type_info.get_parent_input_type())
        if parent is not None and (parent.name, node.name.value) in self.index.declarations.fields:
            self._add([self.index.declarations.fields[parent.name, node.name.value]])
        if not isinstance(node.value, VariableNode):
            self._add_type(get_named_type(self.type_info.get_input_type()))

    def enter_variable_definition(self, _node: VariableDefinitionNode, *_args: Any) -> VisitorAction:
        named_type = get_named_type(self.type_info.get_input_type())
        if named_type is not None and self.index.input_directives:
            self._add(self.index.input_closure(named_type))
        return SKIP

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: Any) -> None:
        key = (node.name.value, self._possible[-1])
        if key not in self._expanded:
            self._expanded.add(key)
            self.used.setdefault(node.name.value)
            visit(self.fragments[node.name.value], TypeInfoVisitor(self.type_info, self))


def reference(schema: ScopedSchema, document: DocumentNode) -> list[tuple[Any, ...]]:
    """Name, requirement (as a set), @authenticated, declarations in order reached, fragments used."""
    index = ScopeIndex(schema.schema, schema.declarations, input_directives=schema.input_directives)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found = []
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode):
            type_info = TypeInfo(schema.schema)
            rule = _ReferenceRule(index, type_info, fragments)
            visit(operation, TypeInfoVisitor(type_info, rule))
            declarations = tuple(rule.collected.values())
            requirement = Requirement.combine_all(d.requirement for d in declarations)
            authenticated = any(d.authenticated for d in declarations)
            name = operation.name.value if operation.name else None
            found.append((name, set(requirement.alternatives), authenticated, declarations, tuple(rule.used)))
    return found


def summary(analysis: OperationAnalysis) -> tuple[Any, ...]:
    used = tuple(f.name.value for f in analysis.fragments)
    return (
        analysis.name,
        set(analysis.requirement.alternatives),
        analysis.authenticated,
        analysis.declarations,
        used,
    )


def assert_catalogue_consistent(schema: ScopedSchema, files: list[tuple[str, str]]) -> dict[str, OperationAnalysis]:
    catalogue = schema.analyze_catalogue(files)
    alone = [a for name, text in files for a in schema.operations(text, source_name=name)]
    assert list(catalogue.values()) == alone
    assert [a.source_name for a in catalogue.values()] == [a.source_name for a in alone]
    # Fragments shared by several documents are one definition (the first), printed the same.
    assert [[print_ast(f) for f in a.fragments] for a in catalogue.values()] == [
        [print_ast(f) for f in a.fragments] for a in alone
    ]
    expected = [entry for _name, text in files for entry in reference(schema, parse(text))]
    assert [summary(a) for a in catalogue.values()] == expected
    for analysis in catalogue.values():
        # The operation and the fragments it uses are a document that runs exactly the analysed operation.
        assert analysis.definition is not None
        alone_document = DocumentNode(definitions=(analysis.definition, *analysis.fragments))
        assert validate(schema.schema, alone_document) == []
    return catalogue


# -- consistency ---------------------------------------------------------------------------------------


def test_operation_files_of_the_supergraph(supergraph: ScopedSchema) -> None:
    files = [(str(path), text) for path, text in read_operation_files(OPERATIONS)]
    catalogue = assert_catalogue_consistent(supergraph, files)
    assert list(catalogue) == ["Me", "Payroll", "Catalogue", "SetPrice"]
    assert catalogue["Payroll"].source_name == str(OPERATIONS / "employees.graphql")
    assert [f.name.value for f in catalogue["Payroll"].fragments] == ["Basics"]


FRAGMENTS = """
query Mixed($f: EmployeeFilter) {
  employees(filter: $f) { ...Who ... on Employee { salary } }
  search(text: "x") { ...Any ... on Product { internalCost } ...PersonName }
  node(id: 2) { ...Any ... on Employee { ...Who } ...PersonName }
  me { ...Who ...PersonName }
}
query AgainWho { employee(id: 1) { ...Who ...Deep } }
fragment Who on Employee { id name ...Level }
fragment Level on Employee { level }
fragment Any on Node { id }
fragment PersonName on Person { name ... on Employee { level } }
fragment Deep on Employee { manager { ...Who ...PersonName } }
"""


def test_shared_fragments_in_several_contexts(supergraph: ScopedSchema) -> None:
    assert_catalogue_consistent(supergraph, [("ops/mixed.graphql", FRAGMENTS)])


def test_shared_fragments_with_input_directives_counted(supergraph: ScopedSchema) -> None:
    # The rule's input-type branches, taken only with the opt-in, agree with the reference too.
    opted_in = ScopedSchema(supergraph.schema, supergraph.names, input_directives=True)
    files = [(str(path), text) for path, text in read_operation_files(OPERATIONS)]
    catalogue = assert_catalogue_consistent(opted_in, [*files, ("ops/mixed.graphql", FRAGMENTS)])
    # Payroll's $filter: EmployeeFilter reaches enum Level, whose scope counts only with the opt-in.
    assert catalogue["Payroll"].origins["hr:levels"] == ("enum Level",)
    assert "hr:levels" not in supergraph.analyze_catalogue(files)["Payroll"].origins


@cache
def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("graphql_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _github() -> ScopedSchema:
    rng = random.Random(11)
    sdl = _benchmark().add_scope_directives(GITHUB_SCHEMA.read_text(encoding="utf-8"), 0.3, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphQLSchemaWarning)
        return ScopedSchema.from_sdl(sdl, source_name="github-schema.graphql")


@pytest.mark.skipif(not GITHUB_SCHEMA.exists(), reason="the GitHub schema is not in the shared data")
@pytest.mark.parametrize("width", [2, 4])
def test_benchmark_operations_over_the_github_schema(width: int) -> None:
    schema = _github()
    generator = _benchmark().OperationGenerator(schema.schema, random.Random(width), width)
    files: list[tuple[str, str]] = []
    while len(files) < 60:
        text = generator.operation(f"Op{len(files)}")
        if not validate(schema.schema, parse(text)):
            files.append((f"ops/op{len(files)}.graphql", text))
    catalogue = assert_catalogue_consistent(schema, files)
    assert sum(1 for a in catalogue.values() if not a.requirement.is_empty) > 10


def test_same_fragment_in_two_files_is_shared(supergraph: ScopedSchema) -> None:
    fragment = "fragment Basics on Employee { id name }"
    files = [
        ("a.graphql", "query A { me { ...Basics } } " + fragment),
        ("b.graphql", "query B { employees { ...Basics salary } }\n\n" + fragment.replace(" ", "  ")),
    ]
    catalogue = assert_catalogue_consistent(supergraph, files)
    assert catalogue["B"].fragments == catalogue["A"].fragments  # one definition stands for both


# -- errors ----------------------------------------------------------------------------------------------


def catalogue_error(schema: ScopedSchema, files: list[tuple[str, str]]) -> str:
    with pytest.raises(GraphQLScopeError) as caught:
        schema.analyze_catalogue(files)
    return str(caught.value)


def test_validation_errors_name_file_place_and_operation(supergraph: ScopedSchema) -> None:
    message = catalogue_error(
        supergraph,
        [
            ("ok.graphql", "query Fine { version }"),
            ("bad.graphql", "query Fine2 { version }\nquery Broken {\n  me { nme }\n}"),
            (
                "worse.graphql",
                "fragment F on Employee { ...G }\nfragment G on Employee { ...F }\nquery U { me { ...F } }",
            ),
        ],
    )
    assert "does not validate against the schema" in message
    assert "Cannot query field 'nme' on type 'Employee'. (bad.graphql:3:8) in query Broken" in message
    assert "Cannot spread fragment 'F' within itself via 'G'." in message
    assert "(worse.graphql:1:26" in message and "in fragment F" in message
    assert "ok.graphql" not in message
    assert "Did you mean" not in message


def test_duplicate_operation_names_name_both_files(supergraph: ScopedSchema) -> None:
    message = catalogue_error(
        supergraph, [("a.graphql", "query Same { version }"), ("b.graphql", "query Same { me { id } }")]
    )
    assert "There can be only one operation named 'Same'. (a.graphql:1:7, b.graphql:1:7)" in message


def test_differing_fragments_name_both_files(supergraph: ScopedSchema) -> None:
    message = catalogue_error(
        supergraph,
        [
            ("a.graphql", "query A { me { ...Basics } } fragment Basics on Employee { id }"),
            ("b.graphql", "query B { me { ...Basics } }\nfragment Basics on Employee { name }"),
        ],
    )
    assert "Fragment 'Basics' is defined differently in two documents" in message
    assert "(a.graphql:1:30, b.graphql:2:1)" in message


def test_anonymous_operation_is_refused_with_its_place(supergraph: ScopedSchema) -> None:
    message = catalogue_error(supergraph, [("a.graphql", "query A { version }"), ("b.graphql", "\n{ version }")])
    assert "A catalogue operation needs a name (the catalogue is keyed by it). (b.graphql:2:1)" in message
    assert "must be the only defined operation" not in message


def test_each_document_uses_only_its_own_fragments(supergraph: ScopedSchema) -> None:
    message = catalogue_error(
        supergraph,
        [
            ("a.graphql", "query A { me { id } } fragment Basics on Employee { id }"),
            ("b.graphql", "query B { me { ...Basics } }"),
        ],
    )
    assert "Unknown fragment 'Basics'. (b.graphql:1:16) in query B" in message
    assert "Fragment 'Basics' is never used. (a.graphql:1:23) in fragment Basics" in message


def test_fragment_unused_in_one_of_two_files(supergraph: ScopedSchema) -> None:
    fragment = "fragment Basics on Employee { id }"
    message = catalogue_error(
        supergraph,
        [("a.graphql", "query A { me { ...Basics } } " + fragment), ("b.graphql", "query B { version } " + fragment)],
    )
    assert "Fragment 'Basics' is never used. (b.graphql:1:21)" in message
    assert "a.graphql" not in message


def test_unknown_fragment_everywhere_is_reported_once(supergraph: ScopedSchema) -> None:
    message = catalogue_error(supergraph, [("a.graphql", "query A { me { ...Nope } }")])
    assert message.count("Unknown fragment 'Nope'.") == 1


def test_syntax_errors_name_every_file(supergraph: ScopedSchema) -> None:
    message = catalogue_error(
        supergraph, [("a.graphql", "query A { { }"), ("ok.graphql", "query B { version }"), ("c.graphql", "query")]
    )
    assert "cannot parse a.graphql: Syntax Error" in message
    assert "cannot parse c.graphql: Syntax Error" in message
    assert "ok.graphql" not in message


def test_alternatives_cap_names_the_operation() -> None:
    schema = ScopedSchema.from_sdl(
        """
        type Query {
          a: String @requiresScopes(scopes: [["a1"], ["a2"], ["a3"]])
          b: String @requiresScopes(scopes: [["b1"], ["b2"], ["b3"]])
        }
        """
    )
    with pytest.raises(RequirementTooComplexError, match=r"operation Q has 9 alternatives.*cap of 8"):
        schema.analyze_catalogue([("q.graphql", "query Q { a b }")], cap=8)


def test_error_count_is_capped(supergraph: ScopedSchema) -> None:
    files = [(f"f{i}.graphql", f"query Q{i} {{ nope{i} }}") for i in range(60)]
    message = catalogue_error(supergraph, files)
    assert "Too many validation errors, error limit reached. Validation aborted." in message
    assert message.count("Cannot query field") == supergraph.max_errors


def test_empty_catalogue(supergraph: ScopedSchema) -> None:
    assert supergraph.analyze_catalogue([]) == {}


def test_documents_given_as_ast(supergraph: ScopedSchema) -> None:
    document = parse("query A { employees { ...Basics } } fragment Basics on Employee { id salary }")
    [alone] = supergraph.operations(document)
    assert supergraph.analyze_catalogue([("ignored", document)]) == {"A": alone}
    assert print_ast(DocumentNode(definitions=(alone.definition, *alone.fragments))) == print_ast(document)  # type: ignore[arg-type]


def test_schema_files_as_catalogue_sources(supergraph: ScopedSchema) -> None:
    # read_operation_files() gives (Path, text) pairs: the catalogue takes them as they are.
    catalogue = supergraph.analyze_catalogue(read_operation_files(OPERATIONS / "products.graphql"))
    assert catalogue["SetPrice"].kind == "mutation"
    assert catalogue["SetPrice"].source_name == str(OPERATIONS / "products.graphql")
