"""Helpers for testing servers that use fastmcp-scopes: callers with given scopes, and (in
:mod:`fastmcp_scopes.testing.authserver`) a development authorization server."""

from fastmcp_scopes.testing.client import acting_as, scoped_client

__all__ = ["acting_as", "scoped_client"]
