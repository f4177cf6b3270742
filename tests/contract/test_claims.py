"""Issue 13 item 2: claims to scopes (``FASTMCP_SCOPES_CLAIM_SCOPES``), over real HTTP on every lineage.

Each token is shaped like the one its authorization server documents, minted by the development
authorization server: Keycloak's ``realm_access.roles`` and ``resource_access.<client>.roles``, Auth0's
``permissions``, Entra ID's ``roles`` (application permissions) and ``scp`` (a space-delimited string),
Okta's ``scp`` (an array). The caller's granted scopes are the token's own plus the mapped ones, then the
hierarchy; a refusal still names scopes, never roles; a claim of any other shape grants nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes
from fastmcp_scopes.testing.authserver import OMIT

from .conftest import Guarded, Install, http_only, refusal_of, succeeded
from .kinds import ServerKind

pytestmark = http_only

CLAIM_SCOPES: dict[str, dict[str, Any]] = {
    "realm_access.roles": {"research-agent": ["docs:read"]},
    "resource_access.mcp-docs.roles": {"editor": ["docs:write"]},
    "permissions": {"read:docs": "docs:read", "admin:docs": ["docs:admin"]},
    "roles": {"Docs.Writer": ["docs:write"]},
    "https://example\\.com/roles": {"reader": ["docs:read"]},
}

# The claims each server's documentation shows, with the roles our mapping names.
KEYCLOAK_REALM = {
    "realm_access": {"roles": ["offline_access", "uma_authorization", "research-agent"]},
    "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
    "azp": "research-agent-client",
    "preferred_username": "ada",
}
KEYCLOAK_CLIENT = {
    "realm_access": {"roles": ["default-roles-acme"]},
    "resource_access": {"mcp-docs": {"roles": ["editor"]}, "account": {"roles": ["view-profile"]}},
}
AUTH0 = {"permissions": ["read:docs", "read:reports"], "azp": "auth0-client-id", "gty": "client-credentials"}
ENTRA_APP = {"roles": ["Docs.Writer"], "azp": "00000000-0000-0000-0000-000000000001", "tid": "t", "oid": "o"}
AUTH0_NAMESPACED = {"https://example.com/roles": ["reader"]}


def docs(kind: ServerKind) -> Any:
    server = kind.new("docs")

    @server.tool()
    @requires_scopes("docs:read")
    def read_doc(name: str) -> str:
        return f"read {name}"

    @server.tool()
    @requires_scopes("docs:read", "docs:write")
    def edit_doc(name: str) -> str:
        return f"edited {name}"

    return server


async def call(guarded: Guarded, tool: str, **claims: Any) -> Any:
    return await guarded.ask([], "tools/call", {"name": tool, "arguments": {"name": "a"}}, scope=OMIT, **claims)


async def tools(guarded: Guarded, scopes: list[str], **claims: Any) -> list[str]:
    answer = await guarded.ask(scopes, "tools/list", **claims)
    assert answer.result is not None, answer.whole()
    return sorted(tool["name"] for tool in answer.result["tools"])


@pytest.mark.parametrize(
    ("shape", "claims", "tool"),
    [
        ("keycloak realm role", KEYCLOAK_REALM, "read_doc"),
        ("auth0 permissions", AUTH0, "read_doc"),
        ("auth0 namespaced claim", AUTH0_NAMESPACED, "read_doc"),
    ],
)
async def test_a_mapped_claim_value_grants_its_scopes(
    install: Install, server_kind: ServerKind, shape: str, claims: dict[str, Any], tool: str
) -> None:
    guarded = await install(docs(server_kind), claim_scopes=CLAIM_SCOPES)
    answer = await call(guarded, tool, **claims)
    assert answer.status == 200 and succeeded(answer), (shape, answer.whole())
    assert await tools(guarded, [], scope=OMIT, **claims) == ["read_doc"]


async def test_granted_is_the_token_scopes_and_the_mapped_ones(install: Install, server_kind: ServerKind) -> None:
    """Keycloak client role ``editor`` gives docs:write; the token's own ``scope`` gives docs:read; together, both."""
    guarded = await install(docs(server_kind), claim_scopes=CLAIM_SCOPES)
    assert await tools(guarded, ["docs:read"], **KEYCLOAK_CLIENT) == ["edit_doc", "read_doc"]
    answer = await guarded.ask(
        ["docs:read"], "tools/call", {"name": "edit_doc", "arguments": {"name": "a"}}, **ENTRA_APP
    )
    assert answer.status == 200 and succeeded(answer), answer.whole()


async def test_the_hierarchy_applies_to_mapped_scopes(install: Install, server_kind: ServerKind) -> None:
    guarded = await install(
        docs(server_kind), claim_scopes=CLAIM_SCOPES, hierarchy={"docs:admin": ["docs:read", "docs:write"]}
    )
    assert await tools(guarded, [], scope=OMIT, permissions=["admin:docs"]) == ["edit_doc", "read_doc"]


async def test_entra_and_okta_scp_map_too(install: Install, server_kind: ServerKind) -> None:
    """Entra puts delegated permissions in ``scp`` as a space-delimited string, Okta as an array; the token's
    own scopes are read from ``scp`` as well, and the mapped ones join them."""
    mapping = {"scp": {"Docs.Read": ["docs:read"], "docs.write": ["docs:write"]}}
    guarded = await install(docs(server_kind), claim_scopes=mapping)
    entra = {"scope": OMIT, "scp": "User.Read Docs.Read"}
    okta = {"scope": OMIT, "scp": ["docs.write", "docs:read"], "cid": "0oa-okta-client", "client_id": OMIT}
    assert await tools(guarded, [], **entra) == ["read_doc"]
    assert await tools(guarded, [], **okta) == ["edit_doc", "read_doc"]


async def test_a_refusal_names_scopes_not_roles(install: Install, server_kind: ServerKind) -> None:
    guarded = await install(docs(server_kind), claim_scopes=CLAIM_SCOPES)
    answer = await call(guarded, "edit_doc", **KEYCLOAK_REALM)
    error = refusal_of(answer)
    assert answer.status == 403 and answer.challenge is not None
    assert 'scope="docs:read docs:write"' in answer.challenge
    assert error["data"]["missing"] == ["docs:write"]
    assert "research-agent" not in answer.raw.decode() and "editor" not in answer.challenge


@pytest.mark.parametrize(
    ("attempt", "claims"),
    [
        ("a path that walks into a list", {"realm_access": [{"roles": ["research-agent"]}]}),
        ("a role that is not a string", {"realm_access": {"roles": [{"name": "research-agent"}]}}),
        ("one non-string among the roles", {"realm_access": {"roles": ["research-agent", 1]}}),
        ("a role list past the cap", {"realm_access": {"roles": ["r"] * 1024 + ["research-agent"]}}),
        ("a role spelt in another case", {"realm_access": {"roles": ["Research-Agent"]}}),
        ("the role as an object key", {"realm_access": {"roles": {"research-agent": True}}}),
        ("a dotted top-level name for a nested path", {"realm_access.roles": ["research-agent"]}),
        ("an unescaped dot in the namespace", {"https://example": {"com/roles": ["reader"]}}),
        ("a client role of another client", {"resource_access": {"account": {"roles": ["editor"]}}}),
    ],
)
async def test_a_claim_of_another_shape_grants_nothing(
    install: Install, server_kind: ServerKind, attempt: str, claims: dict[str, Any]
) -> None:
    guarded = await install(docs(server_kind), claim_scopes=CLAIM_SCOPES)
    assert await tools(guarded, [], scope=OMIT, **claims) == [], attempt
    answer = await call(guarded, "read_doc", **claims)
    assert answer.status == 403 and refusal_of(answer)["data"]["missing"] == ["docs:read"], attempt
