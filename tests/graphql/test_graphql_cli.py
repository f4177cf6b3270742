"""``fastmcp-scopes graphql`` run as a real process: table, ``--json``, and failures on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from graphql_harness import GITHUB_SCHEMA, OPERATIONS, SCHEMAS

SUPERGRAPH = str(SCHEMAS / "supergraph.graphql")


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastmcp_scopes.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_table_lists_alternatives_and_the_fields_imposing_each_scope() -> None:
    result = run("graphql", SUPERGRAPH, str(OPERATIONS / "products.graphql"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "OPERATION            ALT  SCOPE           IMPOSED BY",
        "Catalogue (query)    -    (no scope)",
        "SetPrice (mutation)  1    products:write  Mutation.setPrice",
        "                          write           type Mutation",
        "                     2    admin           Mutation.setPrice",
        "                          write           type Mutation",
    ]


def test_table_marks_authenticated() -> None:
    result = run("graphql", SUPERGRAPH, str(OPERATIONS / "employees.graphql"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["Me", "(query)", "1", "employees:read", "type", "Employee"]
    assert lines[2].split() == ["(valid", "token)", "Query.me"]


def test_json_is_keyed_by_operation_name_across_a_directory() -> None:
    result = run("graphql", SUPERGRAPH, str(OPERATIONS), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["Me", "Payroll", "Catalogue", "SetPrice"]
    assert document["Catalogue"]["alternatives"] == [[]]
    assert document["Me"]["authenticated"] is True
    payroll = document["Payroll"]
    # The $filter variable's enum Level carries hr:levels, which the router does not enforce on input types.
    assert payroll["alternatives"] == [["employees:read", "hr:salary:read"], ["employees:read", "hr:admin"]]
    assert payroll["origins"] == {
        "employees:read": ["type Employee"],
        "hr:admin": ["Employee.salary"],
        "hr:salary:read": ["Employee.salary"],
    }


def test_invalid_operation_exits_non_zero_with_the_error_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.graphql"
    bad.write_text("query Bad {\n  employees { nope }\n}\n")
    result = run("graphql", SUPERGRAPH, str(bad), "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Cannot query field 'nope' on type 'Employee'" in result.stderr
    assert f"{bad}:2:15" in result.stderr


def test_duplicate_operation_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.graphql").write_text("query Same { version }")
    (tmp_path / "b.graphql").write_text("query Same { version }")
    result = run("graphql", SUPERGRAPH, str(tmp_path))
    assert result.returncode == 1
    assert "operation 'Same' is defined in both" in result.stderr


def test_missing_operations_path() -> None:
    result = run("graphql", SUPERGRAPH, "does-not-exist.graphql")
    assert result.returncode == 1
    assert "no such operation file or directory: does-not-exist.graphql" in result.stderr


def test_usage_error_exits_2() -> None:
    result = run("graphql", SUPERGRAPH)
    assert result.returncode == 2
    assert "OPERATIONS" in result.stderr


@pytest.mark.skipif(not GITHUB_SCHEMA.exists(), reason="GitHub schema not present")
def test_lenient_schema_warns_on_stderr_and_strict_fails(tmp_path: Path) -> None:
    operation = tmp_path / "viewer.graphql"
    operation.write_text("query Viewer { viewer { login } }")
    lenient = run("graphql", str(GITHUB_SCHEMA), str(operation), "--json")
    assert lenient.returncode == 0, lenient.stderr
    assert "fastmcp-scopes: warning:" in lenient.stderr
    assert json.loads(lenient.stdout)["Viewer"]["alternatives"] == [[]]
    strict = run("graphql", "--strict", str(GITHUB_SCHEMA), str(operation))
    assert strict.returncode == 1
    assert "does not pass strict validation" in strict.stderr


def test_introspection_json_needs_the_declaration_that_the_schema_has_no_scope_directives(tmp_path: Path) -> None:
    from graphql import build_schema, introspection_from_schema

    schema = tmp_path / "introspection.json"
    schema.write_text(json.dumps({"data": introspection_from_schema(build_schema("type Query { a: String }"))}))
    operation = tmp_path / "a.graphql"
    operation.write_text("query A { a }")

    refused = run("graphql", str(schema), str(operation), "--json")
    declared = run("graphql", "--no-scope-directives", str(schema), str(operation), "--json")

    assert refused.returncode == 1
    assert "carries no applied directives" in refused.stderr
    assert declared.returncode == 0, declared.stderr
    assert json.loads(declared.stdout)["A"]["alternatives"] == [[]]


def test_input_directives_are_counted_on_request() -> None:
    default = run("graphql", SUPERGRAPH, str(OPERATIONS / "employees.graphql"), "--json")
    opted_in = run("graphql", "--input-directives", SUPERGRAPH, str(OPERATIONS / "employees.graphql"), "--json")

    assert "hr:levels" not in json.loads(default.stdout)["Payroll"]["origins"]
    assert json.loads(opted_in.stdout)["Payroll"]["origins"]["hr:levels"] == ["enum Level"]
