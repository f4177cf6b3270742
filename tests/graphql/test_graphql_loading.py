"""Schema loading: SDL flavours, federation names, lenient and strict validation, introspection, files, URLs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, introspection_from_schema
from graphql_harness import GITHUB_SCHEMA, SCHEMAS, assert_requirement

from fastmcp_scopes.errors import GraphQLScopeError, InvalidScopeError
from fastmcp_scopes.graphql import SCHEMA_ENV_VAR, GraphQLSchemaWarning, ScopedSchema, load_schema

# -- federation names ----------------------------------------------------------------------------


@pytest.mark.spec("federation/link-imports")
def test_subgraph_with_renamed_import_and_prefix() -> None:
    schema = load_schema(SCHEMAS / "employees-subgraph.graphql", strict=True)
    expect = partial(assert_requirement, schema)
    assert schema.names.requires_scopes == {"scopes", "federation__requiresScopes"}
    expect("{ employee(id: 1) { name } }", [["employees:read"]])
    expect("{ employee(id: 1) { salary } }", [["employees:read", "hr:read"], ["employees:read", "hr:admin"]])
    expect("{ directory { badge } }", [["directory:read", "employees:read", "badges:read"]])
    assert schema.analyze("{ me { id } }").authenticated


def test_supplied_definitions_use_the_linked_type_names() -> None:
    schema = load_schema(SCHEMAS / "employees-subgraph.graphql", strict=True)
    scopes = schema.schema.get_directive("scopes")
    assert scopes is not None
    assert str(scopes.args["scopes"].type) == "[[federation__Scope!]!]!"
    assert schema.schema.get_directive("key") is not None
    assert schema.schema.get_type("federation__FieldSet") is not None


@pytest.mark.parametrize(
    ("link", "applied", "fix"),
    [
        # Issue 11: a federation 2 subgraph applying @requiresScopes without importing it.
        ('@link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])', "@requiresScopes", "import it"),
        ('@link(url: "https://specs.apollo.dev/federation/v2.5")', "@authenticated", "import it"),
        # Imported under another name: the original name is not the scope directive any more.
        (
            '@link(url: "https://specs.apollo.dev/federation/v2.5", import: [{name: "@requiresScopes", as: "@s"}])',
            "@requiresScopes",
            "import it",
        ),
        # A supergraph that does not link the requiresScopes specification: the router resolves no directive.
        ('@link(url: "https://specs.apollo.dev/link/v1.0")', "@requiresScopes", "link its specification"),
    ],
)
def test_scope_directive_the_links_do_not_resolve_is_a_start_up_error(link: str, applied: str, fix: str) -> None:
    arguments = '(scopes: [["x"]])' if applied == "@requiresScopes" else ""
    sdl = f"extend schema {link}\ntype Query {{ a: String {applied}{arguments} }}"
    message = rf"{applied} is applied at schema:2:\d+ but no @link of this schema resolves it.*{fix}"
    # Strict or not: a requirement its author wrote must not silently become "no scope".
    with pytest.raises(GraphQLScopeError, match=message):
        ScopedSchema.from_sdl(sdl)
    with pytest.raises(GraphQLScopeError, match=message):
        ScopedSchema.from_sdl(sdl, strict=True)


def test_directive_of_the_same_name_from_another_specification_is_not_ours() -> None:
    sdl = """
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
      @link(url: "https://example.com/auth/v1.0", import: ["@authenticated"])
    directive @authenticated on FIELD_DEFINITION
    type Query { a: String @authenticated }
    """
    schema = ScopedSchema.from_sdl(sdl, strict=True)
    assert schema.names.authenticated == {"federation__authenticated"}
    assert not schema.analyze("{ a }").requires_token


def test_renamed_federation_link_prefix() -> None:
    sdl = """
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", as: "fed")
    type Query { a: String @fed__requiresScopes(scopes: [["x"]]) b: String @fed__authenticated }
    """
    schema = ScopedSchema.from_sdl(sdl, strict=True)
    assert schema.requirement("{ a }").to_json() == [["x"]]
    assert schema.analyze("{ b }").authenticated


def test_federation_1_subgraph() -> None:
    schema = load_schema(SCHEMAS / "fed1-subgraph.graphql", strict=True)
    expect = partial(assert_requirement, schema)
    expect('{ inventory(sku: "a") { count } }', [["inventory:read"]])
    expect('{ inventory(sku: "a") { cost } }', [["inventory:read", "finance:read"]])


def test_plain_schema_defining_its_own_directive() -> None:
    schema = ScopedSchema.from_sdl(
        """
        directive @requiresScopes(scopes: [[Scope!]!]!) on FIELD_DEFINITION | OBJECT
        scalar Scope
        type Query { a: String @requiresScopes(scopes: [["x", "y"]]) }
        """,
        strict=True,
    )
    assert schema.requirement("{ a }").to_json() == [["x", "y"]]


def test_type_extension_directives_apply_too() -> None:
    schema = ScopedSchema.from_sdl(
        """
        type Query { t: T }
        type T { x: Int }
        extend type T @requiresScopes(scopes: [["b"], ["c"]])
        """,
        strict=True,
    )
    assert schema.requirement("{ t { x } }").to_json() == [["b"], ["c"]]


def test_directive_on_type_and_extension_warns_and_applies_both() -> None:
    sdl = """
    type Query { t: T }
    type T @requiresScopes(scopes: [["a"]]) { x: Int }
    extend type T @requiresScopes(scopes: [["b"], ["c"]])
    """
    with pytest.warns(GraphQLSchemaWarning, match="can only be used once at this location"):
        schema = ScopedSchema.from_sdl(sdl)
    assert schema.requirement("{ t { x } }").to_json() == [["a", "b"], ["a", "c"]]


# -- bad declarations -------------------------------------------------------------------------------


@pytest.mark.parametrize("scopes", ['[["a", 1]]', "null", "[null]", '[["a", null]]', "1"])
def test_malformed_scopes_argument(scopes: str) -> None:
    sdl = f"type Query {{ a: String @requiresScopes(scopes: {scopes}) }}"
    with pytest.raises(GraphQLScopeError, match=r"@requiresScopes on Query.a \(schema:1:24\) needs scopes"):
        ScopedSchema.from_sdl(sdl)


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        # GraphQL input coercion (spec 3.11): a value that is not a list is a list of one, at each level.
        ('["a", "b"]', [["a"], ["b"]]),
        ('"a"', [["a"]]),
        ('[["a", "b"], "c"]', [["a", "b"], ["c"]]),
        # An empty list of alternatives: the router authorizes it (no alternative to fail), so no scope.
        ("[]", [[]]),
        ("[[]]", [[]]),
    ],
)
def test_scopes_argument_is_read_with_input_coercion(scopes: str, expected: list[list[str]]) -> None:
    schema = ScopedSchema.from_sdl(f"type Query {{ a: String @requiresScopes(scopes: {scopes}) }}")
    assert_requirement(schema, "{ a }", expected)


def test_scope_outside_rfc_6749_is_refused() -> None:
    with pytest.raises(InvalidScopeError, match=r"Query\.a"):
        ScopedSchema.from_sdl('type Query { a: String @requiresScopes(scopes: [["two words"]]) }')


def test_schema_syntax_error() -> None:
    with pytest.raises(GraphQLScopeError, match=r"cannot parse the schema: Syntax Error.*\(schema:1:14\)"):
        ScopedSchema.from_sdl("type Query { }")


def test_unbuildable_schema() -> None:
    with pytest.raises(GraphQLScopeError, match="Unknown type 'Missing'"):
        ScopedSchema.from_sdl("type Query { a: Missing }")


def test_bad_link_import() -> None:
    sdl = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: [42]) type Query { a: Int }'
    with pytest.raises(GraphQLScopeError, match="import 42"):
        ScopedSchema.from_sdl(sdl)


# -- real-world schemas ------------------------------------------------------------------------------

github = pytest.mark.skipif(not GITHUB_SCHEMA.exists(), reason="GitHub schema not present")


@github
def test_github_schema_loads_with_a_warning_listing_the_problems() -> None:
    with pytest.warns(GraphQLSchemaWarning) as caught:
        schema = load_schema(GITHUB_SCHEMA)
    message = str(caught[0].message)
    assert "14 problem(s)" in message
    assert "Field 'EnterpriseOwnerInfo.repositoryDeployKeySetting' can only be defined once." in message
    assert "implementation field Project.id must not be deprecated" in message
    assert len(schema.problems) == 14
    # Operations still validate and analyse against it.
    assert schema.requirement("{ viewer { login } }").is_empty


@github
def test_github_schema_fails_in_strict_mode() -> None:
    with pytest.raises(GraphQLScopeError, match=r"does not pass strict validation; 2 problem\(s\)"):
        load_schema(GITHUB_SCHEMA, strict=True)


# -- introspection and files --------------------------------------------------------------------------

PLAIN_SDL = 'type Query { a: String @requiresScopes(scopes: [["x"]]) }'


def test_introspection_result_is_refused_unless_declared_free_of_scope_directives(tmp_path: Path) -> None:
    result = {"data": introspection_from_schema(build_schema("type Query { a: String }"))}
    # Issue 11: it carries no directive applications, so everything would derive "no scope".
    for strict in (False, True):
        with pytest.raises(GraphQLScopeError, match=r"carries no applied directives.*NO_SCOPE_DIRECTIVES=true"):
            ScopedSchema.from_introspection(result, strict=strict)
    path = tmp_path / "introspection.json"
    path.write_text(json.dumps(result))
    with pytest.raises(GraphQLScopeError, match="carries no applied directives"):
        load_schema(path)
    declared = load_schema(path, no_scope_directives=True)  # No warning either: the user said so.
    assert declared.requirement("{ a }").is_empty


def test_declared_free_of_scope_directives_but_has_some() -> None:
    with pytest.raises(GraphQLScopeError, match=r"declared to have no scope directives.*Query\.a"):
        ScopedSchema.from_sdl(PLAIN_SDL, no_scope_directives=True)


def test_service_sdl_answer_is_read_as_sdl() -> None:
    schema = ScopedSchema.from_introspection({"data": {"_service": {"sdl": PLAIN_SDL}}}, strict=True)
    assert schema.requirement("{ a }").to_json() == [["x"]]


def test_not_an_introspection_result() -> None:
    with pytest.raises(GraphQLScopeError, match="no '__schema' object"):
        ScopedSchema.from_introspection({"data": {}})


def test_load_files_by_content(tmp_path: Path) -> None:
    sdl_file = tmp_path / "schema.graphqls"
    sdl_file.write_text(PLAIN_SDL)
    assert load_schema(sdl_file).requirement("{ a }").to_json() == [["x"]]
    json_file = tmp_path / "schema.json"
    json_file.write_text(json.dumps({"data": {"_service": {"sdl": PLAIN_SDL}}}))
    assert load_schema(json_file).requirement("{ a }").to_json() == [["x"]]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GraphQLScopeError, match="cannot read the GraphQL schema"):
        load_schema(tmp_path / "nope.graphql")


def test_environment_variable_picks_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.graphql").write_text(PLAIN_SDL)
    monkeypatch.setenv(SCHEMA_ENV_VAR, str(tmp_path / "s.graphql"))
    assert load_schema().requirement("{ a }").to_json() == [["x"]]
    monkeypatch.delenv(SCHEMA_ENV_VAR)
    with pytest.raises(GraphQLScopeError, match=SCHEMA_ENV_VAR):
        load_schema()


# -- URLs -------------------------------------------------------------------------------------------


@pytest.fixture
def graphql_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local server answering `_service { sdl }` like a federation subgraph and recording requests."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append({"body": body, "authorization": self.headers.get("Authorization")})
            payload = json.dumps({"data": {"_service": {"sdl": PLAIN_SDL}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/graphql", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_url_is_introspected_with_configured_headers(graphql_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, requests = graphql_server
    schema = load_schema(url, headers={"Authorization": "Bearer upstream"})
    assert schema.requirement("{ a }").to_json() == [["x"]]
    assert requests == [{"body": {"query": "{ _service { sdl } }"}, "authorization": "Bearer upstream"}]


async def test_url_async(graphql_server: tuple[str, list[dict[str, Any]]]) -> None:
    from fastmcp_scopes.graphql import load_schema_async

    url, _ = graphql_server
    schema = await load_schema_async(url)
    assert schema.requirement("{ a }").to_json() == [["x"]]


def test_unreachable_url() -> None:
    with pytest.raises(GraphQLScopeError, match=r"cannot introspect http://127\.0\.0\.1:9/graphql"):
        load_schema("http://127.0.0.1:9/graphql", timeout=2)
