"""GraphQL operations as scoped MCP tools, end to end through the SDK's own ``mcp.Client`` in both
connection modes, against graphql-core executing a small schema in process (and, for the upstream
credentials, over loopback HTTP).

What a caller sees: which operation tools a listing shows for a token, their input schemas, results
and GraphQL errors, the exact ``insufficient_scope`` refusal (the same as for a decorated tool), and
``execute_graphql`` challenged by the text of each query before anything runs.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode
from graphql_harness import SCHEMAS
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from fastmcp_scopes import ConfigurationError, GraphQLScopeError, ScopeGuard, requires_scopes
from fastmcp_scopes.adapters.mcpserver import META_KEY
from fastmcp_scopes.graphql import ScopedSchema, load_schema, schema_sdl
from fastmcp_scopes.graphql.endpoints import GraphQLCoreEndpoint, HTTPGraphQLEndpoint
from fastmcp_scopes.graphql.input_schema import operation_input_schema
from fastmcp_scopes.graphql.operations import add_operation_tools, snake_case
from fastmcp_scopes.policy import INSUFFICIENT_SCOPE
from fastmcp_scopes.testing import LoopbackServer, scoped_client

HERE = SCHEMAS / "operation-tools"
SCHEMA_FILE = HERE / "schema.graphql"
OPERATIONS = HERE / "operations"

STAFF: list[dict[str, Any]] = [
    {"id": "1", "name": "Ada", "hired": "2020-01-02", "mood": "HAPPY", "salary": 120},
    {"id": "2", "name": "Grace", "hired": "2021-03-04", "mood": "GRUMPY", "salary": 130},
]

ALL_TOOLS = [
    "server_time",
    "get_employees",
    "get_employee",
    "get_salary",
    "update_employee_mood",
    "get_schema",
    "execute_graphql",
]


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ScopeGuard() reads .env: no stray one
    monkeypatch.delenv("FASTMCP_SCOPES_GRAPHQL_SCHEMA", raising=False)


@pytest.fixture(scope="module")
def schema() -> ScopedSchema:
    return load_schema(SCHEMA_FILE, strict=True)


class Company:
    """Root resolvers (graphql-core calls a root value's methods with ``info`` and the arguments)."""

    def __init__(self) -> None:
        self.staff = copy.deepcopy(STAFF)

    def employees(self, _info: Any, first: int = 10, filter: Mapping[str, Any] | None = None) -> list[Any]:
        found = self.staff
        if filter and filter.get("mood") is not None:
            found = [e for e in found if e["mood"] == filter["mood"]]
        if filter and filter.get("nameContains"):
            found = [e for e in found if filter["nameContains"] in e["name"]]
        return found[:first]

    def employee(self, _info: Any, id: str) -> Any:
        for employee in self.staff:
            if employee["id"] == id:
                return employee
        raise LookupError(f"no employee with id {id}")

    def serverTime(self, _info: Any) -> str:
        return "12:00"

    def updateEmployeeMood(self, _info: Any, change: Mapping[str, Any]) -> Any:
        employee = self.employee(_info, change["id"])
        employee["mood"] = change["mood"]
        return employee


class Recording:
    """An endpoint recording what reaches the upstream."""

    def __init__(self, inner: GraphQLCoreEndpoint) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []

    async def __call__(self, query: str, operation_name: str | None, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        self.calls.append((query, operation_name, dict(variables)))
        return await self.inner(query, operation_name, variables)


def upstream(schema: ScopedSchema) -> Recording:
    return Recording(GraphQLCoreEndpoint(schema.schema, root_value=Company()))


def build(schema: ScopedSchema, endpoint: Any = None, **options: Any) -> tuple[MCPServer, Recording]:
    mcp = MCPServer("employees")
    recording = endpoint if endpoint is not None else upstream(schema)
    added = add_operation_tools(
        mcp, OPERATIONS, schema=schema, endpoint=recording, get_schema=["schema:read"], execute_graphql=True
    )
    assert added == ALL_TOOLS
    ScopeGuard(**options).install(mcp)
    return mcp, recording


async def refusal(call: Awaitable[Any]) -> MCPError:
    with pytest.raises(MCPError) as raised:
        await call
    return raised.value


def text_of(result: Any) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return str(result.content[0].text)


# -- listings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        ([], ["server_time", "execute_graphql"]),
        (["employees:read"], ["server_time", "get_employee", "execute_graphql"]),
        (["employees:read", "mood:read"], ["server_time", "get_employees", "get_employee", "execute_graphql"]),
        (["employees:read", "hr:admin"], ["server_time", "get_employee", "get_salary", "execute_graphql"]),
        (["mood:read", "mood:write"], ["server_time", "update_employee_mood", "execute_graphql"]),
        (["schema:read"], ["server_time", "get_schema", "execute_graphql"]),
    ],
)
async def test_listing_shows_exactly_the_operations_the_token_permits(
    schema: ScopedSchema, mode: str, scopes: list[str], expected: list[str]
) -> None:
    mcp, _ = build(schema)
    async with scoped_client(mcp, scopes, mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == expected


async def test_each_tool_carries_the_requirement_derived_from_its_operation(schema: ScopedSchema, mode: str) -> None:
    mcp = MCPServer("employees")
    add_operation_tools(mcp, OPERATIONS, schema=schema, endpoint=upstream(schema), get_schema=["schema:read"])
    report = ScopeGuard(hide_unauthorized=False).install(mcp)

    assert report.undeclared == ()  # An operation touching no scope is declared as needing none.
    async with scoped_client(mcp, [], mode=mode) as client:
        listed = {t.name: (t.meta or {}).get(META_KEY) for t in (await client.list_tools()).tools}
    assert listed == {
        "server_time": [[]],
        "get_employees": [["employees:read", "mood:read"]],
        "get_employee": [["employees:read"]],
        "get_salary": [["employees:read", "salary:read"], ["employees:read", "hr:admin"]],
        "update_employee_mood": [["mood:read", "mood:write"]],
        "get_schema": [["schema:read"]],
    }


async def test_titles_and_descriptions_come_from_the_operations(schema: ScopedSchema, mode: str) -> None:
    mcp, _ = build(schema, hide_unauthorized=False)
    async with scoped_client(mcp, [], mode=mode) as client:
        tools = {t.name: (t.title, t.description) for t in (await client.list_tools()).tools}
    assert tools["get_employees"] == (
        "GetEmployees",
        "Employees matching a filter, with their moods.\nAt most `first` of them.",
    )
    assert tools["get_salary"] == ("GetSalary", "One employee's salary.")
    assert tools["update_employee_mood"] == ("UpdateEmployeeMood", "Record how an employee feels.")
    assert tools["get_employee"] == ("GetEmployee", "Runs the GraphQL query GetEmployee.")
    assert tools["server_time"] == ("ServerTime", "Runs the GraphQL query ServerTime.")


# -- input schemas -------------------------------------------------------------------------------------


async def test_input_schemas_follow_the_variable_definitions(schema: ScopedSchema, mode: str) -> None:
    mcp, _ = build(schema, hide_unauthorized=False)
    async with scoped_client(mcp, [], mode=mode) as client:
        schemas = {t.name: t.input_schema for t in (await client.list_tools()).tools}

    assert schemas["server_time"] == {"type": "object", "properties": {}, "additionalProperties": False}
    assert schemas["get_salary"] == {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
        "additionalProperties": False,
    }
    assert schemas["update_employee_mood"] == {
        "type": "object",
        "properties": {
            "change": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "mood": {"type": "string", "enum": ["HAPPY", "NEUTRAL", "GRUMPY"]},
                    "note": {"type": ["string", "null"], "default": "no note"},
                },
                "required": ["id", "mood"],
                "additionalProperties": False,
            }
        },
        "required": ["change"],
        "additionalProperties": False,
    }
    # A recursive input object is defined once and referenced; nullable types also accept null.
    assert schemas["get_employees"] == {
        "type": "object",
        "properties": {
            "filter": {"anyOf": [{"$ref": "#/$defs/EmployeeFilter"}, {"type": "null"}]},
            "first": {"type": ["integer", "null"], "default": 10},
        },
        "additionalProperties": False,
        "$defs": {
            "EmployeeFilter": {
                "type": "object",
                "properties": {
                    "mood": {"type": ["string", "null"], "enum": ["HAPPY", "NEUTRAL", "GRUMPY", None]},
                    "nameContains": {"description": "Matches names containing this text.", "type": ["string", "null"]},
                    "teams": {"type": ["array", "null"], "items": {"type": "string"}},
                    "anyOf": {"type": ["array", "null"], "items": {"$ref": "#/$defs/EmployeeFilter"}},
                },
                "additionalProperties": False,
            }
        },
    }


def test_custom_scalars_floats_booleans_and_variable_descriptions() -> None:
    schema = ScopedSchema.from_sdl("scalar JSON\ntype Query { f(a: JSON, b: Float!, c: [Boolean]!, d: ID): Int }")
    document = schema.parse_operations(
        'query Q("""Free-form.""" $a: JSON, $b: Float!, $c: [Boolean]!, $d: ID = 7) { f(a: $a, b: $b, c: $c, d: $d) }'
    )
    (operation,) = document.definitions
    assert isinstance(operation, OperationDefinitionNode)

    assert operation_input_schema(schema.schema, operation) == {
        "type": "object",
        "properties": {
            "a": {"description": "Free-form."},
            "b": {"type": "number"},
            "c": {"type": "array", "items": {"type": ["boolean", "null"]}},
            "d": {"type": ["string", "null"], "default": 7},
        },
        "required": ["b", "c"],
        "additionalProperties": False,
    }


# -- calls ---------------------------------------------------------------------------------------------


async def test_calls_return_the_upstream_data(schema: ScopedSchema, mode: str) -> None:
    mcp, recording = build(schema)
    async with scoped_client(mcp, ["employees:read", "mood:read", "mood:write"], mode=mode) as client:
        listed = await client.call_tool("get_employees", {"filter": {"mood": "GRUMPY"}})
        changed = await client.call_tool("update_employee_mood", {"change": {"id": "2", "mood": "HAPPY"}})
        relisted = await client.call_tool("get_employees", {"first": 1})

    assert not listed.is_error
    assert listed.structured_content == {"employees": [{"id": "2", "name": "Grace", "mood": "GRUMPY"}]}
    assert text_of(listed) == '{"employees": [{"id": "2", "name": "Grace", "mood": "GRUMPY"}]}'
    assert changed.structured_content == {"updateEmployeeMood": {"id": "2", "name": "Grace", "mood": "HAPPY"}}
    assert relisted.structured_content == {"employees": [{"id": "1", "name": "Ada", "mood": "HAPPY"}]}
    # Each call sends its own operation and the fragments it uses, by name, with the arguments as variables.
    query, operation_name, variables = recording.calls[0]
    assert (operation_name, variables) == ("GetEmployees", {"filter": {"mood": "GRUMPY"}})
    assert "query GetEmployees" in query and "fragment Basics" in query and "GetSalary" not in query


async def test_a_call_lacking_scopes_is_refused_like_a_decorated_tool(schema: ScopedSchema, mode: str) -> None:
    mcp, recording = build(schema)
    decorated = MCPServer("decorated")

    @decorated.tool()
    @requires_scopes(any_of=[["employees:read", "salary:read"], ["employees:read", "hr:admin"]])
    def get_salary(id: str) -> str:
        return id

    ScopeGuard().install(decorated)

    async with scoped_client(mcp, ["employees:read"], mode=mode) as client:
        error = await refusal(client.call_tool("get_salary", {"id": "1"}))
    async with scoped_client(decorated, ["employees:read"], mode=mode) as client:
        expected = await refusal(client.call_tool("get_salary", {"id": "1"}))

    assert error.error.code == INSUFFICIENT_SCOPE
    assert error.error.data == {
        "error": "insufficient_scope",
        "required": ["employees:read", "salary:read"],
        "missing": ["salary:read"],
        "alternatives": [["employees:read", "salary:read"], ["employees:read", "hr:admin"]],
        "scope": "employees:read salary:read",
    }
    assert (error.error.code, error.error.message, error.error.data) == (
        expected.error.code,
        expected.error.message,
        expected.error.data,
    )
    assert recording.calls == []


async def test_step_up_then_succeeds(schema: ScopedSchema, mode: str) -> None:
    mcp, _ = build(schema)
    async with scoped_client(mcp, ["employees:read", "salary:read"], mode=mode) as client:
        result = await client.call_tool("get_salary", {"id": "1"})
    assert result.structured_content == {"employee": {"name": "Ada", "salary": 120}}


async def test_graphql_errors_surface_as_tool_errors(schema: ScopedSchema, mode: str) -> None:
    mcp, _ = build(schema)
    async with scoped_client(mcp, ["employees:read"], mode=mode) as client:
        result = await client.call_tool("get_employee", {"id": "99"})

    assert result.is_error
    assert text_of(result) == "GraphQL errors:\n- no employee with id 99"
    assert result.structured_content == {
        "errors": [{"message": "no employee with id 99", "path": ["employee"]}],
        "data": {"employee": None},
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"id": "1", "extra": 1}, "unknown arguments; this tool takes: id"),
        # graphql-core's own messages (their wording varies between its versions)
        ({}, "invalid arguments:\n- Variable '$id' "),
        ({"id": True}, "invalid arguments:\n- Variable '$id' "),
    ],
)
async def test_invalid_arguments_are_tool_errors_before_the_upstream_is_asked(
    schema: ScopedSchema, mode: str, arguments: dict[str, Any], expected: str
) -> None:
    mcp, recording = build(schema)
    async with scoped_client(mcp, ["employees:read"], mode=mode) as client:
        result = await client.call_tool("get_employee", arguments)

    assert result.is_error
    assert text_of(result).startswith(f"Error executing tool get_employee: {expected}")
    assert recording.calls == []


# -- execute_graphql -----------------------------------------------------------------------------------


async def test_execute_graphql_is_challenged_by_the_text_of_each_query(schema: ScopedSchema, mode: str) -> None:
    mcp, recording = build(schema)
    async with scoped_client(mcp, ["employees:read"], mode=mode) as client:
        names = await client.call_tool("execute_graphql", {"query": "{ employees { name } }"})
        error = await refusal(client.call_tool("execute_graphql", {"query": "{ employees { n: name salary } }"}))
        mutation = await refusal(
            client.call_tool(
                "execute_graphql",
                {
                    "query": "mutation M($c: MoodChange!) { updateEmployeeMood(change: $c) { id } }",
                    "variables": {"c": {"id": "1", "mood": "SAD"}},
                },
            )
        )

    assert names.structured_content == {"employees": [{"name": "Ada"}, {"name": "Grace"}]}
    assert error.error.code == INSUFFICIENT_SCOPE
    assert error.error.data == {
        "error": "insufficient_scope",
        "required": ["employees:read", "salary:read"],
        "missing": ["salary:read"],
        "alternatives": [["employees:read", "salary:read"], ["employees:read", "hr:admin"]],
        "scope": "employees:read salary:read",
    }
    assert mutation.error.code == INSUFFICIENT_SCOPE
    assert mutation.error.data["missing"] == ["mood:write"]
    assert len(recording.calls) == 1  # only the allowed query reached the upstream


async def test_execute_graphql_runs_the_chosen_operation_once_allowed(schema: ScopedSchema, mode: str) -> None:
    mcp, recording = build(schema)
    document = "query A { serverTime }\nquery B($id: ID!) { employee(id: $id) { salary } }"
    async with scoped_client(mcp, ["employees:read", "hr:admin"], mode=mode) as client:
        result = await client.call_tool(
            "execute_graphql", {"query": document, "operationName": "B", "variables": {"id": "2"}}
        )

    assert result.structured_content == {"employee": {"salary": 130}}
    ((query, operation_name, variables),) = recording.calls
    assert (operation_name, variables) == ("B", {"id": "2"})
    assert "serverTime" not in query  # the analysed operation alone is sent


@pytest.mark.parametrize(
    "arguments",
    [
        {"query": "{ employees { nope } }"},
        {"query": "{ employees { name "},
        {"query": "query A { serverTime } query B { serverTime }"},
        {"query": "{ serverTime }", "operationName": "Missing"},
        {"query": 42},
        {"query": "subscription S { serverTime }"},
    ],
)
async def test_execute_graphql_refuses_invalid_text_before_running(
    schema: ScopedSchema, mode: str, arguments: dict[str, Any]
) -> None:
    mcp, recording = build(schema)
    async with scoped_client(mcp, ["employees:read", "hr:admin", "mood:read", "mood:write"], mode=mode) as client:
        error = await refusal(client.call_tool("execute_graphql", arguments))

    assert (error.error.code, error.error.message) == (
        INVALID_PARAMS,
        "Invalid arguments: no scope requirement can be computed",
    )
    assert recording.calls == []


async def test_execute_graphql_static_scopes_and_its_query_scopes_and_together(schema: ScopedSchema, mode: str) -> None:
    mcp = MCPServer("employees")
    add_operation_tools(mcp, [], schema=schema, endpoint=upstream(schema), execute_graphql=["graphql:run"])
    ScopeGuard().install(mcp)
    query = {"query": "{ employees { mood } }"}

    # The query is analysed only once the tool's static scopes are held: a caller without them learns
    # (and costs) nothing about it, so the step-up comes in two challenges.
    async with scoped_client(mcp, ["employees:read"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == []
        static = await refusal(client.call_tool("execute_graphql", query))
    async with scoped_client(mcp, ["employees:read", "graphql:run"], mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["execute_graphql"]
        per_call = await refusal(client.call_tool("execute_graphql", query))
        plain = await client.call_tool("execute_graphql", {"query": "{ serverTime }"})

    assert static.error.data["missing"] == ["graphql:run"]
    assert per_call.error.data["missing"] == ["mood:read"]
    assert per_call.error.data["scope"] == "employees:read graphql:run mood:read"
    assert plain.structured_content == {"serverTime": "12:00"}


# -- get_schema ----------------------------------------------------------------------------------------


async def test_get_schema_has_its_own_scopes_and_returns_the_sdl(schema: ScopedSchema, mode: str) -> None:
    mcp, _ = build(schema)
    async with scoped_client(mcp, ["employees:read"], mode=mode) as client:
        error = await refusal(client.call_tool("get_schema", {}))
    async with scoped_client(mcp, ["schema:read"], mode=mode) as client:
        result = await client.call_tool("get_schema", {})

    assert error.error.code == INSUFFICIENT_SCOPE
    assert error.error.data["missing"] == ["schema:read"]
    assert not result.is_error
    assert text_of(result) == schema_sdl(schema)


def test_schema_sdl_keeps_what_clients_need_and_drops_the_plumbing(schema: ScopedSchema) -> None:
    sdl = schema_sdl(schema)

    assert "type Query {\n  employees(filter: EmployeeFilter, first: Int = 10): [Employee!]!" in sdl
    assert 'input MoodChange {\n  id: ID!\n  mood: Mood!\n  note: String = "no note"\n}' in sdl
    assert '"""A calendar date, YYYY-MM-DD."""\nscalar Date' in sdl
    assert "directive" not in sdl and "requiresScopes" not in sdl
    assert "scalar String" not in sdl


def test_schema_sdl_of_a_federation_subgraph_has_no_federation_plumbing() -> None:
    subgraph = load_schema(SCHEMAS / "employees-subgraph.graphql")
    sdl = schema_sdl(subgraph)

    assert "link__" not in sdl and "federation__" not in sdl and "FieldSet" not in sdl and "directive" not in sdl


# -- the upstream over HTTP ----------------------------------------------------------------------------


def graphql_http_app(schema: ScopedSchema, seen: list[dict[str, str]]) -> Starlette:
    endpoint = GraphQLCoreEndpoint(schema.schema, root_value=Company())

    async def graphql(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        body = await request.json()
        return JSONResponse(await endpoint(body["query"], body.get("operationName"), body.get("variables") or {}))

    async def broken(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Traceback: secret internals", status_code=502)

    async def moved(request: Request) -> PlainTextResponse:
        seen.append(dict(request.headers))
        return PlainTextResponse("", status_code=307, headers={"location": "/graphql"})

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/broken", broken, methods=["POST"]),
            Route("/moved", moved, methods=["POST"]),
        ]
    )


async def test_the_upstream_gets_the_configured_credentials_never_the_callers_token(
    schema: ScopedSchema, mode: str
) -> None:
    seen: list[dict[str, str]] = []
    async with LoopbackServer(graphql_http_app(schema, seen)) as base_url:
        mcp = MCPServer("employees")
        add_operation_tools(
            mcp,
            OPERATIONS / "employees.graphql",
            schema=schema,
            endpoint=f"{base_url}/graphql",
            headers={"Authorization": "Bearer upstream-credential", "X-Api-Key": "k1"},
        )
        ScopeGuard().install(mcp)
        async with scoped_client(mcp, ["employees:read", "mood:read"], mode=mode) as client:
            result = await client.call_tool("get_employees", {"first": 1})

    assert result.structured_content == {"employees": [{"id": "1", "name": "Ada", "mood": "HAPPY"}]}
    (headers,) = seen
    assert headers["authorization"] == "Bearer upstream-credential"
    assert headers["x-api-key"] == "k1"
    assert not any("in-process-test-token" in value for value in headers.values())  # the caller's token


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/broken", "the GraphQL endpoint answered HTTP 502"),
        ("/moved", "the GraphQL endpoint answered HTTP 307"),  # redirects are not followed
        ("/missing", "the GraphQL endpoint answered HTTP 404"),
    ],
)
async def test_http_failures_are_tool_errors_with_the_status_only(
    schema: ScopedSchema, mode: str, path: str, expected: str
) -> None:
    seen: list[dict[str, str]] = []
    async with LoopbackServer(graphql_http_app(schema, seen)) as base_url:
        mcp = MCPServer("employees")
        add_operation_tools(mcp, OPERATIONS / "clock.graphql", schema=schema, endpoint=base_url + path)
        ScopeGuard().install(mcp)
        async with scoped_client(mcp, [], mode=mode) as client:
            result = await client.call_tool("server_time", {})

    assert result.is_error
    assert text_of(result) == expected
    assert len(seen) == (1 if path == "/moved" else 0)


async def test_an_unreachable_upstream_is_a_tool_error(schema: ScopedSchema) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = HTTPGraphQLEndpoint(f"http://127.0.0.1:{port}/graphql", headers={"authorization": "Bearer s3cret"})
    mcp = MCPServer("employees")
    add_operation_tools(mcp, OPERATIONS / "clock.graphql", schema=schema, endpoint=endpoint)
    ScopeGuard().install(mcp)
    async with scoped_client(mcp, []) as client:
        result = await client.call_tool("server_time", {})

    assert result.is_error
    assert text_of(result) == "the GraphQL endpoint could not be reached"
    assert "s3cret" not in repr(endpoint)


# -- building the tools --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("GetEmployees", "get_employees"),
        ("UpdateEmployeeMood", "update_employee_mood"),
        ("getHTTPStatus", "get_http_status"),
        ("me", "me"),
        ("Payroll2024Report", "payroll2024_report"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_anonymous_operations_are_refused_naming_the_file(schema: ScopedSchema, tmp_path: Path) -> None:
    path = write(tmp_path, "anonymous.graphql", "{ serverTime }")
    with pytest.raises(GraphQLScopeError, match=r"needs a name .*anonymous\.graphql:1:1"):
        add_operation_tools(MCPServer("x"), path, schema=schema, endpoint=upstream(schema))


def test_duplicate_tool_names_are_refused_naming_both_operations(schema: ScopedSchema, tmp_path: Path) -> None:
    write(tmp_path, "a.graphql", "query GetTime { serverTime }")
    write(tmp_path, "b.graphql", "query getTime { serverTime }")
    mcp = MCPServer("x")
    with pytest.raises(
        ConfigurationError, match=r"'get_time' \(operations: GetTime in .*a\.graphql, getTime in .*b\.graphql\)"
    ):
        add_operation_tools(mcp, tmp_path, schema=schema, endpoint=upstream(schema))
    assert mcp._tool_manager.list_tools() == []  # nothing registered


def test_a_name_the_server_already_has_is_refused(schema: ScopedSchema) -> None:
    mcp = MCPServer("x")

    @mcp.tool()
    def get_schema() -> str:
        return ""

    with pytest.raises(ConfigurationError, match="'get_schema'"):
        add_operation_tools(mcp, [], schema=schema, endpoint=upstream(schema), get_schema=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("subscription Ticks { serverTime }", "does not validate|subscription"),
        (
            "query Bad { employees { nope } }",
            r"Cannot query field 'nope' on type 'Employee'\. \(.*bad\.graphql:1:25\) in query Bad",
        ),
        ("query Bad { employees { name ", r"cannot parse .*bad\.graphql"),
    ],
)
def test_operations_that_cannot_be_tools_stop_the_build(
    schema: ScopedSchema, tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "bad.graphql", text)
    with pytest.raises(GraphQLScopeError, match=message):
        add_operation_tools(MCPServer("x"), path, schema=schema, endpoint=upstream(schema))


def test_subscriptions_are_refused_naming_the_file() -> None:
    schema = ScopedSchema.from_sdl("type Query { a: Int } type Subscription { ticks: Int }")
    with pytest.raises(GraphQLScopeError, match=r"ticks\.graphql: subscription Ticks cannot be a tool"):
        add_operation_tools(
            MCPServer("x"),
            write_tmp("ticks.graphql", "subscription Ticks { ticks }"),
            schema=schema,
            endpoint=GraphQLCoreEndpoint(schema.schema),
        )


def write_tmp(name: str, text: str) -> Path:
    return write(Path.cwd(), name, text)  # the autouse fixture made the working directory a fresh one


def test_headers_go_with_a_url_endpoint_only(schema: ScopedSchema) -> None:
    with pytest.raises(ConfigurationError, match="headers="):
        add_operation_tools(MCPServer("x"), [], schema=schema, endpoint=upstream(schema), headers={"a": "b"})
    with pytest.raises(ConfigurationError, match="must be http"):
        add_operation_tools(MCPServer("x"), [], schema=schema, endpoint="ftp://example.test/graphql")


def test_the_schema_defaults_to_the_configured_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SCOPES_GRAPHQL_SCHEMA", str(SCHEMA_FILE))
    schema = load_schema(SCHEMA_FILE)
    from_environment = MCPServer("x")
    from_guard = MCPServer("y")

    assert add_operation_tools(from_environment, OPERATIONS / "moods.graphql", endpoint=upstream(schema)) == [
        "update_employee_mood"
    ]
    assert add_operation_tools(
        from_guard, OPERATIONS / "moods.graphql", guard=ScopeGuard(), endpoint=upstream(schema)
    ) == ["update_employee_mood"]


def test_no_schema_at_all_stops_the_build() -> None:
    with pytest.raises(GraphQLScopeError, match="FASTMCP_SCOPES_GRAPHQL_SCHEMA is not set"):
        add_operation_tools(MCPServer("x"), OPERATIONS, endpoint="http://127.0.0.1:1/graphql")


async def test_without_a_guard_execute_graphql_still_runs_only_valid_operations(schema: ScopedSchema) -> None:
    mcp = MCPServer("unguarded")
    recording = upstream(schema)
    add_operation_tools(mcp, [], schema=schema, endpoint=recording, execute_graphql=True)
    async with Client(mcp) as client:
        result = await client.call_tool("execute_graphql", {"query": "{ employees { nope } }"})

    assert result.is_error
    assert text_of(result) == (
        "Error executing tool execute_graphql: the query is not a valid query or mutation for this schema"
    )
    assert recording.calls == []
