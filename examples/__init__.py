"""Runnable examples of fastmcp-scopes."""
