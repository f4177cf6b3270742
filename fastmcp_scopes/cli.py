"""``fastmcp-scopes``: inspect what scopes things need, from the command line (also ``python -m fastmcp_scopes``).

Subcommands:

- ``graphql SCHEMA OPERATIONS...``: for each operation in the given ``.graphql`` files (or directories of
  them), the alternatives of its requirement and the schema elements that impose each scope, as a table,
  or with ``--json`` as one object keyed by operation name.

- ``server MODULE:ATTRIBUTE`` (or ``FILE.py:ATTRIBUTE``): for each tool, prompt and resource of a server of any
  supported lineage (the MCP SDK's ``FastMCP`` and ``MCPServer``, fastmcp 3.x and 4.x), each alternative of its
  own requirement and what a call needs through that alternative with the layered scopes (settings from
  ``FASTMCP_SCOPES_*``). The module is imported, never run: one that starts its server at import is refused
  with an explanation (:mod:`fastmcp_scopes.target`).

- ``audit FILE``: read a JSON-lines audit log (``-`` for standard input) and print denials and step-ups per
  primitive and per caller, the scopes most often missing, and calls that failed after they were allowed;
  ``--json`` for one object, ``--top N`` to list more or fewer rows.

``--version`` prints the installed version.

Exit status: 0 on success; 1 when the schema or an operation cannot yield a requirement (or there is no
operation), a server's settings or declarations cannot be resolved, or an audit log cannot be read or holds no
audit event (the error goes to stderr), and when standard output is closed early (``| head``: Python's own
status for a broken pipe, without its traceback); 2 for usage errors: arguments, and a server target that is
not ``MODULE:ATTRIBUTE``, does not import, runs its server when imported, or is not a server; 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement
from fastmcp_scopes.target import TargetError, load_target

__all__ = ["build_parser", "main"]

_Command = Callable[[argparse.Namespace, TextIO, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per subcommand, each setting ``command`` to its handler."""
    parser = argparse.ArgumentParser(prog="fastmcp-scopes", description="Per-tool OAuth scopes for MCP servers.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subcommands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)

    graphql = subcommands.add_parser(
        "graphql",
        help="print the scopes each GraphQL operation needs",
        description="Derive each operation's scope requirement from the schema's @requiresScopes directives.",
    )
    graphql.add_argument("schema", metavar="SCHEMA", help="SDL file, introspection JSON file, or http(s) URL")
    graphql.add_argument(
        "operations", metavar="OPERATIONS", nargs="+", help=".graphql files, or directories searched for them"
    )
    graphql.add_argument("--json", action="store_true", help="print one JSON object keyed by operation name")
    graphql.add_argument(
        "--strict", action="store_true", help="refuse a schema that fails graphql-core's strict validation"
    )
    graphql.add_argument(
        "--no-scope-directives",
        action="store_true",
        help="the schema has no scope directives: load an introspection result (which cannot carry them)",
    )
    graphql.add_argument(
        "--input-directives",
        action="store_true",
        help="count scope directives on argument and input types too (Apollo Router does not enforce them)",
    )
    graphql.add_argument(
        "--max-alternatives",
        type=_at_least_one,
        default=DEFAULT_MAX_ALTERNATIVES,
        metavar="N",
        help=f"fail when a requirement has more than N alternatives (default {DEFAULT_MAX_ALTERNATIVES})",
    )
    graphql.set_defaults(command=_graphql)

    server = subcommands.add_parser(
        "server",
        help="print the scopes each tool, prompt and resource of a server needs",
        description="Import a server (MCP SDK FastMCP or MCPServer, fastmcp 3.x or 4.x) without running it and "
        "print its scope table (settings from FASTMCP_SCOPES_*).",
    )
    server.add_argument(
        "target", metavar="MODULE:ATTRIBUTE", help="where the server is: app.server:mcp, or path/to/server.py:mcp"
    )
    server.add_argument("--json", action="store_true", help="print one JSON object keyed by kind and name")
    server.set_defaults(command=_server)

    audit = subcommands.add_parser(
        "audit",
        help="summarise a JSON-lines audit log",
        description="Denials and step-ups per primitive and per caller, the scopes most often missing, and "
        "calls that failed after they were allowed, from a log written by fastmcp_scopes.audit.write_json_lines.",
    )
    audit.add_argument("file", metavar="FILE", help="the JSON-lines audit log, or - for standard input")
    audit.add_argument("--json", action="store_true", help="print one JSON object")
    audit.add_argument("--top", type=_at_least_one, default=10, metavar="N", help="rows listed per table (default 10)")
    audit.set_defaults(command=_audit)
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    arguments = build_parser().parse_args(argv)
    command: _Command = arguments.command
    try:
        status = command(arguments, out, err)
        out.flush()  # a closed pipe shows here, inside the handler, not at exit
        return status
    except BrokenPipeError:
        # The reader (``| head``) has what it wanted. As the signal module's documentation advises: the rest of
        # the output goes nowhere, so that the interpreter's final flush cannot fail again, and exit 1 quietly.
        _discard_stdout(out)
        return 1
    except KeyboardInterrupt:
        return 130
    except TargetError as error:
        print(f"fastmcp-scopes {arguments.subcommand}: error: {error}", file=err)
        return 2
    except ConfigurationError as error:
        print(f"fastmcp-scopes: error: {error}", file=err)
        return 1


def _at_least_one(text: str) -> int:
    # An argparse type: its ArgumentTypeError is a usage error, exit status 2, like any other bad argument.
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _version() -> str:
    try:
        return version("fastmcp-scopes")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _discard_stdout(out: TextIO) -> None:
    try:
        descriptor = out.fileno()
    except (OSError, ValueError):
        return  # not a file (a test's buffer): nothing will flush it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def _graphql(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here so that other subcommands do not pay for graphql-core.
    from fastmcp_scopes.graphql import OperationAnalysis, load_schema, read_operation_files

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = load_schema(
            arguments.schema,
            strict=arguments.strict,
            no_scope_directives=arguments.no_scope_directives,
            input_directives=arguments.input_directives,
        )
    for warning in caught:
        print(f"fastmcp-scopes: warning: {warning.message}", file=err)

    results: dict[str, tuple[Path, OperationAnalysis]] = {}
    for path, text in read_operation_files(*arguments.operations):
        for analysis in schema.operations(text, cap=arguments.max_alternatives, source_name=str(path)):
            key = analysis.name if analysis.name is not None else f"(anonymous) {path}"
            if key in results:
                raise ConfigurationError(f"operation {key!r} is defined in both {results[key][0]} and {path}")
            results[key] = (path, analysis)
    if not results:
        # An empty table would read as "nothing needs a scope".
        raise ConfigurationError(f"no GraphQL operation in {', '.join(arguments.operations)}")

    if arguments.json:
        document: dict[str, Any] = {key: {"file": str(path), **a.to_json()} for key, (path, a) in results.items()}
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        out.write(_table(results))
    return 0


def _server(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from fastmcp_scopes.pipeline import Pipeline
    from fastmcp_scopes.policy import ScopeGuard, adapter_for

    server = load_target(arguments.target, _guardable)
    guard = ScopeGuard()
    registry = adapter_for(server).registry(server)
    pipeline = Pipeline(guard, registry)
    refused = guard.settings.undeclared == "deny"
    cap = guard.settings.max_alternatives
    json_rows: dict[str, dict[str, Any]] = {}
    lines: list[tuple[str, str, str, str]] = []
    for primitive in registry.primitives():
        key, own = f"{primitive.kind}:{primitive.key}", pipeline.requirement(primitive)
        layers = guard.layer_requirement(_CALL_METHODS[primitive.kind])
        call = layers if own is None else layers.combine(own, cap=cap)
        json_rows[key] = {
            "declared": own is not None,
            "own": own.to_json() if own is not None else None,
            "call": None if own is None and refused else call.to_json(),
        }
        # One row per alternative of the primitive's own, beside what a call needs through that alternative:
        # the layers ANDed with it alone. The minimal ``call`` of the JSON can have fewer alternatives, in
        # another order, so its n-th alternative is not the n-th own one's.
        for number, alternative in enumerate(own.alternatives if own is not None else (None,), start=1):
            if alternative is None:
                shown, needs = "(undeclared)", ["(refused: FASTMCP_SCOPES_UNDECLARED=deny)"] if refused else None
            else:
                shown, needs = _scopes(alternative), None
            if needs is None:
                through = layers if alternative is None else layers.combine(Requirement((alternative,)), cap=cap)
                needs = [_scopes(a) for a in through.alternatives]
            for index, need in enumerate(needs):
                first = index == 0
                lines.append(
                    (key if first and number == 1 else "", str(number) if first else "", shown if first else "", need)
                )
    if arguments.json:
        json.dump(json_rows, out, indent=2)
        out.write("\n")
        return 0
    out.write(_columns(("PRIMITIVE", "ALT", "OWN SCOPES", "A CALL NEEDS"), lines))
    return 0


_CALL_METHODS = {"tools": "tools/call", "prompts": "prompts/get", "resources": "resources/read"}


def _scopes(alternative: frozenset[str]) -> str:
    return " ".join(sorted(alternative)) or "(no scope)"


def _guardable(value: object) -> bool:
    from fastmcp_scopes.policy import adapter_for

    try:
        adapter_for(value)
    except TypeError:
        return False
    return True


def _audit(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from fastmcp_scopes.audit_report import summarise

    try:
        if arguments.file == "-":
            summary = summarise(sys.stdin)
        else:
            with open(arguments.file, encoding="utf-8", errors="replace") as lines:
                summary = summarise(lines)
    except OSError as error:
        raise ConfigurationError(f"cannot read the audit log {arguments.file!r}: {error.strerror}") from None
    if summary.decisions + summary.completions == 0:
        # An empty summary would read as "nothing was refused": say instead that this is not an audit log.
        raise ConfigurationError(
            f"no audit event in {arguments.file!r} ({summary.lines} lines); "
            "write one with fastmcp_scopes.audit.write_json_lines(FILE)"
        )
    if arguments.json:
        json.dump(summary.to_json(arguments.top), out, indent=2)
        out.write("\n")
        return 0
    report = summary.to_json(arguments.top)
    out.write(
        f"{summary.decisions} decisions, {summary.completions} completions"
        + (f", {summary.skipped} lines skipped (not audit events)" if summary.skipped else "")
        + "\n\n"
    )
    for title, key in (("PRIMITIVE", "primitives"), ("CALLER", "callers")):
        rows = [
            (_printable(name), str(t["denied"]), str(t["step_ups"]), _counts(t["denials_by_outcome"]))
            for name, t in report[key].items()
            if t["denied"]
        ]
        out.write(_columns((title, "DENIED", "STEP-UPS", "OUTCOMES"), rows or [("(none)", "0", "0", "")]) + "\n")
    missing = [(_printable(scope), str(count), "", "") for scope, count in report["missing_scopes"].items()]
    out.write(_columns(("MISSING SCOPE", "TIMES", "", ""), missing or [("(none)", "0", "", "")]) + "\n")
    failed = [
        (_printable(name), str(t["allowed"]), str(t["failed_after_allow"]), _counts(t["errors"]))
        for name, t in report["primitives"].items()
        if t["failed_after_allow"]
    ]
    out.write(
        _columns(("ERRORS AFTER ALLOW", "ALLOWED", "FAILED", "STATUS OR ERROR"), failed or [("(none)", "", "0", "")])
    )
    return 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{_printable(name)} {count}" for name, count in counts.items())


def _printable(text: str) -> str:
    # Names in a log come from callers: escape control characters so that none can rewrite the terminal.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _table(results: dict[str, tuple[Path, Any]]) -> str:
    header = ("OPERATION", "ALT", "SCOPE", "IMPOSED BY")
    rows: list[tuple[str, str, str, str]] = []
    for key, (_path, analysis) in results.items():
        first = True
        label = f"{key} ({analysis.kind})"
        if analysis.requirement.is_empty:
            rows.append((label, "-", "(no scope)", ""))
            first = False
        else:
            for number, alternative in enumerate(analysis.requirement.alternatives, start=1):
                for index, scope in enumerate(sorted(alternative)):
                    rows.append(
                        (
                            label if first else "",
                            str(number) if index == 0 else "",
                            scope,
                            ", ".join(analysis.origins.get(scope, ())),
                        )
                    )
                    first = False
        if analysis.authenticated:
            rows.append(("", "", "(valid token)", ", ".join(analysis.authenticated_by)))
    return _columns(header, rows)


def _columns(header: tuple[str, str, str, str], rows: list[tuple[str, str, str, str]]) -> str:
    # The first three columns are padded to their widest cell; the last, free text, is not.
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
