"""GraphQL operations as scoped MCP tools.

Point :func:`add_operation_tools` at ``.graphql`` files and an endpoint: each named query or mutation
becomes a tool whose input schema comes from the operation's variables and whose requirement is the
operation's, derived from the schema's ``@requiresScopes`` when the tools are built and recorded with
``@requires_scopes``, so a :class:`~fastmcp_scopes.ScopeGuard` lists and challenges it exactly like a
decorated tool. Two optional built-ins: ``get_schema`` (the SDL) and ``execute_graphql`` (an ad-hoc
operation whose requirement is computed from its text on each call, before it runs).

Where the operations run is :mod:`fastmcp_scopes.graphql.endpoints` (never with the caller's token);
their input schemas come from :mod:`fastmcp_scopes.graphql.input_schema`.

Unlike the rest of :mod:`fastmcp_scopes.graphql`, this module depends on the MCP SDK (``MCPServer``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLSchema,
    OperationDefinitionNode,
    print_ast,
)
from graphql.execution import get_variable_values
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ConfigDict

from fastmcp_scopes.decorators import PerCallRequirement, requires_scopes
from fastmcp_scopes.errors import ConfigurationError, GraphQLScopeError, GraphQLUpstreamError
from fastmcp_scopes.graphql.analysis import OperationAnalysis
from fastmcp_scopes.graphql.cache import CatalogueCache
from fastmcp_scopes.graphql.endpoints import GraphQLEndpoint, HTTPGraphQLEndpoint
from fastmcp_scopes.graphql.input_schema import operation_input_schema
from fastmcp_scopes.graphql.limits import QueryLimitError, QueryLimits, parse_bounded
from fastmcp_scopes.graphql.loading import load_schema, read_operation_files
from fastmcp_scopes.graphql.schema import ScopedSchema, cycle_collection_paused
from fastmcp_scopes.graphql.sdl import schema_sdl
from fastmcp_scopes.policy import ScopeGuard
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement
from fastmcp_scopes.settings import load_settings

__all__ = [
    "EXECUTE_GRAPHQL",
    "GET_SCHEMA",
    "add_operation_tools",
    "snake_case",
]

GET_SCHEMA = "get_schema"
"""Name of the built-in tool returning the schema's SDL."""
EXECUTE_GRAPHQL = "execute_graphql"
"""Name of the built-in tool running an ad-hoc operation."""

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_MAX_REPORTED_ERRORS = 20


def snake_case(name: str) -> str:
    """``GetEmployees`` → ``get_employees``, ``getHTTPStatus`` → ``get_http_status``."""
    return _WORD_BOUNDARY.sub("_", name).lower()


# -- running an operation -------------------------------------------------------------------------------


class _RawArguments(ArgModelBase):
    """Hands a tool its arguments as given, for the tool itself to check against the operation's
    variable definitions. The SDK builds a tool's argument model from its function's signature; an
    operation's variables are only known at run time, so the generated model is replaced by this one."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _graphql_result(response: Mapping[str, Any]) -> CallToolResult:
    errors = response.get("errors")
    data = response.get("data")
    if errors:
        if not isinstance(errors, list):
            return _tool_error("the GraphQL endpoint answered with malformed errors")
        reported = [_reported_error(e) for e in errors[:_MAX_REPORTED_ERRORS]]
        text = "GraphQL errors:\n" + "\n".join(f"- {e['message']}" for e in reported)
        structured: dict[str, Any] = {"errors": reported}
        if isinstance(data, Mapping):
            structured["data"] = dict(data)
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=structured, is_error=True
        )
    if not isinstance(data, Mapping):
        return _tool_error("the GraphQL endpoint answered without data")
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False))], structured_content=dict(data)
    )


def _reported_error(error: Any) -> dict[str, Any]:
    """A GraphQL error's message and path only: ``extensions`` may carry stack traces or internals."""
    if not isinstance(error, Mapping) or not isinstance(error.get("message"), str):
        return {"message": "unspecified error"}
    reported: dict[str, Any] = {"message": error["message"]}
    path = error.get("path")
    if isinstance(path, list) and all(isinstance(p, str | int) for p in path):
        reported["path"] = path
    return reported


def _tool_error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def _run(endpoint: GraphQLEndpoint, query: str, operation_name: str | None, variables: Mapping[str, Any]) -> Any:
    try:
        response = await endpoint(query, operation_name, variables)
    except GraphQLUpstreamError as error:
        return _tool_error(error.message)
    if not isinstance(response, Mapping):
        return _tool_error("the GraphQL endpoint did not answer with a GraphQL response")
    return _graphql_result(response)


def _checked_variables(schema: GraphQLSchema, operation: OperationDefinitionNode, arguments: Mapping[str, Any]) -> None:
    definitions = operation.variable_definitions or ()
    declared = {v.variable.name.value for v in definitions}
    if not declared.issuperset(arguments):
        expected = ", ".join(sorted(declared)) or "none"
        raise ToolError(f"unknown arguments; this tool takes: {expected}")
    coerced = get_variable_values(schema, definitions, dict(arguments), max_errors=10)
    if isinstance(coerced, list):
        raise ToolError("invalid arguments:\n" + "\n".join(f"- {e.message}" for e in coerced))


# -- building the tools -----------------------------------------------------------------------------------


def add_operation_tools(
    server: MCPServer[Any],
    operations: str | Path | Iterable[str | Path],
    *,
    endpoint: GraphQLEndpoint | str,
    schema: ScopedSchema | None = None,
    guard: ScopeGuard | None = None,
    headers: Mapping[str, str] | None = None,
    get_schema: bool | Sequence[str] | Requirement = False,
    execute_graphql: bool | Sequence[str] | Requirement = False,
    tool_name: Callable[[str], str] = snake_case,
    cap: int = DEFAULT_MAX_ALTERNATIVES,
    query_limits: QueryLimits | None = None,
    cache: CatalogueCache | None = None,
) -> list[str]:
    """Register each named operation in ``operations`` (``.graphql``/``.gql`` files, or directories
    searched recursively) as a tool of ``server``; return the names of the tools added, in order.

    - The tool is named ``tool_name(operation name)`` (``GetEmployees`` → ``get_employees``); its
      description is the operation's ``\"\"\"description\"\"\"`` or the ``#`` comment lines just above it.
    - Its requirement is the operation's, derived from ``schema`` now and recorded with
      ``@requires_scopes`` (an operation touching no scope is *declared* as needing none), so an
      installed :class:`~fastmcp_scopes.ScopeGuard` lists, refuses and challenges it like any tool;
      ``FASTMCP_SCOPES_TOOL_SCOPES`` entries for its name still AND on top.
    - Its input schema is :func:`operation_input_schema`; arguments are checked against the variable
      definitions before the endpoint is asked.
    - ``endpoint``: an ``http(s)`` URL (posted to with ``headers``, the upstream credentials; never the
      caller's token) or a :class:`GraphQLEndpoint` such as :class:`GraphQLCoreEndpoint`.
    - The result is the response's ``data`` as structured content; GraphQL ``errors`` make it a tool
      error carrying their messages and paths; an unreachable endpoint or an HTTP error status, a
      tool error with fixed text (and the status).
    - ``get_schema``: also add ``get_schema``, returning :func:`schema_sdl`; ``True`` declares no
      scope, scopes or a :class:`Requirement` declare those.
    - ``execute_graphql``: also add ``execute_graphql(query, operationName?, variables?)``, needing
      its static scopes (``True``: none) AND the requirement of the query it is given, computed before
      it runs; a query that does not validate (or a subscription) is refused as invalid params, and so is
      one past ``query_limits`` (size, parser tokens, selection depth), before any validation or analysis.
    - ``query_limits`` defaults to the ``FASTMCP_SCOPES_GRAPHQL_MAX_QUERY_*`` settings (``guard.settings``
      when a ``guard`` is given).
    - ``cache``: a :class:`CatalogueCache` from which the next start-up reads the operations' analyses back
      instead of validating and analysing them again (see :meth:`ScopedSchema.analyze_catalogue`).
    - ``schema`` defaults to ``guard.graphql_schema()`` when a ``guard`` is given, else to the one
      ``FASTMCP_SCOPES_GRAPHQL_SCHEMA`` names (:func:`load_schema`); either way from that variable.

    Raises:
        GraphQLScopeError: a file that cannot be read or does not validate, an anonymous operation or a
            subscription (naming the file), no schema.
        ConfigurationError: two tools with one name (or a name the server already has), ``headers``
            with an endpoint that is not a URL, too many alternatives (past ``cap``).
    """
    settings = guard.settings if guard is not None else None
    if schema is None:
        if guard is not None:
            schema = guard.graphql_schema("add_operation_tools")
        else:
            settings = load_settings()
            schema = load_schema(
                settings.graphql_schema,
                strict=settings.graphql_strict,
                input_directives=settings.graphql_input_directives,
                no_scope_directives=settings.graphql_no_scope_directives,
            )
    upstream = _endpoint(endpoint, headers)
    paths = [operations] if isinstance(operations, str | Path) else list(operations)
    files = read_operation_files(*paths)
    # A large catalogue is a burst of long-lived allocations (syntax trees, tools): without the pause, each
    # burst triggers full collections that walk the whole loaded schema again.
    with cycle_collection_paused():
        planned = _plan(schema, files, cap, cache, tool_name)
    names = [name for name, *_ in planned]
    if get_schema is not False:
        names.append(GET_SCHEMA)
    if execute_graphql is not False:
        names.append(EXECUTE_GRAPHQL)
    seen: set[str] = set()
    for name in names:
        if name in seen or server._tool_manager.get_tool(name) is not None:
            raise ConfigurationError(f"two tools would be named {name!r} (operations: {_origin_of(name, planned)})")
        seen.add(name)

    with cycle_collection_paused():
        for name, _path, analysis, query, description in planned:
            _add_operation_tool(server, schema, upstream, name, analysis, query, description)
    if get_schema is not False:
        _add_get_schema(server, schema, _static_requirement(get_schema, GET_SCHEMA))
    if execute_graphql is not False:
        if query_limits is None:
            query_limits = QueryLimits.from_settings(settings if settings is not None else load_settings())
        static = _static_requirement(execute_graphql, EXECUTE_GRAPHQL)
        _add_execute_graphql(server, schema, upstream, static, cap, query_limits)
    return names


_Planned = tuple[str, Path, OperationAnalysis, str, str | None]


def _plan(
    schema: ScopedSchema,
    files: Sequence[tuple[Path, str]],
    cap: int,
    cache: CatalogueCache | None,
    tool_name: Callable[[str], str],
) -> list[_Planned]:
    """Each operation's tool name, file, analysis, the text sent upstream and the description."""
    planned: list[_Planned] = []
    # One validation over the whole catalogue (see ScopedSchema.analyze_catalogue), not one per file.
    for name, analysis in schema.analyze_catalogue(files, cap=cap, cache=cache).items():
        path = Path(analysis.source_name or "")
        if analysis.kind == "subscription":
            raise GraphQLScopeError(f"{path}: subscription {name} cannot be a tool")
        definition = analysis.definition
        if definition is None:  # pragma: no cover - a catalogue holds named operations only
            raise GraphQLScopeError(f"{path}: operation {name} has no definition")
        query = print_ast(DocumentNode(definitions=(definition, *analysis.fragments)))
        planned.append((tool_name(name), path, analysis, query, _description(definition)))
    return planned


def _origin_of(name: str, planned: Sequence[_Planned]) -> str:
    found = [f"{a.name} in {p}" for n, p, a, *_ in planned if n == name]
    return ", ".join(found) or "a tool already registered or a built-in"


def _endpoint(endpoint: GraphQLEndpoint | str, headers: Mapping[str, str] | None) -> GraphQLEndpoint:
    if isinstance(endpoint, str):
        return HTTPGraphQLEndpoint(endpoint, headers=headers)
    if headers is not None:
        raise ConfigurationError("headers= go with an endpoint URL; give them to the endpoint object instead")
    return endpoint


def _static_requirement(given: bool | Sequence[str] | Requirement, where: str) -> Requirement:
    if given is True:
        return Requirement.none()
    if isinstance(given, Requirement):
        return given
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise ConfigurationError(f"{where}= takes True, a list of scopes or a Requirement")
    return Requirement.all_of(*given, where=where)


def _declare(
    fn: Callable[..., Any],
    requirement: Requirement,
    per_call: PerCallRequirement | None = None,
) -> None:
    # The decorator's any_of form carries every requirement, including "declared, no scope" ([[]]): an
    # operation touching no scope is a decision made from the schema, not a tool nobody looked at.
    requires_scopes(any_of=[sorted(alternative) for alternative in requirement.alternatives], per_call=per_call)(fn)


def _register(
    server: MCPServer[Any],
    fn: Callable[..., Any],
    *,
    name: str,
    title: str | None,
    description: str,
    input_schema: dict[str, Any],
    annotations: ToolAnnotations | None,
) -> None:
    # The SDK derives a tool's input schema and argument model from its function's signature, while
    # these tools take the variables of an operation read at run time. Register through the SDK (name
    # checks, listing, calls), then give the tool the operation's schema and an argument model passing
    # the arguments through unchanged (`_RawArguments`); the tool checks them itself.
    server.add_tool(
        fn, name=name, title=title, description=description, annotations=annotations, structured_output=False
    )
    tool = server._tool_manager.get_tool(name)
    if tool is None:  # pragma: no cover - add_tool just registered it
        raise RuntimeError(f"tool {name!r} was not registered")
    tool.parameters = input_schema
    tool.fn_metadata = FuncMetadata(arg_model=_RawArguments)


def _add_operation_tool(
    server: MCPServer[Any],
    schema: ScopedSchema,
    upstream: GraphQLEndpoint,
    name: str,
    analysis: OperationAnalysis,
    query: str,
    description: str | None,
) -> None:
    operation = analysis.definition
    if operation is None or analysis.name is None:  # pragma: no cover - operations() always sets both
        raise GraphQLScopeError(f"operation {analysis.name} has no definition")
    operation_name = analysis.name

    async def run_operation(**arguments: Any) -> Any:
        _checked_variables(schema.schema, operation, arguments)
        return await _run(upstream, query, operation_name, arguments)

    run_operation.__name__ = run_operation.__qualname__ = name
    _declare(run_operation, analysis.requirement)
    _register(
        server,
        run_operation,
        name=name,
        title=operation_name,
        description=description or f"Runs the GraphQL {analysis.kind} {operation_name}.",
        input_schema=operation_input_schema(schema.schema, operation),
        annotations=ToolAnnotations(read_only_hint=analysis.kind == "query"),
    )


def _add_get_schema(server: MCPServer[Any], schema: ScopedSchema, requirement: Requirement) -> None:
    sdl = schema_sdl(schema)

    async def get_schema() -> str:
        return sdl

    _declare(get_schema, requirement)
    server.add_tool(
        get_schema,
        name=GET_SCHEMA,
        title="GraphQL schema",
        description="The GraphQL schema (SDL) the other tools run against.",
        annotations=ToolAnnotations(read_only_hint=True),
        structured_output=False,
    )


_EXECUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "A GraphQL document holding a query or a mutation."},
        "operationName": {
            "type": ["string", "null"],
            "description": "The operation to run, when the document holds several.",
        },
        "variables": {"type": ["object", "null"], "description": "The operation's variables."},
    },
    "required": ["query"],
    "additionalProperties": False,
}


def _prepare_adhoc(
    schema: ScopedSchema, arguments: Mapping[str, Any], cap: int, limits: QueryLimits
) -> OperationAnalysis:
    """The analysis of the operation an ``execute_graphql`` call names (parsed within ``limits``, validated once).

    Raises:
        QueryLimitError: a query past ``limits``, refused before it is validated or analysed.
        GraphQLScopeError: no query string, a document that does not validate, a subscription.
    """
    query = arguments.get("query")
    operation_name = arguments.get("operationName")
    if not isinstance(query, str) or not (operation_name is None or isinstance(operation_name, str)):
        raise GraphQLScopeError("execute_graphql needs a query string (and an optional operationName string)")
    document = parse_bounded(query, limits, EXECUTE_GRAPHQL)
    analysis = schema.analyze(document, operation_name, cap=cap, source_name=EXECUTE_GRAPHQL)
    if analysis.kind == "subscription":
        raise GraphQLScopeError("execute_graphql runs queries and mutations only")
    return analysis


def _add_execute_graphql(
    server: MCPServer[Any],
    schema: ScopedSchema,
    upstream: GraphQLEndpoint,
    static: Requirement,
    cap: int,
    limits: QueryLimits,
) -> None:
    def requirement_of_call(arguments: Mapping[str, Any]) -> Requirement:
        return _prepare_adhoc(schema, arguments, cap, limits).requirement

    async def execute_graphql(**arguments: Any) -> Any:
        # Checked again here, so that the text sent upstream is the operation whose requirement was
        # computed even where no guard asked `requirement_of_call` first.
        unknown = set(arguments) - set(_EXECUTE_SCHEMA["properties"])
        if unknown:
            raise ToolError("unknown arguments; this tool takes: query, operationName, variables")
        try:
            analysis = _prepare_adhoc(schema, arguments, cap, limits)
        except QueryLimitError as error:
            raise ToolError(str(error)) from None  # Fixed text naming the limit.
        except GraphQLScopeError:
            raise ToolError("the query is not a valid query or mutation for this schema") from None
        variables = arguments.get("variables") or {}
        if not isinstance(variables, Mapping):
            raise ToolError("variables must be an object")
        if analysis.definition is None:  # pragma: no cover - analyze() always sets it
            raise ToolError("the query is not a valid query or mutation for this schema")
        _checked_variables(schema.schema, analysis.definition, variables)
        # Send exactly the analysed operation (and its fragments), printed by us: the upstream then
        # parses the text our analysis parsed, not some other reading of what the caller sent.
        query = print_ast(DocumentNode(definitions=(analysis.definition, *analysis.fragments)))
        return await _run(upstream, query, analysis.name, variables)

    _declare(execute_graphql, static, per_call=requirement_of_call)
    _register(
        server,
        execute_graphql,
        name=EXECUTE_GRAPHQL,
        title="Run a GraphQL operation",
        description=(
            "Runs an ad-hoc GraphQL query or mutation against the schema (see get_schema, when offered). "
            "It needs the scopes of every field it touches."
        ),
        input_schema=_EXECUTE_SCHEMA,
        annotations=ToolAnnotations(read_only_hint=False),
    )


def _description(operation: OperationDefinitionNode) -> str | None:
    """The operation's ``\"\"\"description\"\"\"``, else the ``#`` comment lines right above it in its source."""
    described = getattr(operation, "description", None)  # operation descriptions: graphql-core 3.3+
    if described is not None:
        return str(described.value).strip() or None
    if operation.loc is None:
        return None
    head, _, same_line = operation.loc.source.body[: operation.loc.start].rpartition("\n")
    if same_line.strip():
        return None  # Something else stands before it on its line: no comment is its own.
    comments: list[str] = []
    for line in reversed(head.splitlines()):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        comments.append(stripped[1:].removeprefix(" ").rstrip())
    comments.reverse()
    return "\n".join(comments).strip() or None
