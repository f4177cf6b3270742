"""The public surface: everything in ``__all__`` exists, and every exception is exported (STYLE 1)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import fastmcp_scopes
from fastmcp_scopes import errors


def test_every_exception_in_errors_is_exported() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__
    }

    assert defined  # the module still defines its exceptions here
    assert defined <= set(fastmcp_scopes.__all__), f"not exported: {sorted(defined - set(fastmcp_scopes.__all__))}"
    assert set(errors.__all__) == defined


def test_every_exception_descends_from_the_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ScopesError)


def test_every_public_name_resolves_and_is_listed_once() -> None:
    assert len(fastmcp_scopes.__all__) == len(set(fastmcp_scopes.__all__))
    for name in fastmcp_scopes.__all__:
        assert getattr(fastmcp_scopes, name) is not None


def test_every_public_name_has_a_docstring() -> None:
    undocumented = [n for n in fastmcp_scopes.__all__ if not inspect.getdoc(getattr(fastmcp_scopes, n))]

    assert undocumented == []


def test_configuration_errors_are_value_errors_and_token_errors_are_not() -> None:
    assert issubclass(errors.InvalidScopeError, ValueError)
    assert issubclass(errors.RequirementTooComplexError, errors.ConfigurationError)
    assert not issubclass(errors.InvalidTokenError, errors.ConfigurationError)
    assert not issubclass(errors.InsufficientScopeError, errors.ConfigurationError)


def _modules_added_by(statements: str) -> list[str]:
    """The modules ``statements`` load in a fresh interpreter beyond those ``import mcp`` loads: the SDK's own
    package imports uvicorn (its SSE transport), so uvicorn is only ours to keep out if mcp does not bring it."""
    probe = (
        "import sys, json, mcp\n"
        "before = set(sys.modules)\n"
        f"{statements}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    added: list[str] = json.loads(done.stdout)
    return added


def test_the_testing_helpers_load_no_authorization_server_until_one_is_used() -> None:
    added = _modules_added_by("import fastmcp_scopes.testing\nfrom fastmcp_scopes.testing import acting_as")

    assert "fastmcp_scopes.testing.client" in added  # the probe did import the helpers
    heavy = [m for m in added if m.split(".")[0] in ("uvicorn", "starlette") or m.startswith("fastmcp_scopes.testing.")]
    assert heavy == ["fastmcp_scopes.testing.client"]


def test_the_development_authorization_server_is_imported_when_named() -> None:
    added = _modules_added_by("from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer, SigningKey")

    assert {"fastmcp_scopes.testing.authserver", "fastmcp_scopes.testing.loopback"} <= set(added)


def test_every_testing_name_resolves() -> None:
    import fastmcp_scopes.testing as testing

    for name in testing.__all__:
        assert getattr(testing, name).__name__ == name
    assert set(testing.__all__) <= set(dir(testing))
