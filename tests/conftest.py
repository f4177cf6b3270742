"""Shared fixtures. Keep this small: fixtures for one area belong next to its tests."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import pytest

from fastmcp_scopes.settings import ENV_PREFIX


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults: ``FASTMCP_SCOPES_*`` variables of the shell running pytest
    must not change what a test sees. (Tests that read ``.env`` also ``chdir`` to a temporary directory.)"""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


# -- Lanes ------------------------------------------------------------------------------------------
# ``bash scripts/test`` runs the suite once per server lineage, each in its own virtual environment (a
# lane), and says which in SCOPES_TEST_LANE (deliberately not FASTMCP_SCOPES_*: that prefix is the
# library's own configuration, whose unknown names stop start-up). A test of one lineage is marked
# ``@pytest.mark.lineage("sdk1")``, or takes the contract suite's ``server_kind`` parameter, or imports
# that lineage's framework. In a lane, tests of another lineage are skipped with the reason, tests that
# need no lineage run, and the count of passed tests of the lane's own lineage goes to the file named
# by SCOPES_TEST_SUMMARY, for scripts/test to refuse a lane that proved nothing about its server.
# Without SCOPES_TEST_LANE (a developer's own environment), every lineage installed is exercised.

LINEAGES = ("sdk1", "sdk2", "fastmcp3", "fastmcp4")
"""mcp 1.x ``FastMCP``, mcp 2.x ``MCPServer``, fastmcp 3.x, fastmcp 4.x."""
LANE_VARIABLE = "SCOPES_TEST_LANE"
SUMMARY_VARIABLE = "SCOPES_TEST_SUMMARY"
_KIND_LINEAGE = {"mcpserver": "sdk2"}  # the contract suite's name for a lineage, where it differs


def _major(distribution: str) -> int | None:
    try:
        return int(importlib.metadata.version(distribution).split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


def _sdk_version() -> tuple[int, ...]:
    return tuple(int(part) for part in importlib.metadata.version("mcp").split(".")[:2] if part.isdigit())


def installed_lineages() -> frozenset[str]:
    """The lineages this environment can run: mcp's major, and fastmcp's if installed."""
    found = {f"sdk{_major('mcp')}"} & set(LINEAGES)
    if _major("fastmcp") in (3, 4):
        found.add(f"fastmcp{_major('fastmcp')}")
    return frozenset(found)


def lane_lineages() -> frozenset[str]:
    """The lineages this run exercises: the lane's one, or every installed one outside a lane."""
    lane = os.environ.get(LANE_VARIABLE)
    installed = installed_lineages()
    if not lane:
        return installed
    if lane not in LINEAGES:
        raise pytest.UsageError(f"{LANE_VARIABLE}={lane!r} names no lane; use one of {', '.join(LINEAGES)}")
    if lane not in installed:
        raise pytest.UsageError(
            f"{LANE_VARIABLE}={lane} but this environment has {', '.join(sorted(installed)) or 'no lineage'}: "
            f"run the lane's own environment with `bash scripts/test --lane {lane}`"
        )
    return frozenset({lane})


def lineage_of(item: pytest.Item) -> frozenset[str]:
    """The lineages a test belongs to (empty: it needs none)."""
    names: set[str] = set()
    for marker in item.iter_markers("lineage"):
        names.update(str(name) for name in marker.args)
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "server_kind" in callspec.params:
        kind = callspec.params["server_kind"]
        name = str(getattr(kind, "name", kind))
        names.add(_KIND_LINEAGE.get(name, name))
    return frozenset(names)


def _lane_description() -> str:
    lane = os.environ.get(LANE_VARIABLE)
    return f"lane {lane}" if lane else f"this environment ({', '.join(sorted(installed_lineages()))})"


class _LaneTally:
    """Counts outcomes, and passed tests of the lane's own lineages, for SCOPES_TEST_SUMMARY."""

    def __init__(self, lane: frozenset[str]) -> None:
        self.lane = lane
        self.own: set[str] = set()
        self.counts = {"lineage_passed": 0, "passed": 0, "failed": 0, "skipped": 0}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.own = {item.nodeid for item in session.items if lineage_of(item) & self.lane}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.counts["skipped"] += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.counts["failed" if report.failed else "skipped" if report.skipped else "passed"] += 1
            if report.when == "call" and report.passed and report.nodeid in self.own:
                self.counts["lineage_passed"] += 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = os.environ.get(SUMMARY_VARIABLE)
        if path:
            summary = {"lane": os.environ.get(LANE_VARIABLE), **self.counts}
            Path(path).write_text(json.dumps(summary) + "\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lineage(*names): a test of these server lineages (sdk1, sdk2, fastmcp3, ...)")
    lane = lane_lineages()
    config.stash[_LANE_KEY] = lane
    if _major("mcp") == 1 and _sdk_version() < (1, 30):
        # mcp 1.24-1.29 build FastMCP's settings before the model they name exists, and today's
        # pydantic-settings warns about it at every FastMCP(); 1.30 rebuilds the model. Not ours to fix.
        config.addinivalue_line("filterwarnings", "ignore:Field 'lifespan' has an incomplete definition")
    config.pluginmanager.register(_LaneTally(lane), "scopes-lane-tally")


_SUITE_LINEAGE = {
    "adapters/test_mcpserver.py": "sdk2",
    "adapters/test_per_call.py": "sdk2",
    "adapters/test_fastmcp.py": "fastmcp4",
    "graphql/test_graphql_operations.py": "sdk2",
    "graphql/test_graphql_cache.py::test_operation_tools_": "sdk2",  # operation tools are MCPServer tools
    "http/": "sdk2",
    "http/test_fastmcp_http.py": "fastmcp4",
    "interop/": "sdk2",
    "test_audit.py": "sdk2",
    "test_decided_once.py": "sdk2",
    "test_cli_server.py": "sdk2",  # runs the MCPServer example in a subprocess
    "test_demo.py": "sdk2",
    # The SDK's own OAuth clients against the development server: mcp 1.x's are httpx (not httpx2) auth flows.
    "test_authserver.py::test_sdk_": "sdk2",
}
"""The suites written for one lineage before the contract suite, by path under tests/ (a directory ends in
``/``; an entry with ``::`` is a prefix of test names in that file; the longest entry wins). Each runs in its
own lineage's lane only, not again in every lane whose environment happens to import it (the fastmcp4 lane
has mcp 2.x, so MCPServer, too)."""


def _suite_lineage(item: pytest.Item) -> str | None:
    relative = item.path.relative_to(Path(__file__).parent).as_posix()
    test = f"{relative}::{item.name}"
    matches = [
        key
        for key in _SUITE_LINEAGE
        if relative == key or (key.endswith("/") and relative.startswith(key)) or ("::" in key and test.startswith(key))
    ]
    return _SUITE_LINEAGE[max(matches, key=len)] if matches else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    lane = config.stash[_LANE_KEY]
    for item in items:
        suite = _suite_lineage(item) if item.path.is_relative_to(Path(__file__).parent) else None
        if suite is not None and not lineage_of(item):
            item.add_marker(pytest.mark.lineage(suite))
        wanted = lineage_of(item)
        if wanted and not wanted & lane:
            item.add_marker(
                pytest.mark.skip(reason=f"a test of {'/'.join(sorted(wanted))}, not run in {_lane_description()}")
            )


_LANE_KEY = pytest.StashKey[frozenset[str]]()


class _LaneModule(pytest.Module):
    """A test module that imports a framework this lane lacks is another lineage's: skip it, saying which
    import failed, instead of failing collection. (A lane whose own tests fail to import is caught by
    scripts/test: none of its lineage's tests pass.)"""

    def _getobj(self) -> Any:
        try:
            return super()._getobj()
        except pytest.Collector.CollectError as error:
            cause = error.__cause__
            missing = getattr(cause, "name", None) or ""
            if isinstance(cause, ImportError) and missing.split(".")[0] in ("mcp", "mcp_types", "fastmcp"):
                raise pytest.skip.Exception(
                    f"{self.nodeid} imports {missing} ({cause}), which {_lane_description()} lacks: "
                    "another lineage's test",
                    allow_module_level=True,
                ) from None
            raise


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.name == "__init__.py":
        return None  # let pytest build packages as usual
    return _LaneModule.from_parent(parent, path=module_path)


_MCP2_DIRECTORIES = ("http",)
"""Test directories whose conftest builds ``MCPServer`` servers and ``mcp.Client`` clients (mcp 2.x): a
conftest that cannot import stops the whole run, so in an mcp 1.x lane they are left out, and the run's
header says so."""


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.parent == Path(__file__).parent and collection_path.name in _MCP2_DIRECTORIES:
        return True if _major("mcp") != 2 else None
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"lineages: {', '.join(sorted(config.stash[_LANE_KEY]))} ({_lane_description()})"]
    if _major("mcp") != 2:
        lines.append(f"left out on mcp 1.x: {', '.join(f'tests/{name}/' for name in _MCP2_DIRECTORIES)}")
    return lines


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test of no lineage of this lane that imports, in its own body, a framework module this lane lacks
    (``mcp.server.mcpserver`` in an mcp 1.x lane, ``fastmcp`` where it is not installed) is another lineage's
    test, as at collection: skipped, with the import named. An import failing inside the package, any other
    error, and any test of the lane's own lineage fail as usual."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    error = call.excinfo.value if call.excinfo is not None else None
    missing = getattr(error, "name", None) or ""
    if (
        report.failed
        and isinstance(error, ModuleNotFoundError)
        and missing.split(".")[0] in _FRAMEWORKS
        and not lineage_of(item) & item.config.stash[_LANE_KEY]
        and _imported_by_the_test(call, item)
    ):
        report.outcome = "skipped"
        reason = f"{item.nodeid} imports {missing}, which {_lane_description()} lacks: another lineage's test"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {reason}")


_FRAMEWORKS = ("mcp", "mcp_types", "fastmcp")


def _imported_by_the_test(call: pytest.CallInfo[None], item: pytest.Item) -> bool:
    """Whether the failed import is the test's own (its file's frame), not the package's: a module of ours
    that imports another lineage's framework is a defect the test must report."""
    assert call.excinfo is not None
    frames = [entry for entry in call.excinfo.traceback if not str(entry.path).startswith("<frozen")]
    return bool(frames) and Path(str(frames[-1].path)) == item.path
