"""Benchmark: GraphQL scope derivation against graphql-core validation, and catalogue start-up time.

Run from the repository root::

    python benchmarks/graphql.py [--operations 1000] [--share 0.2] [--seed 7]

Uses GitHub's public schema (``../shared/data/github-schema.graphql`` relative to the repository) with
``@requiresScopes`` added to a share of its object types and fields, and generated operations that
validate against it (nested selections, arguments, variables, interface and union fragments). Prints:

1. per operation, on the same documents in the same run: graphql-core's ``validate()`` with its
   ``specified_rules``, the same with the scope rule in its traversal (what ``ScopedSchema.operations()``
   does), and the scope rule alone in its own traversal; the ratio of derivation to validation (target: at
   most 1);
2. start-up for a catalogue of operations with ``ScopedSchema.analyze_catalogue()``: parse, validate and
   derive every one (target: under a second for 1,000), against analysing each document on its own, next to
   the schema load time, which is paid once whatever the catalogue; and the two ratios of issue 12: the cold
   catalogue against graphql-core's own ``parse()`` + ``validate()`` of the same documents (target: at most
   1.10), and the next start-up, read back from a ``CatalogueCache``, against the cold one (target: at most
   0.05).

Timings only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path and its name would shadow graphql-core.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from graphql import (  # noqa: E402
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldDefinitionNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    ListValueNode,
    NameNode,
    Node,
    ObjectTypeDefinitionNode,
    StringValueNode,
    Visitor,
    get_named_type,
    is_required_argument,
    parse,
    print_ast,
    specified_rules,
    validate,
    visit,
)

REPOSITORY = Path(__file__).resolve().parents[1]
GITHUB_SCHEMA = REPOSITORY.parent / "shared" / "data" / "github-schema.graphql"

sys.path.insert(0, str(REPOSITORY))
from fastmcp_scopes.graphql import CatalogueCache, GraphQLSchemaWarning, OperationAnalysis, ScopedSchema  # noqa: E402
from fastmcp_scopes.graphql.analysis import PlanEvaluator, analysis_of  # noqa: E402
from fastmcp_scopes.graphql.requires_scopes import ScopePlans, collect_plans, scope_rule  # noqa: E402

SCALAR_LITERALS = {"String": '"x"', "ID": '"MDQ6VXNlcjE="', "Int": "5", "Float": "1.5", "Boolean": "true"}


def add_scope_directives(sdl: str, share: float, rng: random.Random) -> str:
    """Put ``@requiresScopes`` on about ``share`` of the object types and of their fields."""
    document = parse(sdl, no_location=True)

    def directive(scopes: list[list[str]]) -> DirectiveNode:
        value = ListValueNode(
            values=tuple(ListValueNode(values=tuple(StringValueNode(value=s) for s in alt)) for alt in scopes)
        )
        return DirectiveNode(
            name=NameNode(value="requiresScopes"),
            arguments=(ArgumentNode(name=NameNode(value="scopes"), value=value),),
        )

    definitions = []
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode) and definition.name.value not in {"Query", "Mutation"}:
            area = definition.name.value.lower()
            fields: list[FieldDefinitionNode] = []
            for field in definition.fields or ():
                if rng.random() < share:
                    # A realistic mix: one scope, or a fine-grained scope with a broad alternative.
                    scopes = [[f"{area}:{field.name.value}"]] if rng.random() < 0.5 else [[f"{area}:read"], ["admin"]]
                    field = FieldDefinitionNode(
                        **{**_kwargs(field), "directives": (*(field.directives or ()), directive(scopes))}
                    )
                fields.append(field)
            directives = tuple(definition.directives or ())
            if rng.random() < share:
                directives = (*directives, directive([[f"{area}:read"]]))
            definition = ObjectTypeDefinitionNode(
                **{**_kwargs(definition), "fields": tuple(fields), "directives": directives}
            )
        definitions.append(definition)
    return print_ast(DocumentNode(definitions=tuple(definitions)))


def _kwargs(node: Node) -> dict[str, Any]:
    return {key: getattr(node, key) for key in node.keys}


class OperationGenerator:
    """Random operations that validate: fields whose required arguments are scalars or enums get literals,
    connections get ``first``, abstract types get fragments, and some arguments become variables."""

    def __init__(self, schema: GraphQLSchema, rng: random.Random, width: int = 4) -> None:
        self.schema = schema
        self.rng = rng
        self.width = width

    def operation(self, name: str) -> str:
        assert self.schema.query_type is not None
        variables: list[str] = []
        body = self.selection(self.schema.query_type, depth=0, variables=variables, width=self.width)
        declared = f"({', '.join(variables)})" if variables else ""
        return f"query {name}{declared} {body}"

    def selection(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
        depth: int,
        variables: list[str],
        width: int,
    ) -> str:
        parts: list[str] = []
        if isinstance(parent, GraphQLUnionType | GraphQLInterfaceType):
            parts.append("__typename")
            possible = list(self.schema.get_possible_types(parent))
            for member in self.rng.sample(possible, min(2, len(possible))):
                inner = self.selection(member, depth, variables, max(1, width - 1))
                parts.append(f"... on {member.name} {inner}")
            if isinstance(parent, GraphQLUnionType):
                return "{ " + " ".join(parts) + " }"
        candidates = [(n, f) for n, f in parent.fields.items() if self.usable(f, depth)]
        for name, field in self.rng.sample(candidates, min(width, len(candidates))):
            arguments = self.arguments(field, variables)
            target = get_named_type(field.type)
            if isinstance(target, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
                parts.append(f"{name}{arguments} {self.selection(target, depth + 1, variables, max(1, width - 1))}")
            else:
                parts.append(f"{name}{arguments}")
        if not parts:
            parts.append("__typename")
        return "{ " + " ".join(parts) + " }"

    def usable(self, field: GraphQLField, depth: int) -> bool:
        target = get_named_type(field.type)
        if depth >= 3 and not isinstance(target, GraphQLScalarType | GraphQLEnumType):
            return False
        return all(
            isinstance(get_named_type(a.type), GraphQLScalarType | GraphQLEnumType)
            and not isinstance(get_named_type(a.type), GraphQLInputObjectType)
            for a in field.args.values()
            if is_required_argument(a)
        )

    def arguments(self, field: GraphQLField, variables: list[str]) -> str:
        given: list[str] = []
        for name, argument in field.args.items():
            named = get_named_type(argument.type)
            wanted = is_required_argument(argument) or (name == "first" and named.name == "Int")
            if not wanted:
                continue
            if isinstance(named, GraphQLEnumType):
                literal = next(iter(named.values))
            else:
                literal = SCALAR_LITERALS.get(named.name, '"x"')
            if self.rng.random() < 0.3:
                variable = f"v{len(variables)}"
                variables.append(f"${variable}: {argument.type}")
                given.append(f"{name}: ${variable}")
            else:
                given.append(f"{name}: {literal}")
        return f"({', '.join(given)})" if given else ""


class _FieldCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.fields = 0

    def enter_field(self, *_args: Any) -> None:
        self.fields += 1


def interleaved(
    functions: list[Callable[..., object]], repeat: int, setup: Callable[[], object] | None = None
) -> list[float]:
    """Median time of each function, run in turn within each round so that a busy machine slows all alike.

    Each run starts after a full garbage collection, so that none pays for the garbage of the one before. With
    ``setup``, each function is called with what ``setup`` returns, built before (and outside) its timing.
    """
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(repeat):
        for function, measured in zip(functions, times, strict=True):
            arguments = () if setup is None else (setup(),)
            gc.collect()
            start = time.perf_counter()
            function(*arguments)
            measured.append(time.perf_counter() - start)
    return [statistics.median(measured) for measured in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=1000)
    parser.add_argument("--share", type=float, default=0.2, help="share of types and fields given @requiresScopes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the median over them")
    options = parser.parse_args()

    if not GITHUB_SCHEMA.exists():
        print(f"skipped: the large schema is not at {GITHUB_SCHEMA} (expected ../shared/data/github-schema.graphql)")
        return 0
    rng = random.Random(options.seed)
    sdl = add_scope_directives(GITHUB_SCHEMA.read_text(encoding="utf-8"), options.share, rng)

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphQLSchemaWarning)  # GitHub's known duplicate fields etc.
        scoped = ScopedSchema.from_sdl(sdl, source_name="github-schema.graphql")
    load_time = time.perf_counter() - start
    declared = len(scoped.declarations.types) + len(scoped.declarations.fields)

    print(
        f"schema: GitHub public schema, {len(scoped.schema.type_map)} types, {declared} elements with "
        f"@requiresScopes (share {options.share:.0%}); load {load_time:.2f} s (once per process)"
    )
    for label, width in (("large operations (width 4)", 4), ("tool-sized operations (width 2)", 2)):
        print(f"\n{label}")
        measure(scoped, OperationGenerator(scoped.schema, rng, width), options.operations, options.repeat)
    return 0


def measure(scoped: ScopedSchema, generator: OperationGenerator, count: int, repeat: int) -> None:
    """Generate ``count`` valid operations; print derivation against validation, and catalogue start-up."""
    texts: list[str] = []
    attempts = 0
    while len(texts) < count and attempts < count * 5:
        attempts += 1
        text = generator.operation(f"Op{len(texts)}")
        if not validate(scoped.schema, parse(text)):
            texts.append(text)
    documents = [parse(t) for t in texts]
    counter = _FieldCounter()
    for document in documents:
        visit(document, counter)
    fields = counter.fields / len(documents)
    rules = list(specified_rules)

    def run_validation() -> None:
        for document in documents:
            validate(scoped.schema, document, rules)

    def run_validation_and_derivation() -> None:
        # What ScopedSchema.operations() does after parsing: the scope rule in validation's traversal.
        for document in documents:
            plans = ScopePlans()
            validate(scoped.schema, document, [*rules, scope_rule(scoped._index, plans)])
            evaluator = PlanEvaluator(scoped._index, plans)
            for plan in plans.operations:
                analysis_of(evaluator, plan)

    def run_derivation() -> None:
        # The scope rule alone, in its own traversal, on documents already parsed and validated.
        for document in documents:
            plans = collect_plans(scoped._index, document)
            evaluator = PlanEvaluator(scoped._index, plans)
            for plan in plans.operations:
                analysis_of(evaluator, plan)

    def run_parse() -> None:
        for text in texts:
            parse(text)

    files = [(f"op{i}.graphql", t) for i, t in enumerate(texts)]

    def fresh_schema() -> ScopedSchema:
        # What loading the schema gives a new process (paid once, whatever the catalogue, so not timed): its
        # declarations read, its fingerprint from the SDL text, an empty index with no lookup cached yet.
        return ScopedSchema(scoped.schema, scoped.names, fingerprint=scoped.fingerprint)

    def cold_catalogue(fresh: ScopedSchema) -> dict[str, OperationAnalysis]:
        return fresh.analyze_catalogue(files)

    def cold_per_document(fresh: ScopedSchema) -> None:
        for name, text in files:
            fresh.operations(text, source_name=name)

    cache_directory = tempfile.TemporaryDirectory(prefix="fastmcp-scopes-benchmark-")
    cache = CatalogueCache(cache_directory.name)

    def warm_catalogue(fresh: ScopedSchema) -> dict[str, OperationAnalysis]:
        # The next start-up: the same schema and documents, read back from the cache the first run wrote.
        return fresh.analyze_catalogue(files, cache=cache)

    # Start-up first, before anything else warms the process: the very first, cold run is the one reported.
    first = fresh_schema()
    gc.collect()
    start = time.perf_counter()
    catalogue = cold_catalogue(first)
    first_catalogue = time.perf_counter() - start
    # The collector is paused while a catalogue is built; the first full collection afterwards pays for it.
    start = time.perf_counter()
    gc.collect()
    collection = time.perf_counter() - start
    fresh_schema().analyze_catalogue(files, cache=cache)  # writes the entry the warm runs read
    c, o, w = interleaved([cold_catalogue, cold_per_document, warm_catalogue], repeat, setup=fresh_schema)
    warm = warm_catalogue(fresh_schema())
    if [(n, a.requirement) for n, a in warm.items()] != [(n, a.requirement) for n, a in catalogue.items()]:
        raise SystemExit("the warm catalogue differs from the cold one")
    cache_directory.cleanup()
    scoped_operations = sum(1 for a in catalogue.values() if not a.requirement.is_empty)
    p, v, vd, d = interleaved([run_parse, run_validation, run_validation_and_derivation, run_derivation], repeat)
    n = len(documents)

    def line(label: str, seconds: float) -> str:
        return f"  {label:<34}{seconds * 1e3:8.1f} ms  ({seconds / n * 1e6:7.1f} us/op, median of {repeat})"

    print(f"  operations: {n} generated, {fields:.0f} fields each on average, {scoped_operations} need a scope")
    print("  per operation, same documents, same run:")
    print(line("parse()", p))
    print(line("validate() (specified_rules)", v))
    print(line("validate() + scope rule, one walk", vd))
    print(line("  added by the scope rule", vd - v))
    print(line("scope rule alone, own walk", d))
    print(f"  ratio derivation (own walk)/validation: {d / v:.2f}  (target <= 1.00: {'met' if d <= v else 'MISSED'})")
    print(f"  ratio added in the shared walk/validation: {(vd - v) / v:.2f}")
    verdict = "met" if first_catalogue < 1 else "MISSED"
    print(f"  catalogue start-up, {n} operations (parse + validate + derive):")
    print(f"    analyze_catalogue(), first cold run:  {first_catalogue:.3f} s  (target < 1 s: {verdict})")
    print(f"    full garbage collection afterwards:   {collection:.3f} s  (paid once, by whatever runs next)")
    print(f"    analyze_catalogue(), cold, median:    {c:.3f} s  (median of {repeat}, a freshly loaded schema each)")
    print(f"    operations() per document, cold:      {o:.3f} s  (median of {repeat}, for comparison)")
    print(f"    analyze_catalogue(), warm, median:    {w:.3f} s  (median of {repeat}, read back from the cache)")
    cold_ratio, warm_ratio = c / (p + v), w / c
    print(
        f"  ratio cold catalogue/(parse() + validate()): {cold_ratio:.2f}  "
        f"(target <= 1.10: {'met' if cold_ratio <= 1.10 else 'MISSED'})"
    )
    print(
        f"  ratio warm/cold catalogue: {warm_ratio:.3f}  (target <= 0.050: {'met' if warm_ratio <= 0.05 else 'MISSED'})"
    )


if __name__ == "__main__":
    sys.exit(main())
