"""The ``fastmcp-scopes`` command line as a whole: its version, ``python -m fastmcp_scopes``, a reader that stops
early, and user errors (a sentence and exit status 2, never a traceback). Needs no server lineage."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from tests.command_line import ROOT
from tests.command_line import run_cli as run

SCHEMA = ROOT / "examples" / "employees" / "schema.graphql"
OPERATIONS = ROOT / "examples" / "employees" / "operations"


def test_version_is_the_installed_distributions() -> None:
    done = run("--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"fastmcp-scopes {importlib.metadata.version('fastmcp-scopes')}\n"


def test_python_dash_m_fastmcp_scopes_is_the_command_line() -> None:
    as_package = run("graphql", str(SCHEMA), str(OPERATIONS), "--json")
    as_module = run("graphql", str(SCHEMA), str(OPERATIONS), "--json", module="fastmcp_scopes.cli")

    assert as_package.returncode == 0, as_package.stderr
    assert as_package.stdout == as_module.stdout
    assert '"UpdateEmployeeMood"' in as_package.stdout


@pytest.mark.parametrize("command", [["graphql", str(SCHEMA), str(OPERATIONS), "--json"], ["--help"]])
def test_a_reader_that_stops_early_gets_no_traceback(command: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fastmcp_scopes", *command],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head -0` would: every write the command makes meets a closed pipe
    errors = process.stderr.read().decode()
    process.stderr.close()

    assert process.wait(timeout=60) in (0, 1)
    assert errors == ""


NOT_A_SERVER = "answer = 42\n"
USER_ERRORS = {
    "no colon": (["server", "app"], "expected MODULE:ATTRIBUTE or FILE.py:ATTRIBUTE, got 'app'"),
    "no such module": (["server", "no_such_module:mcp"], "no module named 'no_such_module'"),
    "no such file": (["server", "missing.py:mcp"], "no such file: missing.py"),
    "no such attribute": (["server", "app:mcp"], "app has no attribute 'mcp'"),
    "not a server": (["server", "app:answer"], "app:answer is a builtins.int, not a server fastmcp-scopes can guard"),
    "raises at import": (["server", "broken:mcp"], "importing broken failed: ZeroDivisionError: division by zero ("),
    "syntax error": (["server", "syntax.py:mcp"], "importing syntax.py failed: SyntaxError: "),
    "exits at import": (["server", "exits:mcp"], "importing exits exited (status 3) instead of defining a server"),
    "imports what is missing": (["server", "needs:mcp"], "importing needs failed: ModuleNotFoundError: "),
    "unknown subcommand": (["serve", "app:mcp"], "invalid choice: 'serve'"),
    "no subcommand": ([], "the following arguments are required: COMMAND"),
    "bad number": (["audit", "--top", "x", "-"], "argument --top: invalid int value: 'x'"),
    "no rows": (["audit", "--top", "0", "-"], "argument --top: must be at least 1, got 0"),
    "no alternative": (
        ["graphql", "--max-alternatives", "0", str(SCHEMA), str(OPERATIONS)],
        "argument --max-alternatives: must be at least 1, got 0",
    ),
}


@pytest.mark.parametrize("case", USER_ERRORS)
def test_user_errors_are_a_sentence_and_status_2(tmp_path: Path, case: str) -> None:
    (tmp_path / "app.py").write_text(NOT_A_SERVER)
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    (tmp_path / "syntax.py").write_text("def (:\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "needs.py").write_text("import no_such_dependency\n")
    arguments, message = USER_ERRORS[case]

    done = run(*arguments, cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_operations_that_hold_no_operation_are_an_error_not_an_empty_table(tmp_path: Path) -> None:
    done = run("graphql", str(SCHEMA), str(tmp_path))

    assert done.returncode == 1
    assert done.stderr == f"fastmcp-scopes: error: no GraphQL operation in {tmp_path}\n"
    assert done.stdout == ""
