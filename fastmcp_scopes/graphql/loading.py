"""Load a :class:`ScopedSchema` from where configuration points: an SDL file, an introspection JSON file,
or an ``http(s)`` URL introspected at start-up (``FASTMCP_SCOPES_GRAPHQL_SCHEMA``).

This is the only module of :mod:`fastmcp_scopes.graphql` that does I/O. A URL is first asked for
``{ _service { sdl } }``, which a federation subgraph answers with SDL that keeps its directives; other
servers get the standard introspection query, which cannot carry directives (see
:meth:`ScopedSchema.from_introspection`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from graphql import get_introspection_query

from fastmcp_scopes.errors import GraphQLScopeError
from fastmcp_scopes.graphql.schema import ScopedSchema

__all__ = ["SCHEMA_ENV_VAR", "load_schema", "load_schema_async", "read_operation_files"]

SCHEMA_ENV_VAR = "FASTMCP_SCOPES_GRAPHQL_SCHEMA"
"""The setting naming the schema source when none is given."""

_SERVICE_SDL_QUERY = "{ _service { sdl } }"
_OPERATION_SUFFIXES = (".graphql", ".gql")


def load_schema(
    source: str | Path | None = None,
    *,
    strict: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    input_directives: bool = False,
    no_scope_directives: bool = False,
) -> ScopedSchema:
    """Load the schema at ``source`` (default: the ``FASTMCP_SCOPES_GRAPHQL_SCHEMA`` variable).

    ``source`` is an ``http://``/``https://`` URL (introspected with ``headers``), a ``.json`` file holding an
    introspection result, or an SDL file. Raises :class:`GraphQLScopeError` when the source is unset,
    unreadable, unreachable or not a schema; see :meth:`ScopedSchema.from_sdl` for ``strict`` and
    ``no_scope_directives`` (without which an introspection result, which carries no directives, is refused),
    and :class:`ScopedSchema` for ``input_directives``.
    """
    options = _Options(strict=strict, input_directives=input_directives, no_scope_directives=no_scope_directives)
    source = _resolve_source(source)
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        import httpx2  # Deferred: only URL sources need an HTTP client.

        try:
            with httpx2.Client(timeout=timeout, headers=dict(headers or {})) as client:
                sdl = _service_sdl(_post(client.post(source, json={"query": _SERVICE_SDL_QUERY}), source))
                if sdl is not None:
                    return ScopedSchema.from_sdl(sdl, source_name=source, **options)
                query = {"query": get_introspection_query(descriptions=True)}
                result = _post(client.post(source, json=query), source)
        except httpx2.HTTPError as error:
            raise GraphQLScopeError(f"cannot introspect {source}: {error}") from None
        return ScopedSchema.from_introspection(_data(result, source), source_name=source, **options)
    return _load_file(Path(source), options)


async def load_schema_async(
    source: str | Path | None = None,
    *,
    strict: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    input_directives: bool = False,
    no_scope_directives: bool = False,
) -> ScopedSchema:
    """:func:`load_schema` for code already inside an event loop: URLs are fetched without blocking it."""
    options = _Options(strict=strict, input_directives=input_directives, no_scope_directives=no_scope_directives)
    source = _resolve_source(source)
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        import httpx2

        try:
            async with httpx2.AsyncClient(timeout=timeout, headers=dict(headers or {})) as client:
                response = await client.post(source, json={"query": _SERVICE_SDL_QUERY})
                sdl = _service_sdl(_post(response, source))
                if sdl is not None:
                    return ScopedSchema.from_sdl(sdl, source_name=source, **options)
                query = {"query": get_introspection_query(descriptions=True)}
                result = _post(await client.post(source, json=query), source)
        except httpx2.HTTPError as error:
            raise GraphQLScopeError(f"cannot introspect {source}: {error}") from None
        return ScopedSchema.from_introspection(_data(result, source), source_name=source, **options)
    return _load_file(Path(source), options)


def read_operation_files(*paths: str | Path) -> list[tuple[Path, str]]:
    """``(path, text)`` for each ``.graphql``/``.gql`` file given, or found (sorted, recursively) in each
    directory given. Raises :class:`GraphQLScopeError` for a missing path or an unreadable file."""
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            files.extend(sorted(p for p in given.rglob("*") if p.suffix in _OPERATION_SUFFIXES and p.is_file()))
        elif given.is_file():
            files.append(given)
        else:
            raise GraphQLScopeError(f"no such operation file or directory: {given}")
    result = []
    for path in files:
        try:
            result.append((path, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            raise GraphQLScopeError(f"cannot read {path}: {error}") from None
    return result


def _resolve_source(source: str | Path | None) -> str | Path:
    if source is None or source == "":
        source = os.environ.get(SCHEMA_ENV_VAR, "")
        if not source:
            raise GraphQLScopeError(f"no GraphQL schema given and {SCHEMA_ENV_VAR} is not set")
    return source


class _Options(TypedDict):
    """The keyword arguments of :meth:`ScopedSchema.from_sdl` that loading passes through."""

    strict: bool
    input_directives: bool
    no_scope_directives: bool


def _load_file(path: Path, options: _Options) -> ScopedSchema:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise GraphQLScopeError(f"cannot read the GraphQL schema {path}: {error}") from None
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        # SDL never starts with "{" (an anonymous query would, but that is not a schema).
        try:
            result = json.loads(text)
        except json.JSONDecodeError as error:
            raise GraphQLScopeError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(result, Mapping):
            raise GraphQLScopeError(f"{path} does not hold an introspection result object")
        return ScopedSchema.from_introspection(result, source_name=str(path), **options)
    return ScopedSchema.from_sdl(text, source_name=str(path), **options)


def _post(response: Any, url: str) -> Any:
    # Read whatever the status: a server without `_service` may answer 400 with GraphQL errors, and the
    # caller then falls back to standard introspection.
    try:
        return response.json()
    except ValueError:
        if response.status_code >= 400:
            raise GraphQLScopeError(f"introspecting {url} failed with HTTP {response.status_code}") from None
        raise GraphQLScopeError(f"{url} did not answer with JSON") from None


def _service_sdl(result: Any) -> str | None:
    data = result.get("data") if isinstance(result, Mapping) else None
    service = data.get("_service") if isinstance(data, Mapping) else None
    sdl = service.get("sdl") if isinstance(service, Mapping) else None
    return sdl if isinstance(sdl, str) else None


def _data(result: Any, url: str) -> Mapping[str, Any]:
    if not isinstance(result, Mapping) or not isinstance(result.get("data"), Mapping):
        errors = result.get("errors") if isinstance(result, Mapping) else None
        raise GraphQLScopeError(f"introspecting {url} returned no data (errors: {errors!r})")
    return result
