"""Shared fixtures. Keep this small: fixtures for one area belong next to its tests."""

from __future__ import annotations

import os

import pytest

from fastmcp_scopes.settings import ENV_PREFIX


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults: ``FASTMCP_SCOPES_*`` variables of the shell running pytest
    must not change what a test sees. (Tests that read ``.env`` also ``chdir`` to a temporary directory.)"""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
