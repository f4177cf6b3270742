"""Helpers for testing servers that use fastmcp-scopes: callers with given scopes, and (in
:mod:`fastmcp_scopes.testing.authserver`) a development authorization server, with its signing keys
(:mod:`~fastmcp_scopes.testing.keys`) and loopback HTTP server (:mod:`~fastmcp_scopes.testing.loopback`)."""

from fastmcp_scopes.testing.authserver import DevAuthorizationServer, DevClient
from fastmcp_scopes.testing.client import (
    HeadlessBrowser,
    MemoryTokenStorage,
    acting_as,
    scoped_client,
    scoped_fastmcp_client,
)
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
