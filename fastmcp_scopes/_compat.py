"""What the MCP Python SDK spells differently in its 1.x and 2.x lines, in one place.

Code outside the adapters imports these names from here, never the SDK module that holds them in one
major only, so that the package imports and behaves the same beside ``mcp`` 1.x (``FastMCP``, and
fastmcp 3.x on top of it) and ``mcp`` 2.x (``MCPServer``, and fastmcp 4.x). Each adapter imports its own
framework directly: it only ever runs beside one major.

Type checking sees the 2.x spelling (the ``TYPE_CHECKING`` branch); at run time the installed major
decides. Names that both majors spell alike (``TokenVerifier``, ``AuthenticatedUser``,
``auth_context_var``, ``get_access_token``, ``mcp.types``) are re-exported anyway, so that a later
rename in either line is handled here too.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Final

import mcp.types as types
from mcp.server.auth.middleware.auth_context import auth_context_var, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken as _SDKAccessToken
from mcp.server.auth.provider import TokenVerifier
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, ErrorData

__all__ = [
    "HEADER_MISMATCH",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "SDK_MAJOR",
    "SDK_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "AccessToken",
    "AuthenticatedUser",
    "ErrorData",
    "MCPError",
    "TokenVerifier",
    "auth_context_var",
    "get_access_token",
    "mcp_error",
    "types",
]

SDK_VERSION: Final[str] = version("mcp")
"""The installed ``mcp`` distribution's version, e.g. ``"1.30.0"``."""
SDK_MAJOR: Final[int] = int(SDK_VERSION.split(".", 1)[0])
"""1 or 2: which line of the MCP Python SDK is installed."""

if SDK_MAJOR not in (1, 2):  # pragma: no cover - pip's resolver keeps mcp inside >=1.24,<3
    raise ImportError(f"fastmcp-scopes supports mcp 1.x and 2.x; mcp {SDK_VERSION} is installed")

if TYPE_CHECKING or SDK_MAJOR >= 2:
    from mcp.shared.exceptions import MCPError
    from mcp_types import HEADER_MISMATCH
    from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS
else:
    from mcp.shared.exceptions import McpError as MCPError
    from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS as _SDK1_VERSIONS

    # mcp 1.x predates the Mcp-Method/Mcp-Name headers (MCP 2026-07-28) and so has no code for a header
    # that disagrees with the body. The check is the guard's own, not the SDK's, so it answers with the
    # code that protocol assigns whichever SDK serves: a client sees the same refusal on every lineage.
    HEADER_MISMATCH = -32020
    SUPPORTED_PROTOCOL_VERSIONS = tuple(_SDK1_VERSIONS)


if "subject" in _SDKAccessToken.model_fields:
    AccessToken = _SDKAccessToken
else:  # mcp < 1.28: the audit needs the caller's ``sub`` and ``iss``, which older tokens had no field for.

    class AccessToken(_SDKAccessToken):  # type: ignore[no-redef]
        """The SDK's ``AccessToken`` with the ``subject`` and ``claims`` fields mcp 1.28 added. An instance
        is still the SDK's type, so the SDK's middleware carries it to the guard unchanged."""

        subject: str | None = None
        claims: dict[str, Any] | None = None


def mcp_error(code: int, message: str, data: Any = None) -> MCPError:
    """The exception a handler raises to answer with the JSON-RPC error ``{code, message, data}``.

    One spelling for both majors: 2.x takes ``MCPError(code, message, data)``, 1.x takes
    ``McpError(ErrorData(...))``; either way the SDK turns it into exactly that error response, and the
    error's ``.error`` is the ``ErrorData``. Catch it as :data:`MCPError`.
    """
    if SDK_MAJOR >= 2:
        return MCPError(code, message, data)
    return MCPError(ErrorData(code=code, message=message, data=data))  # type: ignore[arg-type,call-arg]
