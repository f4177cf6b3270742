"""Every code sample of the documentation site (docs/) runs, and does what its page says.

A sample is marked by an HTML comment on the line before its fence (invisible on the site):

- ``<!-- test: run -->``: a Python sample needing no server lineage, run in every lane;
- ``<!-- test: run LINEAGE -->``: a Python sample of one lineage (sdk1, sdk2, fastmcp3, fastmcp4), run in its lane.

Runnable samples of one page and one lineage share a namespace, in page order, so a page can build a server in
one sample and use it in the next; top-level ``await`` is allowed, as in an async test. What a page says a
sample does is written in the sample as ``assert`` statements, so the page cannot claim what the code does not
do. A sample that defines ``test_*`` functions has them called too.

The quickstart's files (``<!-- test: file NAME [LINEAGE] -->``) are run as written by
tests/test_fresh_install.py, in a new virtual environment; here each must compile, and each server must stop
at start-up naming the settings the page says it needs. Every Python fence must carry a marker, and every
``fastmcp-scopes`` command and ``bash scripts/...`` of a shell block must exist. The configuration reference is
generated (docs/hooks/generated.py): every setting must be in it, with an example the settings model accepts.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import logging
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.settings import ENV_PREFIX, ScopesSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
LINEAGES = ("sdk1", "sdk2", "fastmcp3", "fastmcp4")

_MARKER = re.compile(r"^<!-- test: (?P<kind>[a-z]+)(?: (?P<arguments>[^>]*?))? -->$")
_FENCE = re.compile(r"^```(?P<language>[\w-]*)")
_SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')


@dataclass(frozen=True)
class Block:
    """A fenced block of a page, with the marker before it (if any)."""

    page: str
    line: int
    language: str
    code: str
    kind: str | None = None
    arguments: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def expanded(page: Path) -> list[str]:
    """The page's lines with ``--8<--`` snippet lines replaced by the snippet (as pymdownx.snippets does)."""
    lines: list[str] = []
    for line in page.read_text(encoding="utf-8").splitlines():
        included = _SNIPPET.match(line)
        lines += expanded(SNIPPETS / included.group("path")) if included else [line]
    return lines


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` (snippets included), in order."""
    name = page.relative_to(DOCS).as_posix()
    lines = expanded(page)
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        marker = _MARKER.match(lines[index - 1]) if index else None
        found.append(
            Block(
                page=name,
                line=index + 1,
                language=fence.group("language"),
                code="\n".join(lines[index + 1 : end]) + "\n",
                kind=marker.group("kind") if marker else None,
                arguments=tuple((marker.group("arguments") or "").split()) if marker else (),
            )
        )
        index = end + 1
    return found


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "snippets" not in p.relative_to(DOCS).parts)


def every_block() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


# -- runnable samples ----------------------------------------------------------------------------------


def _lineage(block: Block) -> str | None:
    named = [a for a in block.arguments if a in LINEAGES]
    return named[0] if named else None


def _groups() -> dict[tuple[str, str | None], list[Block]]:
    """The runnable samples of each page, per lineage: a lineage's group also holds the page's samples of no
    lineage, in page order (a server sample may use what a plain one defined); those also run on their own."""
    groups: dict[tuple[str, str | None], list[Block]] = {}
    for page in pages():
        runnable = [block for block in blocks(page) if block.kind == "run"]
        name = page.relative_to(DOCS).as_posix()
        for lineage in dict.fromkeys(_lineage(block) for block in runnable):
            groups[(name, lineage)] = [b for b in runnable if _lineage(b) in (None, lineage)]
    return groups


def _group_params() -> list[Any]:
    return [
        pytest.param(key, id=f"{key[0]}-{key[1] or 'any'}", marks=[pytest.mark.lineage(key[1])] if key[1] else [])
        for key in _groups()
    ]


@pytest.fixture
def _quiet_logging() -> Iterator[None]:
    """Samples may add logging handlers (``write_json_lines``); take them off again after the test."""
    loggers = [logging.getLogger(), logging.getLogger("fastmcp_scopes"), logging.getLogger("fastmcp_scopes.audit")]
    before = [(logger, list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, handlers, level, propagate in before:
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


async def run_sample(block: Block, namespace: dict[str, Any]) -> None:
    """Run one sample in ``namespace``, awaiting a top-level ``await``, then its ``test_*`` functions."""
    code = compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    before = dict(namespace)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result
    for name in sorted(namespace):
        if name.startswith("test_") and callable(namespace[name]) and before.get(name) is not namespace[name]:
            outcome = namespace[name]()
            if inspect.iscoroutine(outcome):
                await outcome


@pytest.mark.parametrize("group", _group_params())
async def test_sample_runs(
    group: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _quiet_logging: None
) -> None:
    monkeypatch.chdir(tmp_path)  # files a sample writes (audit logs) stay out of the checkout; no .env read
    namespace: dict[str, Any] = {"__name__": f"docs_{group[0].replace('/', '_').removesuffix('.md')}"}
    for block in _groups()[group]:
        try:
            await run_sample(block, namespace)
        except Exception as error:
            raise AssertionError(f"the sample at {block.where} failed: {error!r}") from error


# -- what every sample must satisfy ------------------------------------------------------------------------


def test_every_python_sample_is_marked() -> None:
    unmarked = [b.where for b in every_block() if b.language in ("python", "py") and b.kind is None]
    assert not unmarked, f"Python samples without a <!-- test: ... --> marker (run, or a quickstart file): {unmarked}"


def test_markers_name_known_kinds_and_lineages() -> None:
    kinds = {"run", "file", "install", "terminal", "output", "command"}
    for block in every_block():
        if block.kind is None:
            continue
        assert block.kind in kinds, f"{block.where}: unknown marker kind {block.kind!r}"
        if block.kind == "run":
            assert all(a in LINEAGES for a in block.arguments), f"{block.where}: {block.arguments}"


def test_there_are_samples_for_every_lineage() -> None:
    lineages = {lineage for (_, lineage) in _groups()}
    assert lineages >= {None, "sdk2"}
    installs = {b.arguments[0] for b in every_block() if b.kind == "install"}
    assert installs == set(LINEAGES), "a quickstart per lineage"


# -- shell blocks -------------------------------------------------------------------------------------------


def _commands(block: Block) -> Iterator[list[str]]:
    for line in block.code.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#") and not line.startswith("$"):
            yield shlex.split(line)


def _parser() -> Any:
    from fastmcp_scopes.cli import build_parser

    return build_parser()


def test_shell_commands_name_what_exists() -> None:
    """``bash FILE`` names a file of the repository; ``fastmcp-scopes COMMAND --flag`` names a real command and
    flag (``fastmcp-scopes --help`` lists them); ``python -m MODULE`` names a module that can be found."""
    import argparse

    parser = _parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    checked = 0
    for block in every_block():
        if block.language not in ("sh", "bash", "console"):
            continue
        for words in _commands(block):
            while words and re.match(r"^[A-Z_]+=", words[0]):
                words = words[1:]  # VARIABLE=value before the command
            if not words:
                continue
            if words[0] == "bash" and len(words) > 1:
                assert (ROOT / words[1]).is_file(), f"{block.where}: no file {words[1]}"
                checked += 1
            elif words[0] == "fastmcp-scopes" and len(words) > 1 and not words[1].startswith("-"):
                assert words[1] in subcommands, f"{block.where}: no command fastmcp-scopes {words[1]}"
                known = {o for a in subcommands[words[1]]._actions for o in a.option_strings}
                for flag in (w.split("=", 1)[0] for w in words[2:] if w.startswith("--")):
                    assert flag in known, f"{block.where}: fastmcp-scopes {words[1]} has no {flag}"
                checked += 1
            elif words[:2] == ["python", "-m"] or words[1:3] == ["python", "-m"]:
                module = words[words.index("-m") + 1]
                assert importlib.util.find_spec(module.split(".")[0]) is not None, f"{block.where}: no {module}"
                checked += 1
    assert checked, "the pages show commands; none was found"


# -- the quickstart's files -----------------------------------------------------------------------------------


def quickstart_files() -> list[Block]:
    return [b for b in every_block() if b.kind == "file"]


def test_quickstart_files_compile() -> None:
    files = quickstart_files()
    assert {b.arguments[0] for b in files} == {"server.py", "dev_auth.py", "check.py"}
    for block in files:
        compile(block.code, block.where, "exec")


@pytest.mark.parametrize("lineage", [pytest.param(lineage, marks=pytest.mark.lineage(lineage)) for lineage in LINEAGES])
def test_quickstart_server_names_the_settings_it_needs(
    lineage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page says: started without settings, ``python server.py`` stops and names the three it needs."""
    monkeypatch.chdir(tmp_path)
    (server,) = [b for b in quickstart_files() if b.arguments == ("server.py", lineage)]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with pytest.raises(ConfigurationError) as raised:
        exec(compile(server.code, server.where, "exec"), namespace)
    for name in ("ISSUER", "JWKS_URI", "RESOURCE_URL"):
        assert f"{ENV_PREFIX}{name}" in str(raised.value)
    assert "serving over HTTP needs 3 more settings" in str(raised.value)


# -- generated pages ------------------------------------------------------------------------------------------


def generated() -> ModuleType:
    """docs/hooks/generated.py, the hook MkDocs runs, imported as a module."""
    spec = importlib.util.spec_from_file_location("docs_generated", DOCS / "hooks" / "generated.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("docs_generated", module)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_has_every_setting() -> None:
    hook = generated()
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert "<!-- generated: settings -->" in page
    reference = hook.expand(page, page="configuration.md")
    docs = hook.setting_docs()
    for name in ScopesSettings.model_fields:
        variable = f"{ENV_PREFIX}{name.upper()}"
        assert f"### `{name}`" in reference, name
        assert f"`{variable}`" in reference, name
        assert docs[name][1], f"settings.py gives {name} no docstring, so its reference entry says nothing"
        assert hook.example_for(name, ScopesSettings.model_fields[name]) is not None, (
            f"no example for {name}: add one to EXAMPLES in docs/hooks/generated.py"
        )


@pytest.mark.parametrize("name", list(ScopesSettings.model_fields))
def test_each_example_is_accepted_as_its_variable(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The reference shows ``FASTMCP_SCOPES_X='example'``: the settings model takes it, and the value changes."""
    monkeypatch.chdir(tmp_path)
    field_ = ScopesSettings.model_fields[name]
    example = generated().example_for(name, field_)
    assert example is not None
    monkeypatch.setenv(f"{ENV_PREFIX}{name.upper()}", example)
    settings = load_settings()
    assert getattr(settings, name) != field_.get_default(call_default_factory=True)


def test_the_cli_page_is_the_parsers_help() -> None:
    hook = generated()
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert "<!-- generated: cli -->" in page
    text = hook.expand(page, page="cli.md")
    parser = _parser()
    assert "$ fastmcp-scopes --help" in text
    for line in parser.format_help().splitlines():
        if line.strip().startswith(("graphql", "server", "audit")):
            assert line.strip().split()[0] in text


def test_readme_sections_the_site_includes_exist() -> None:
    """A page that includes a README section shows it; a section that does not exist is a broken promise."""
    hook = generated()
    for page in pages():
        for title in re.findall(r'<!-- generated: readme "([^"]+)" -->', page.read_text(encoding="utf-8")):
            assert hook.readme_section(title, depth=2), f"{page.name} includes README section {title!r}, absent"
