"""Helpers for testing servers that use fastmcp-scopes: callers with given scopes, and (in
:mod:`fastmcp_scopes.testing.authserver`) a development authorization server, with its signing keys
(:mod:`~fastmcp_scopes.testing.keys`) and loopback HTTP server (:mod:`~fastmcp_scopes.testing.loopback`).

The in-process callers are imported with this package; the development authorization server and its parts
only when a test first names them (PEP 562), so that a test suite using :func:`acting_as` alone does not
load uvicorn, Starlette's routing or an authorization server it never starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fastmcp_scopes.testing.client import (
    HeadlessBrowser,
    MemoryTokenStorage,
    acting_as,
    scoped_client,
    scoped_fastmcp_client,
)

if TYPE_CHECKING:
    from fastmcp_scopes.testing.authserver import DevAuthorizationServer, DevClient
    from fastmcp_scopes.testing.keys import SigningKey
    from fastmcp_scopes.testing.loopback import LoopbackServer

__all__ = [
    # in-process callers
    "acting_as",
    "scoped_client",
    "scoped_fastmcp_client",
    # a development authorization server and its parts
    "DevAuthorizationServer",
    "DevClient",
    "HeadlessBrowser",
    "LoopbackServer",
    "MemoryTokenStorage",
    "SigningKey",
]

_LAZY = {
    "DevAuthorizationServer": "fastmcp_scopes.testing.authserver",
    "DevClient": "fastmcp_scopes.testing.authserver",
    "LoopbackServer": "fastmcp_scopes.testing.loopback",
    "SigningKey": "fastmcp_scopes.testing.keys",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
