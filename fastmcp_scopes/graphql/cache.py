"""A content-addressed cache of analysed operation catalogues, so that the next start-up skips the analysis.

:meth:`~fastmcp_scopes.graphql.ScopedSchema.analyze_catalogue` with ``cache=CatalogueCache(directory)`` keys each
catalogue by everything its analysis depends on: this library's and graphql-core's versions, the schema (the
hash of its SDL, the directive names it resolves, its options), the analysis options, and each document's name
and text hash. A hit skips parsing, validation and analysis: each operation's declarations are looked up again
in the loaded schema by coordinate, its requirement is read with the same checks as any configured one (RFC
6749 scope-tokens, minimal alternatives), and its syntax tree is parsed only if someone asks for it.

An entry is a file named by its key: a JSON header line, then the operations as JSON. One that cannot be
read, whose structure, key or checksum does not match, that names a coordinate the schema does not declare, or
whose requirement is not one, is ignored (and replaced): never trusted. The directory may be deleted at any
time. Whoever can write to it can change what the next start-up derives, as whoever can write the operation
files can: give it the same protection.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from fastmcp_scopes.challenge import validate_scope_token
from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.graphql.analysis import OperationAnalysis, OperationKind, analysis_from
from fastmcp_scopes.graphql.directives import ScopeDeclarations
from fastmcp_scopes.graphql.syntax import DeferredDocument, OperationSyntax
from fastmcp_scopes.requirements import DEFAULT_MAX_ALTERNATIVES, Requirement

__all__ = ["CacheEntry", "CatalogueCache", "entries_of", "read_analyses"]

_FORMAT = 1
_FIELDS = {"name", "kind", "document", "fragments", "coordinates", "alternatives"}
_KINDS = ("query", "mutation", "subscription")


@cache
def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
        return "unknown"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One analysed operation as stored: its name and kind, the index of its document in the catalogue, the
    fragments it uses (in the order reached), the coordinates of the declarations it touches (ditto) and the
    requirement they combine into (its alternatives, in order)."""

    name: str
    kind: str
    document: int
    fragments: tuple[str, ...]
    coordinates: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...]


class CatalogueCache:
    """Analysed catalogues stored as JSON files in ``directory`` (created when first written)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def key(self, schema: str, options: Mapping[str, Any], documents: Sequence[tuple[str, str]]) -> str:
        """The key of a catalogue: ``schema`` is the schema's fingerprint, ``options`` what else the analysis
        depends on, ``documents`` each document's name and text, in catalogue order."""
        digest = hashlib.sha256()
        header = {
            "format": _FORMAT,
            "fastmcp-scopes": _version("fastmcp-scopes"),
            "graphql-core": _version("graphql-core"),
            "schema": schema,
            "options": dict(sorted(options.items())),
        }
        digest.update(json.dumps(header, sort_keys=True).encode())
        for name, text in documents:
            # Lengths first, so that no two different lists of names and texts hash the same bytes.
            encoded_name, encoded_text = name.encode("utf-8", "surrogatepass"), text.encode("utf-8", "surrogatepass")
            digest.update(b"%d:%d:" % (len(encoded_name), len(encoded_text)))
            digest.update(encoded_name)
            digest.update(encoded_text)
        return digest.hexdigest()

    def load(self, key: str) -> list[CacheEntry] | None:
        """The entries stored under ``key``, or ``None`` when there are none or they cannot be trusted."""
        try:
            raw = (self.directory / f"{key}.cache").read_bytes()
            head, _, body = raw.partition(b"\n")
            header = json.loads(head)
            if not isinstance(header, dict) or header.get("format") != _FORMAT or header.get("key") != key:
                return None
            if header.get("checksum") != _checksum(key, body):
                return None
            return _entries(json.loads(body))
        except (OSError, ValueError):
            return None

    def store(self, key: str, entries: Sequence[CacheEntry]) -> None:
        """Store ``entries`` under ``key``, atomically (a reader sees the old file or the new one, whole).

        A directory that cannot be written leaves the cache cold: start-up does not depend on it.
        """
        operations = [
            {
                "name": e.name,
                "kind": e.kind,
                "document": e.document,
                "fragments": list(e.fragments),
                "coordinates": list(e.coordinates),
                "alternatives": [list(a) for a in e.alternatives],
            }
            for e in entries
        ]
        # A header line (format, key, the body's checksum), then the operations: the checksum is taken over
        # the body's bytes as written, so checking it costs no second serialisation.
        body = json.dumps(operations, separators=(",", ":")).encode()
        header = json.dumps({"format": _FORMAT, "key": key, "checksum": _checksum(key, body)}).encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(header + b"\n" + body)
                os.replace(temporary, self.directory / f"{key}.cache")
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            return


def entries_of(analyses: Mapping[str, OperationAnalysis], texts: Sequence[tuple[str, str]]) -> list[CacheEntry]:
    """What :meth:`CatalogueCache.store` keeps of a catalogue's ``analyses`` (``texts`` names its documents)."""
    index = {name: number for number, (name, _text) in enumerate(texts)}
    return [
        CacheEntry(
            name,
            analysis.kind,
            index[analysis.source_name or ""],
            tuple(f.name.value for f in analysis.fragments),
            tuple(d.coordinate for d in analysis.declarations),
            tuple(tuple(sorted(alternative)) for alternative in analysis.requirement.alternatives),
        )
        for name, analysis in analyses.items()
    ]


def read_analyses(
    entries: Sequence[CacheEntry] | None,
    declarations: ScopeDeclarations,
    texts: Sequence[tuple[str, str]],
    *,
    max_tokens: int,
    cap: int = DEFAULT_MAX_ALTERNATIVES,
) -> dict[str, OperationAnalysis] | None:
    """The analyses ``entries`` describe, against a schema's ``declarations`` and the catalogue's ``texts``
    (whose syntax is parsed, with ``max_tokens``, only when asked for); ``None`` when they do not fit."""
    if entries is None:
        return None
    by_coordinate = {d.coordinate: d for d in (*declarations.types.values(), *declarations.fields.values())}
    try:
        # Each distinct scope checked once (RFC 6749 §3.3): nothing unchecked may reach a challenge header.
        for scope in {s for entry in entries for alternative in entry.alternatives for s in alternative}:
            validate_scope_token(scope)
    except ConfigurationError:
        return None
    documents: dict[int, DeferredDocument] = {}
    analyses: dict[str, OperationAnalysis] = {}
    lookup = by_coordinate.__getitem__
    for entry in entries:
        try:
            found = tuple(map(lookup, entry.coordinates))
        except KeyError:
            return None  # Not this schema's: a foreign or corrupt entry.
        if not 0 <= entry.document < len(texts) or entry.name in analyses:
            return None  # Not this catalogue's.
        document = documents.get(entry.document)
        if document is None:
            name, text = texts[entry.document]
            document = documents[entry.document] = DeferredDocument(text, name, max_tokens)
        try:
            # Requirement() refuses alternatives that are not minimal; the scopes were checked above.
            requirement = Requirement(tuple(map(frozenset, entry.alternatives)))
        except ConfigurationError:
            return None  # Not a requirement this library writes.
        analyses[entry.name] = analysis_from(
            entry.name,
            cast(OperationKind, entry.kind),  # one of the three, checked when the entry was read
            found,
            OperationSyntax.deferred(document, entry.name, entry.fragments),
            cap=cap,
            requirement=requirement,
        )
    return analyses


def _checksum(key: str, body: bytes) -> str:
    return hashlib.sha256(key.encode() + b"\n" + body).hexdigest()


def _entries(operations: Any) -> list[CacheEntry] | None:
    if not isinstance(operations, list):
        return None
    entries: list[CacheEntry] = []
    try:
        for item in operations:
            if not isinstance(item, dict) or item.keys() != _FIELDS:
                return None
            name, kind, document = item["name"], item["kind"], item["document"]
            fragments, coordinates, alternatives = item["fragments"], item["coordinates"], item["alternatives"]
            if not (
                type(name) is str
                and kind in _KINDS
                and type(document) is int
                and type(fragments) is list
                and type(coordinates) is list
                and type(alternatives) is list
                and all(type(a) is list for a in alternatives)
            ):
                return None
            # str.join refuses any element that is not a string, at C speed: the lists hold strings only.
            "".join(fragments)
            "".join(coordinates)
            for alternative in alternatives:
                "".join(alternative)
            entries.append(
                CacheEntry(name, kind, document, tuple(fragments), tuple(coordinates), tuple(map(tuple, alternatives)))
            )
    except TypeError:
        return None
    return entries
