"""One JSON-RPC request POSTed raw to an MCP endpoint, for tests that look at the exact HTTP answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx2

ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def tool_call(name: str, arguments: Mapping[str, Any] | None = None, *, id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments or {}}}


async def post_rpc(
    http: httpx2.AsyncClient,
    url: str,
    body: Any,
    token: str | None,
    *,
    protocol_version: str = "2025-11-25",
    headers: Mapping[str, str] | None = None,
) -> httpx2.Response:
    """POST ``body`` (bytes as they are, anything else as JSON) with ``token`` as the bearer, if any."""
    sent = {**ACCEPT, "mcp-protocol-version": protocol_version}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post(url, content=content, headers={**sent, **(headers or {})})
