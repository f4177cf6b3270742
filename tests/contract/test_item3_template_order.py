"""Issue 8, item 3: a URI two templates match is decided against the template the server dispatches it
to. ``files://`` + a catch-all (needs ``files:admin``, registered first) and ``files://public/{name}``
(needs ``files:public``): which one runs is the server's own rule, found here by asking the same server
unguarded, and the guard must decide against that one."""

from __future__ import annotations

from typing import Any

import pytest

from fastmcp_scopes import requires_scopes
from fastmcp_scopes.testing import scoped_client

from .conftest import Install, ServerKind, in_process, skip_unless, succeeded

URIS = [
    pytest.param("files://public/{name}", id="the-second-template-literally"),
    pytest.param("files://public/report", id="a-public-file"),
    pytest.param("files://public/a/b", id="a-deeper-public-path"),
    pytest.param("files://secret", id="an-admin-file"),
]


def files(kind: ServerKind, ran: list[str]) -> Any:
    server = kind.new("files")

    @server.resource(kind.catch_all_template)
    @requires_scopes("files:admin")
    def admin_file(path: str) -> str:
        ran.append(f"admin {path}")
        return f"admin {path}"

    @server.resource("files://public/{name}")
    @requires_scopes("files:public")
    def public_file(name: str) -> str:
        ran.append(f"public {name}")
        return f"public {name}"

    return server


_dispatched: dict[tuple[str, str], str | None] = {}


async def dispatched_to(kind: ServerKind, uri: str) -> str | None:
    """Which handler the unguarded server runs for ``uri`` ("admin", "public", or None)."""
    if (kind.name, uri) not in _dispatched:
        ran: list[str] = []
        async with scoped_client(files(kind, ran), []) as client:
            await in_process(client, "resources/read", {"uri": uri})
        _dispatched[kind.name, uri] = ran[0].split()[0] if ran else None
    return _dispatched[kind.name, uri]


@pytest.mark.parametrize("uri", URIS)
async def test_a_public_token_is_decided_against_the_template_that_runs(
    server_kind: ServerKind, install: Install, uri: str
) -> None:
    handler = await dispatched_to(server_kind, uri)
    skip_unless(handler, f"{server_kind.name} serves no template for {uri}")
    ran: list[str] = []
    guarded = await install(files(server_kind, ran))

    answer = await guarded.ask(["files:public"], "resources/read", {"uri": uri})

    if handler == "admin":
        assert answer.error is not None, answer.whole()
        assert answer.error["data"]["missing"] == ["files:admin"]
        assert ran == []
    else:
        assert succeeded(answer), answer.whole()
        assert [r.split()[0] for r in ran] == ["public"]


@pytest.mark.parametrize("uri", URIS)
async def test_an_admin_token_reads_what_the_admin_template_serves(
    server_kind: ServerKind, install: Install, uri: str
) -> None:
    handler = await dispatched_to(server_kind, uri)
    skip_unless(handler == "admin", f"{server_kind.name} does not serve {uri} from the admin template")
    ran: list[str] = []
    guarded = await install(files(server_kind, ran))

    answer = await guarded.ask(["files:admin"], "resources/read", {"uri": uri})

    assert succeeded(answer), answer.whole()
    assert [r.split()[0] for r in ran] == ["admin"]


@pytest.mark.parametrize("uri", URIS)
async def test_not_found_a_uri_the_dispatcher_sends_to_a_hidden_template_is_missing(
    server_kind: ServerKind, install: Install, uri: str
) -> None:
    handler = await dispatched_to(server_kind, uri)
    skip_unless(handler == "admin", f"{server_kind.name} does not serve {uri} from the admin template")
    ran: list[str] = []
    guarded = await install(files(server_kind, ran), hidden_calls="not_found")

    hidden = await guarded.ask(["files:public"], "resources/read", {"uri": uri})
    missing = await guarded.ask(["files:public"], "resources/read", {"uri": "nofiles://x"})

    assert hidden.whole(uri) == missing.whole("nofiles://x")
    assert ran == []
