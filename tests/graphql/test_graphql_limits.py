"""Issue 11, expensive requests: the analysis of an ``execute_graphql`` caller's query is bounded (size, parser
tokens, selection depth, repeats of one response key) and past a bound refused cheaply, with fixed text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import parse
from graphql_harness import SCHEMAS
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from fastmcp_scopes import ConfigurationError, GraphQLScopeError, ScopeGuard
from fastmcp_scopes.graphql import ScopedSchema, load_schema
from fastmcp_scopes.graphql.endpoints import GraphQLCoreEndpoint
from fastmcp_scopes.graphql.limits import (
    QueryLimitError,
    QueryLimits,
    most_repeated_key,
    parse_bounded,
    selection_depth,
)
from fastmcp_scopes.graphql.operations import add_operation_tools
from fastmcp_scopes.testing import scoped_client

SCHEMA_FILE = SCHEMAS / "operation-tools" / "schema.graphql"


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # settings read .env: no stray one
    monkeypatch.delenv("FASTMCP_SCOPES_GRAPHQL_SCHEMA", raising=False)


@pytest.fixture(scope="module")
def schema() -> ScopedSchema:
    return load_schema(SCHEMA_FILE, strict=True)


# -- the measures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        ("{ serverTime }", 1),
        ("{ employees { name } }", 2),
        ("{ employees { ... on Employee { ... { name } } } }", 2),  # inline fragments add no level
        ("{ employees { ...A } } fragment A on Employee { name }", 2),
        ("{ a: employees { ...A } } fragment A on Employee { ...B } fragment B on Employee { name }", 2),
        ("{ ...Q } fragment Q on Query { employees { name } }", 2),
        ("{ employees { ...A } } fragment A on Employee { ...A }", 1),  # a cycle counts as nothing
    ],
)
def test_selection_depth_expands_fragments(document: str, depth: int) -> None:
    assert selection_depth(parse(document)) == depth


def test_selection_depth_of_a_long_fragment_chain_does_not_exhaust_the_stack() -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(3000))
    assert selection_depth(parse("{ ...F0 } " + chain + " fragment F3000 on Query { serverTime }")) == 1


@pytest.mark.parametrize(
    ("document", "repeats"),
    [
        ("{ serverTime }", 1),
        ("{ serverTime serverTime }", 2),
        ("{ a: serverTime a: employees { name } }", 2),  # the response key, not the field name
        ("{ serverTime ... { serverTime } ... on Query { serverTime } }", 3),
        ("{ serverTime ...Q ...Q } fragment Q on Query { serverTime }", 2),  # one spread compared once
        ("{ employees { name name name } serverTime }", 3),
    ],
)
def test_most_repeated_key_merges_fragments(document: str, repeats: int) -> None:
    assert most_repeated_key(parse(document)) == repeats


# -- refusals ------------------------------------------------------------------------------------------

SECRET = "s3cr3t-caller-text"


@pytest.mark.parametrize(
    ("limits", "document", "message"),
    [
        (QueryLimits(max_bytes=100), "{ serverTime } #" + SECRET + "é" * 60, "the query is larger than 100 bytes"),
        (QueryLimits(max_tokens=10), "{ " + "serverTime " * 10 + "}", "the query has more than 10 tokens"),
        (
            QueryLimits(max_depth=1),
            "{ employees { name } }",
            "the query nests selections deeper than the limit of 1",
        ),
        (
            QueryLimits(max_repeats=3),
            "{ serverTime ...Q } fragment Q on Query { serverTime serverTime serverTime }",
            "the query selects one response key more than 3 times in one place",
        ),
    ],
)
def test_past_a_limit_is_refused_with_fixed_text(limits: QueryLimits, document: str, message: str) -> None:
    with pytest.raises(QueryLimitError) as raised:
        parse_bounded(document, limits, "execute_graphql")
    assert str(raised.value) == message
    assert isinstance(raised.value, ConfigurationError)  # what the pipeline turns into a refusal


def test_within_the_limits_a_syntax_error_is_not_a_limit_error() -> None:
    with pytest.raises(GraphQLScopeError, match="cannot parse execute_graphql") as raised:
        parse_bounded("{ serverTime ", QueryLimits(), "execute_graphql")
    assert not isinstance(raised.value, QueryLimitError)


@pytest.mark.parametrize("field", ["max_bytes", "max_tokens", "max_depth", "max_repeats"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_limits_must_be_whole_numbers_of_one_or_more(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"QueryLimits {field} must be a whole number >= 1"):
        QueryLimits(**{field: value})


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_GRAPHQL_MAX_QUERY_BYTES", "1000")
    monkeypatch.setenv("FASTMCP_SCOPES_GRAPHQL_MAX_QUERY_TOKENS", "100")
    monkeypatch.setenv("FASTMCP_SCOPES_GRAPHQL_MAX_QUERY_DEPTH", "3")
    limits = QueryLimits.from_settings(ScopeGuard().settings)
    assert limits == QueryLimits(max_bytes=1000, max_tokens=100, max_depth=3)


# -- through the tool ----------------------------------------------------------------------------------


class Upstream:
    def __init__(self, schema: ScopedSchema) -> None:
        self.inner = GraphQLCoreEndpoint(schema.schema, root_value={"serverTime": "12:00"})
        self.calls = 0

    async def __call__(self, query: str, operation_name: str | None, variables: Any) -> Any:
        self.calls += 1
        return await self.inner(query, operation_name, variables)


DEEP = "{ employees { name } }"


async def test_execute_graphql_refuses_a_query_past_the_configured_depth(
    schema: ScopedSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_GRAPHQL_MAX_QUERY_DEPTH", "1")
    mcp = MCPServer("limits")
    upstream = Upstream(schema)
    add_operation_tools(mcp, [], schema=schema, endpoint=upstream, execute_graphql=True)
    ScopeGuard().install(mcp)
    async with scoped_client(mcp, ["employees:read"]) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("execute_graphql", {"query": DEEP})
        allowed = await client.call_tool("execute_graphql", {"query": "{ serverTime }"})

    assert raised.value.error.code == INVALID_PARAMS
    assert allowed.structured_content == {"serverTime": "12:00"}
    assert upstream.calls == 1  # the refused query never reached the upstream


async def test_without_a_guard_the_tool_itself_refuses_with_the_limit(schema: ScopedSchema) -> None:
    mcp = MCPServer("limits")
    upstream = Upstream(schema)
    add_operation_tools(
        mcp, [], schema=schema, endpoint=upstream, execute_graphql=True, query_limits=QueryLimits(max_depth=1)
    )
    async with scoped_client(mcp, ["employees:read"]) as client:
        result = await client.call_tool("execute_graphql", {"query": DEEP})

    assert result.is_error
    assert [c.text for c in result.content if hasattr(c, "text")] == [
        "Error executing tool execute_graphql: the query nests selections deeper than the limit of 1"
    ]
    assert upstream.calls == 0
