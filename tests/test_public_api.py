"""The public surface: everything in ``__all__`` exists, and every exception is exported (STYLE 1)."""

from __future__ import annotations

import inspect

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
