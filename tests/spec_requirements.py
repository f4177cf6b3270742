"""The behaviours the standards and the design fix for us, each with an ID that tests claim with
``@pytest.mark.spec("ID")``. ``tests/test_spec_coverage.py`` checks both ways: every requirement has a
test, and every claimed ID is listed here."""

from __future__ import annotations

REQUIREMENTS: dict[str, str] = {
    # RFC 6750 §3, §3.1: the three answers, never merged
    "rfc6750/no-credentials": "no token: 401, a Bearer challenge without an error attribute",
    "rfc6750/invalid-token": "a bad token: 401 error=invalid_token, and nothing is executed",
    "rfc6750/invalid-request": "a malformed request: 400 error=invalid_request",
    "rfc6750/insufficient-scope": "a valid token lacking scopes: 403 error=insufficient_scope with scope",
    # RFC 6749 §3.3
    "rfc6749/scope-token": "scope tokens outside the grammar are refused when declared or configured",
    # RFC 9728
    "rfc9728/metadata": "protected resource metadata: resource identical to the server URL, baseline scopes",
    # RFC 9068 / RFC 8725
    "rfc9068/verification": "JWT access tokens: allow-listed algorithms, exact iss, aud, time claims",
    "rfc9068/audience": "a token issued for another resource is refused",
    # MCP authorization 2026-07-28 (SEP-2350)
    "mcp/challenge-covers-operation": "one 403 names every scope the operation needs; clients step up once",
    "mcp/no-reauthorization-loop": "a scope the authorization server refuses ends after one step-up",
    "mcp/scope-hierarchy": "servers honour scope hierarchies",
    "mcp/listing-varies": "listings vary by authorization and are cached privately",
    # MCP 2025-11-25 clients that replace their scopes
    "mcp/include-token-scopes": "challenges may be unioned with the token's scopes",
    # Apollo Federation @requiresScopes
    "federation/requires-scopes": "outer list OR, inner list AND, ANDed over every element an operation touches",
    "federation/link-imports": "directive names come from @link imports, renames and the federation__ prefix",
    # Design contract
    "design/closest-alternative": "the challenge names the alternative missing fewest, ties to the first declared",
    "design/hidden-not-found": "hidden_calls=not_found answers exactly like a missing primitive",
    "design/bodies-refused": "batches, duplicate keys, header/body mismatches, oversized bodies: refused, never run",
    "design/no-token-fails-closed": "without a token (stdio, in-process) everything is refused unless granted",
    "design/audit-without-token": "one audit event per decision, with the caller's identity, never the token",
    "design/stateless": "no decision depends on server-side session memory",
}
