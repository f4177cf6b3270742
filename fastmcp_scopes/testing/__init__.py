"""Helpers for testing servers that use fastmcp-scopes: callers with given scopes, and (in
:mod:`fastmcp_scopes.testing.authserver`) a development authorization server."""

from fastmcp_scopes.testing.authserver import DevAuthorizationServer, DevClient, LoopbackServer, SigningKey
from fastmcp_scopes.testing.client import HeadlessBrowser, MemoryTokenStorage, acting_as, scoped_client

__all__ = [
    # in-process callers
    "acting_as",
    "scoped_client",
    # a development authorization server and its parts
    "DevAuthorizationServer",
    "DevClient",
    "HeadlessBrowser",
    "LoopbackServer",
    "MemoryTokenStorage",
    "SigningKey",
]
