"""What the interop tests expect of the employees demo's server under the default settings, and how they report a
client that is not installed here."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRED = os.environ.get("SCOPES_REQUIRE_INTEROP") == "1"
"""Set by CI, which installs every client: a missing one is then a failure, not a skip."""

BASELINE = "employees:read mcp:connect mcp:tools:call mcp:tools:read"
"""The demo's scopes_supported (``demo.env``): the 401's scope, what a client asks for first."""
UNION = "employees:read employees:write mcp:connect mcp:tools:call mcp:tools:read"
"""The write's 403 on a protocol version before 2026-07-28 under the default ``auto`` challenges: the operation's
scopes and the token's."""
PRECISE = "employees:write mcp:connect mcp:tools:call"
"""The write's 403 on 2026-07-28: the operation's scopes only (the client unions, SEP-2350)."""


def unavailable(problem: str) -> NoReturn:
    """Skip the test for ``problem``, or fail it under SCOPES_REQUIRE_INTEROP=1."""
    if REQUIRED:
        pytest.fail(f"{problem} (SCOPES_REQUIRE_INTEROP=1)")
    pytest.skip(problem)
