"""MkDocs hook: the parts of the documentation that are generated from the code at build time.

A page asks for one with an HTML comment on a line of its own:

- ``<!-- generated: settings -->``: the configuration reference, from :class:`fastmcp_scopes.ScopesSettings`
  (every field: its ``FASTMCP_SCOPES_*`` variable, type, default, description and an example);
- ``<!-- generated: cli -->``: ``fastmcp-scopes --help`` and each subcommand's help, from the CLI's parser;
- ``<!-- generated: readme "Section title" -->``: that section of README.md, where it is written once.

Generated, not copied, so that none of them can drift from what the package does; tests/test_docs.py imports
this module to check that every setting appears with an example that the settings model accepts.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import json
import os
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_SOURCE = ROOT / "fastmcp_scopes" / "settings.py"
README = ROOT / "README.md"
SOURCE_URL = "https://github.com/fastmcp-scopes/fastmcp-scopes/blob/main/README.md"

_MARKER = re.compile(r"^<!-- generated: (?P<what>[a-z]+)(?: \"(?P<argument>[^\"]+)\")? -->$", re.MULTILINE)

EXAMPLES: dict[str, str] = {
    "issuer": "https://auth.example.com",
    "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
    "audience": "api://mcp-docs",
    "resource_url": "https://mcp.example.com/mcp",
    "authorization_servers": "https://auth.example.com",
    "scopes_supported": "mcp:connect docs:read",
    "algorithms": "RS256,ES256",
    "leeway": "10",
    "require_typ": "true",
    "require_identity_claims": "false",
    "introspection_url": "https://auth.example.com/oauth2/introspect",
    "introspection_client_id": "mcp-docs",
    "introspection_client_secret": "s3cret",
    "introspection_cache_max_age": "30",
    "token_cache_size": "0",
    "claim_scopes": '{"realm_access.roles": {"research-agent": ["docs:read"]}}',
    "max_body_bytes": "1048576",
    "connect_scopes": "mcp:connect",
    "list_scopes": '{"tools": ["mcp:tools:read"]}',
    "call_scopes": "mcp:tools:call",
    "tool_scopes": '{"delete_doc": [["docs:admin"], ["admin"]]}',
    "method_scopes": '{"tasks/get": ["tasks:read"]}',
    "public_tools": "get_status,list_docs",
    "public_prompts": "welcome",
    "public_resources": '["docs://readme"]',
    "policy_hook": "myapp.policy:deny_after_hours",
    "cedar_policies": "policies.cedar",
    "policy_hook_timeout": "2",
    "policy_cache_seconds": "30",
    "policy_cache_size": "4096",
    "hierarchy": '{"docs:write": ["docs:read"], "admin": ["*"]}',
    "wildcard_scopes": "docs:*",
    "max_alternatives": "16",
    "hide_unauthorized": "false",
    "hidden_calls": "not_found",
    "undeclared": "deny",
    "scope_challenge_include_token_scopes": "true",
    "stdio_scopes": "docs:read",
    "audit": "false",
    "audit_argument_values": "true",
    "audit_redact_keys": '["(?i:ssn)", "(?i:password)"]',
    "audit_redact_values": r"\b\d{3}-\d{2}-\d{4}\b",
    "graphql_schema": "schema.graphql",
    "graphql_strict": "true",
    "graphql_no_scope_directives": "true",
    "graphql_input_directives": "true",
    "graphql_max_query_bytes": "8192",
    "graphql_max_query_tokens": "1000",
    "graphql_max_query_depth": "8",
}
"""An example value per setting, as its ``FASTMCP_SCOPES_*`` variable would hold it. tests/test_docs.py loads
each through the settings model; a setting without one here gets one derived from its type, when it can."""


# -- the configuration reference ---------------------------------------------------------------------


def setting_docs() -> dict[str, tuple[str, str]]:
    """Each field of ``ScopesSettings``: ``(section, docstring)``, read from the source (the attribute
    docstrings under each field, and the ``# -- section ----`` comments above groups of fields)."""
    source = SETTINGS_SOURCE.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ScopesSettings")
    found: dict[str, tuple[str, str]] = {}
    body = cls.body
    for index, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        if name == "model_config":
            continue
        following = body[index + 1] if index + 1 < len(body) else None
        doc = ""
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            doc = inspect.cleandoc(following.value.value)
        section = ""
        for line in reversed(lines[: node.lineno - 1]):
            heading = re.match(r"\s*# -- (.+?) -+\s*$", line)
            if heading:
                section = heading.group(1)
                break
        found[name] = (section, doc)
    return found


def _markdown(docstring: str) -> str:
    """reST inline markup of the docstrings, as Markdown."""
    text = re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?([\w]+)`", r"`\1`", docstring)
    text = text.replace("``", "`")
    return " ".join(text.split())


def _type_text(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(arguments[0])
    if origin in (types.UnionType, typing.Union):
        kept = [a for a in arguments if a is not type(None)]
        return " or ".join(_type_text(a) for a in kept)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in arguments)
    if origin is list:
        return "list (JSON, or comma/space separated)"
    if origin is dict:
        return "JSON object"
    if annotation is bool:
        return "boolean (`true`/`false`)"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is SecretStr:
        return "secret string (never shown in `repr`)"
    if annotation is str:
        return "string"
    return str(getattr(annotation, "__name__", annotation))


def _bounds(field: FieldInfo) -> str:
    words = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found = []
    for constraint in field.metadata:
        for attribute, sign in words.items():
            value = getattr(constraint, attribute, None)
            if value is not None:
                found.append(f"{sign} {value:,}" if isinstance(value, int) else f"{sign} {value}")
    return ", ".join(found)


def _default_text(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)):
        if not value:
            return "empty"
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def example_for(name: str, field: FieldInfo) -> str | None:
    """The example value of a setting: :data:`EXAMPLES`, or one derived from its type and default."""
    if name in EXAMPLES:
        return EXAMPLES[name]
    annotation = field.annotation
    default = field.get_default(call_default_factory=True)
    if annotation is bool:
        return "false" if default else "true"
    if typing.get_origin(annotation) is Literal:
        other = [str(a) for a in typing.get_args(annotation) if a != default]
        return other[0] if other else None
    if annotation is int and isinstance(default, int):
        return str(default // 2 if default > 1 else default + 1)
    if annotation is float and isinstance(default, float):
        return str(default / 2 if default > 0 else 1.0)
    return None


def settings_reference() -> str:
    """The configuration reference, in Markdown: one entry per field of ``ScopesSettings``, grouped."""
    from fastmcp_scopes.settings import ENV_PREFIX, ScopesSettings

    docs = setting_docs()
    out: list[str] = []
    section = None
    for name, field in ScopesSettings.model_fields.items():
        where, doc = docs.get(name, ("other", ""))
        if where != section:
            section = where
            out.append(f"## {where[:1].upper()}{where[1:]}\n")
        variable = f"{ENV_PREFIX}{name.upper()}"
        bounds = _bounds(field)
        facts = [
            f"`{variable}`",
            f"keyword `{name}=`",
            _type_text(field.annotation) + (f" ({bounds})" if bounds else ""),
        ]
        facts.append(f"default: {_default_text(field)}")
        out.append(f"### `{name}` {{ #{name} }}\n")
        out.append(" · ".join(facts) + "\n")
        if doc:
            out.append(_markdown(doc) + "\n")
        example = example_for(name, field)
        if example is not None:
            out.append(f"```sh\n{variable}='{example}'\n```\n")
    return "\n".join(out)


# -- the command line ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)  # argparse wraps help to the terminal; the page has a fixed width
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def cli_reference() -> str:
    """``fastmcp-scopes --help`` and ``fastmcp-scopes COMMAND --help``, from the CLI's own parser."""
    from fastmcp_scopes.cli import build_parser

    with _columns(100):
        parser = build_parser()
        parser.prog = "fastmcp-scopes"
        out = ["```text", "$ fastmcp-scopes --help", parser.format_help().rstrip(), "```", ""]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command, subparser in action.choices.items():
                    out += [
                        f"### `fastmcp-scopes {command}`",
                        "",
                        "```text",
                        f"$ fastmcp-scopes {command} --help",
                        subparser.format_help().rstrip(),
                        "```",
                        "",
                    ]
    return "\n".join(out)


# -- sections of the README ---------------------------------------------------------------------------

README_ANCHORS: dict[str, str] = {
    "serving-over-http": "quickstart/index.md",
    "configuration": "configuration.md",
    "identities": "authorization-servers.md#identities",
    "authorization-servers": "authorization-servers.md",
    "audit-and-telemetry": "deployment.md#audit-events",
    "graphql": "graphql.md",
    "testing-your-own-server": "testing.md",
}
"""README anchors that have a page of their own on the site; other anchors link to the README itself."""


def readme_section(title: str, *, depth: int, page: str = "") -> str | None:
    """The body of README.md's section ``title`` (up to the next heading of its level or above), its own
    sub-headings moved to start at ``depth``; ``None`` if the README has no such section."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = level = None
    for index, line in enumerate(lines):
        heading = re.match(r"(#+) (.+)$", line)
        if heading and heading.group(2).strip() == title:
            start, level = index + 1, len(heading.group(1))
            break
    if start is None or level is None:
        return None
    body: list[str] = []
    fenced = False
    for line in lines[start:]:
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"(#+) ", line)
        if heading and len(heading.group(1)) <= level:
            break
        if heading:
            line = "#" * (depth + len(heading.group(1)) - level - 1) + line[len(heading.group(1)) :]
        body.append(line)
    text = "\n".join(body).strip("\n")
    up = "../" * page.count("/")

    def link(match: re.Match[str]) -> str:
        anchor = match.group(1)
        target = README_ANCHORS.get(anchor)
        return f"]({up}{target})" if target else f"]({SOURCE_URL}#{anchor})"

    return re.sub(r"\]\(#([\w-]+)\)", link, text)


# -- the hook -----------------------------------------------------------------------------------------


def generate(what: str, argument: str | None, *, page: str = "", depth: int = 3) -> str:
    """The Markdown a marker stands for. Raises ``ValueError`` for a marker this hook does not know."""
    if what == "settings":
        return settings_reference()
    if what == "cli":
        return cli_reference()
    if what == "readme" and argument:
        section = readme_section(argument, depth=depth, page=page)
        return section if section is not None else ""
    raise ValueError(f"unknown generated part {what!r}")


def expand(markdown: str, *, page: str = "") -> str:
    """``markdown`` with every marker replaced by what it stands for."""

    def replace(match: re.Match[str]) -> str:
        before = markdown[: match.start()]
        headings = re.findall(r"^(#+) ", before, flags=re.MULTILINE)
        depth = len(headings[-1]) + 1 if headings else 2
        return generate(match.group("what"), match.group("argument"), page=page, depth=depth)

    return _MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """MkDocs' hook: fill in the generated parts of each page."""
    return expand(markdown, page=page.file.src_uri)
