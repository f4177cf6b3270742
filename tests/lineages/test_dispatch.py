"""``ScopeGuard.install`` finds its adapter through entry points, loading each to ask whether it accepts the
server: an adapter whose lineage is not installed must fail to import with ``ImportError`` (and so be passed
over), never anything else, in every lane."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from fastmcp_scopes.policy import ADAPTERS_GROUP

ADAPTERS = sorted(entry_points(group=ADAPTERS_GROUP), key=lambda entry: entry.name)


def test_every_lineage_has_an_adapter_registered() -> None:
    assert {entry.name for entry in ADAPTERS} >= {"sdk1", "mcpserver", "fastmcp3", "fastmcp"}


@pytest.mark.parametrize("entry", ADAPTERS, ids=[entry.name for entry in ADAPTERS])
def test_an_adapter_loads_or_says_its_framework_is_missing(entry: object) -> None:
    try:
        adapter = entry.load()  # type: ignore[attr-defined]
    except ImportError:
        return
    assert callable(adapter.accepts) and callable(adapter.install) and adapter.DESCRIPTION
