"""Issue 12, start-up: a catalogue analysed once is read back from a content-addressed cache on the next start,
the same analyses without parsing or validating; an entry that does not fit is ignored, never trusted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from graphql import print_ast
from graphql_harness import OPERATIONS, SCHEMAS

from fastmcp_scopes.graphql import CatalogueCache, OperationAnalysis, ScopedSchema, load_schema, read_operation_files
from fastmcp_scopes.graphql.cache import CacheEntry

SUPERGRAPH = SCHEMAS / "supergraph.graphql"


def fresh() -> ScopedSchema:
    """A schema as the next start-up loads it: nothing shared with an earlier instance but the files."""
    return load_schema(SUPERGRAPH, strict=True)


def catalogue() -> list[tuple[Path, str]]:
    return read_operation_files(OPERATIONS)


def summary(analyses: dict[str, OperationAnalysis]) -> list[Any]:
    return [
        (
            name,
            a.kind,
            a.requirement,
            a.authenticated,
            dict(a.origins),
            a.declarations,
            a.source_name,
            print_ast(a.definition) if a.definition is not None else None,
            [print_ast(f) for f in a.fragments],
        )
        for name, a in analyses.items()
    ]


def entry_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.cache"))


class NoAnalysis(ScopedSchema):
    """A schema that fails any parse, validation or analysis: what a warm start must not need."""

    def _analyze_catalogue(self, *_args: Any) -> Any:
        raise AssertionError("the catalogue was analysed again")

    def _parse(self, *_args: Any) -> Any:
        raise AssertionError("a document was parsed again")


def no_analysis() -> NoAnalysis:
    loaded = fresh()
    return NoAnalysis(loaded.schema, loaded.names, fingerprint=loaded.fingerprint)


def test_warm_start_gives_the_cold_analyses_without_analysing(tmp_path: Path) -> None:
    cache = CatalogueCache(tmp_path)
    cold = fresh().analyze_catalogue(catalogue(), cache=cache)
    assert len(entry_files(tmp_path)) == 1

    warm = no_analysis().analyze_catalogue(catalogue(), cache=cache)

    assert summary(warm) == summary(cold)  # syntax trees included, parsed from the file only when asked


def test_without_a_cache_nothing_is_written_and_asts_are_not_cached(tmp_path: Path) -> None:
    schema = fresh()
    texts = catalogue()
    schema.analyze_catalogue(texts)
    from graphql import parse

    asts = [(name, parse(text)) for name, text in texts]
    schema.analyze_catalogue(asts, cache=CatalogueCache(tmp_path))  # an AST has no text to hash
    assert entry_files(tmp_path) == []


@pytest.mark.parametrize(
    "change",
    [
        "a document's text",
        "a document's name",
        "the schema",
        "the cap",
        "the input directives option",
    ],
)
def test_anything_the_analysis_depends_on_changes_the_key(tmp_path: Path, change: str) -> None:
    cache = CatalogueCache(tmp_path)
    fresh().analyze_catalogue(catalogue(), cache=cache)
    texts = catalogue()
    schema = fresh()
    cap = 64
    if change == "a document's text":
        texts[0] = (texts[0][0], texts[0][1] + "\n# edited\n")
    elif change == "a document's name":
        texts[0] = (texts[0][0].with_name("renamed.graphql"), texts[0][1])
    elif change == "the schema":
        schema = ScopedSchema.from_sdl(SUPERGRAPH.read_text() + "\n# edited\n", strict=True)
    elif change == "the cap":
        cap = 65
    else:
        schema = ScopedSchema(schema.schema, schema.names, input_directives=True, fingerprint=schema.fingerprint)
    schema.analyze_catalogue(texts, cap=cap, cache=cache)
    assert len(entry_files(tmp_path)) == 2


def corrupt(path: Path, how: str) -> None:
    head, _, body = path.read_bytes().partition(b"\n")
    header, operations = json.loads(head), json.loads(body)
    if how == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    elif how == "checksum":
        operations[0]["coordinates"] = []  # would drop every scope of the first operation
        operations[0]["alternatives"] = [[]]
        path.write_bytes(head + b"\n" + json.dumps(operations).encode())
    elif how == "format":
        header["format"] = 99
        path.write_bytes(json.dumps(header).encode() + b"\n" + body)
    elif how == "no header":
        path.write_bytes(body)


@pytest.mark.parametrize("how", ["garbage", "truncated", "checksum", "format", "no header"])
def test_a_corrupt_entry_is_ignored_and_replaced(tmp_path: Path, how: str) -> None:
    cache = CatalogueCache(tmp_path)
    cold = fresh().analyze_catalogue(catalogue(), cache=cache)
    (path,) = entry_files(tmp_path)
    corrupt(path, how)

    again = fresh().analyze_catalogue(catalogue(), cache=cache)

    assert summary(again) == summary(cold)
    assert no_analysis().analyze_catalogue(catalogue(), cache=cache)  # the entry was written again, whole


def test_a_foreign_entry_is_ignored(tmp_path: Path) -> None:
    # Another catalogue's entry, checksummed for its own key, placed under this catalogue's key.
    cache = CatalogueCache(tmp_path)
    fresh().analyze_catalogue(catalogue(), cache=cache)
    (ours,) = entry_files(tmp_path)
    other = CatalogueCache(tmp_path / "other")
    other.store("f" * 64, [CacheEntry("Payroll", "query", 0, (), (), ((),))])
    ours.write_bytes((tmp_path / "other" / f"{'f' * 64}.cache").read_bytes())

    analyses = fresh().analyze_catalogue(catalogue(), cache=cache)

    assert not analyses["Payroll"].requirement.is_empty


def test_an_entry_naming_what_the_schema_does_not_declare_is_ignored(tmp_path: Path) -> None:
    cache = CatalogueCache(tmp_path)
    cold = fresh().analyze_catalogue(catalogue(), cache=cache)
    (path,) = entry_files(tmp_path)
    key = path.stem
    entries = cache.load(key)
    assert entries is not None
    forged = [CacheEntry(e.name, e.kind, e.document, e.fragments, ("type Nowhere",), e.alternatives) for e in entries]
    cache.store(key, forged)  # a well-formed entry with a valid checksum, for some other schema

    again = fresh().analyze_catalogue(catalogue(), cache=cache)

    assert summary(again) == summary(cold)


def test_an_unwritable_cache_leaves_start_up_cold(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory should be")
    analyses = fresh().analyze_catalogue(catalogue(), cache=CatalogueCache(blocked / "cache"))
    assert "Payroll" in analyses


@pytest.mark.parametrize(
    "alternatives",
    [
        (("two words",),),  # not an RFC 6749 scope-token: it must never reach a challenge header
        (("a",), ("a", "b")),  # not minimal: not what combining writes
        (),  # no alternative at all
    ],
)
def test_an_entry_whose_requirement_is_not_one_is_ignored(tmp_path: Path, alternatives: Any) -> None:
    cache = CatalogueCache(tmp_path)
    cold = fresh().analyze_catalogue(catalogue(), cache=cache)
    (path,) = entry_files(tmp_path)
    entries = cache.load(path.stem)
    assert entries is not None
    cache.store(
        path.stem, [CacheEntry(e.name, e.kind, e.document, e.fragments, e.coordinates, alternatives) for e in entries]
    )

    again = fresh().analyze_catalogue(catalogue(), cache=cache)

    assert summary(again) == summary(cold)


async def test_operation_tools_start_warm_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp.server.mcpserver import MCPServer

    from fastmcp_scopes import ScopeGuard
    from fastmcp_scopes.graphql.endpoints import GraphQLCoreEndpoint
    from fastmcp_scopes.graphql.operations import add_operation_tools
    from fastmcp_scopes.testing import scoped_client

    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one
    tools_dir = SCHEMAS / "operation-tools"
    cache = CatalogueCache(tmp_path / "cache")

    class Warm(ScopedSchema):
        def _analyze_catalogue(self, *_args: Any) -> Any:
            raise AssertionError("the catalogue was analysed again")

    async def tools_of(schema: ScopedSchema) -> tuple[list[Any], Any]:
        mcp = MCPServer("employees")
        endpoint = GraphQLCoreEndpoint(schema.schema, root_value={"serverTime": "12:00"})
        add_operation_tools(mcp, tools_dir / "operations", schema=schema, endpoint=endpoint, cache=cache)
        ScopeGuard().install(mcp)
        async with scoped_client(mcp, ["employees:read", "mood:read", "mood:write", "hr:admin"]) as client:
            listed = (await client.list_tools()).tools
            result = await client.call_tool("server_time", {})
        return [(t.name, t.description, t.input_schema, t.meta) for t in listed], result.structured_content

    cold_schema = load_schema(tools_dir / "schema.graphql", strict=True)
    cold = await tools_of(cold_schema)
    warm_schema = Warm(cold_schema.schema, cold_schema.names, fingerprint=cold_schema.fingerprint)
    warm = await tools_of(warm_schema)

    assert warm == cold
    assert cold[1] == {"serverTime": "12:00"}
