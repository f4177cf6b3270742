"""JSON parsing that refuses an object naming a member twice.

RFC 8259 §4 leaves repeated names to each parser, and RFC 7515 §5.2 lets a JWS parser either reject
them or keep the last. Two parsers along the way (an issuer's, a proxy's, ours) could then read
different copies of a token's ``aud`` or a request's ``method``: refusing what is ambiguous means
none can disagree with us.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads_unique_names"]


def loads_unique_names(data: str | bytes) -> Any:
    """:func:`json.loads`, refusing any object (at any depth) that repeats a member name.

    Raises:
        ValueError: not JSON, or a duplicate member name (``json.JSONDecodeError`` is a ``ValueError``).
        RecursionError: nesting deeper than the interpreter's recursion limit.
    """
    return json.loads(data, object_pairs_hook=_unique_names)


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for name, value in pairs:
        if name in obj:
            raise ValueError("duplicate member name")
        obj[name] = value
    return obj
