"""The employees demo: an agent with a minimal token reads, is challenged when it writes, and steps up
to exactly the scope it needs.

    python -m examples.employees                 # the agent on the MCP Python SDK 2.x client
    python -m examples.employees --replacing     # a client that replaces its scopes: the loop, stopped
    FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES=true python -m examples.employees --replacing
    python -m examples.employees --serve         # keep both servers running for another MCP client

Exit status: 0 when the agent's task completed, 1 when it did not (with ``--replacing`` and challenges that name
only the operation's scopes, the loop is stopped and the task is not done), 2 for usage errors.
    python -m examples.employees --clients       # the task with each installed real MCP client: one table
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from typing import Any, TextIO

import anyio

from examples.employees.agent import MAX_REAUTHORIZATIONS, Event, run_agent
from examples.employees.server import GRANTABLE, build_app, guard_for
from fastmcp_scopes.testing import DevAuthorizationServer, LoopbackServer


@dataclass
class Deployment:
    """The two servers of the demo, on loopback."""

    auth: DevAuthorizationServer
    mcp: LoopbackServer
    include_token_scopes: bool | str
    """``FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES`` as the guard read it: ``True``, ``False``, ``"auto"``."""

    @property
    def mcp_url(self) -> str:
        return f"{self.mcp.base_url}/mcp"


async def deploy(stack: AsyncExitStack) -> Deployment:
    """Start the authorization server, then the MCP server configured against it."""
    auth = await stack.enter_async_context(DevAuthorizationServer(scopes=GRANTABLE))
    holder: dict[str, bool | str] = {}

    def app(base: str) -> Any:
        guard = guard_for(issuer=auth.issuer, jwks_uri=auth.jwks_uri, resource_url=f"{base}/mcp")
        holder["include"] = guard.settings.scope_challenge_include_token_scopes
        return build_app(guard)[1]

    mcp = LoopbackServer(app_factory=app, lifespan="on")
    await stack.enter_async_context(mcp)
    return Deployment(auth, mcp, holder["include"])


async def demo(*, replacing: bool, emit: Callable[[Event], None]) -> bool:
    """Run the whole story once; ``emit`` receives every event. ``True`` when the agent's task completed."""
    async with AsyncExitStack() as stack:
        deployment = await deploy(stack)
        client = deployment.auth.register_client(scopes=GRANTABLE)
        emit(
            Event(
                "start",
                {
                    "issuer": deployment.auth.issuer,
                    "mcp_url": deployment.mcp_url,
                    "replacing": replacing,
                    "include_token_scopes": deployment.include_token_scopes,
                },
            )
        )
        return await run_agent(
            deployment.mcp_url,
            issuer=deployment.auth.issuer,
            token_endpoint=deployment.auth.token_endpoint,
            client_id=client.client_id,
            client_secret=client.client_secret or "",
            emit=emit,
            replacing=replacing,
        )


class Trace:
    """Prints events as an aligned trace, coloured when the terminal supports it."""

    def __init__(self, out: TextIO, *, color: bool) -> None:
        self.out = out
        self.color = color
        self._pending: Event | None = None

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def line(self, tag: str, code: str, text: str) -> None:
        print(f"  {self.paint(f'{tag:<7}', code)} {text}", file=self.out)

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind == "start":
            client = "replaces its scopes (SDK 1.x style)" if event["replacing"] else "accumulates scopes (SDK 2.x)"
            include = event["include_token_scopes"]
            option = {True: "on", False: "off"}.get(include, f"{include} (on before MCP 2026-07-28)")
            print(self.paint("fastmcp-scopes demo: an agent that starts with a minimal token", "1"), file=self.out)
            for label, value in (
                ("authorization server", event["issuer"]),
                ("MCP server", event["mcp_url"]),
                ("agent client", client),
                ("include token scopes", f"{option} (FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES)"),
            ):
                print(f"  {label:<22}{value}", file=self.out)
            print(file=self.out)
        elif kind == "request":
            self._pending = event
        elif kind == "response":
            self._response(event)
        elif kind == "token":
            if event["step_up"]:
                change = " ".join([*("+" + s for s in event["gained"]), *("-" + s for s in event["lost"])])
                self.line("step-up", "35", f"token now {' '.join(event['scopes'])}   ({change or 'no change'})")
            else:
                self.line("token", "35", f"{' '.join(event['scopes'])}   (the baseline the 401 named)")
        elif kind == "token-refused":
            self.line("refused", "31", f"the authorization server said {event['body'].get('error')}")
        elif kind == "result":
            self.line("result", "32", f"{event['tool']}: {event['text']}")
        elif kind == "loop":
            self.line("stopped", "31;1", f"after {event['reauthorizations']} re-authorizations: a loop")
            print(
                "\n  Each 403 named only what its operation needs (the MCP spec's advice), and this client\n"
                "  replaced its scopes with the challenge instead of adding to them, dropping one scope to\n"
                "  gain another, so every step re-authorized. Clients should accumulate (SEP-2350); for\n"
                "  those that do not, set FASTMCP_SCOPES_SCOPE_CHALLENGE_INCLUDE_TOKEN_SCOPES=true and\n"
                "  challenges also name the scopes the token already holds.",
                file=self.out,
            )
        elif kind == "done" and event["completed"]:
            count = event["reauthorizations"]
            print(f"\n  Done: the task completed with {count} step-up{'s' if count != 1 else ''}.", file=self.out)

    def _response(self, event: Event) -> None:
        request, self._pending = self._pending, None
        what = ""
        if request is not None:
            what = f"{request['method']} {request['name'] or ''}".strip()
        status = event["status"]
        if status == 401:
            detail = f'no token; challenge scope="{event["scope"]}"'
        elif status == 403:
            detail = f'{event["error"]}; challenge scope="{event["scope"]}"'
        else:
            detail = "ok" if status < 400 else "refused"
        held = request["token_scopes"] if request is not None else None
        code = "33" if status in (401, 403) else "36"
        self.line(str(status), code, f"{what:<32}{detail}")
        if status == 403 and held:
            self.line("", "2", self.paint(f"token held {' '.join(held)}", "2"))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.employees", description=__doc__.splitlines()[0])
    parser.add_argument("--replacing", action="store_true", help="use a client that replaces its scopes on a 403")
    parser.add_argument("--serve", action="store_true", help="keep the servers running for another MCP client")
    parser.add_argument("--clients", action="store_true", help="run the task with each installed MCP client")
    parser.add_argument("--no-color", action="store_true", help="plain output")
    return parser.parse_args(argv)


async def serve(out: TextIO) -> None:
    """Run both servers until interrupted, and say how to connect."""
    async with AsyncExitStack() as stack:
        deployment = await deploy(stack)
        client = deployment.auth.register_client(scopes=GRANTABLE)
        print("fastmcp-scopes demo servers (Ctrl-C to stop)", file=out)
        for label, value in (
            ("MCP server", deployment.mcp_url),
            ("authorization server", deployment.auth.issuer),
            ("token endpoint", deployment.auth.token_endpoint),
            ("JWKS URI", deployment.auth.jwks_uri),
            ("resource", deployment.mcp_url),
            ("client id", client.client_id),
            ("client secret", client.client_secret),
            ("grantable scopes", " ".join(GRANTABLE)),
        ):
            print(f"  {label:<22}{value}", file=out)
        # Without resource= the token endpoint answers invalid_target: the token's aud is the resource asked
        # for (RFC 8707), and the MCP server accepts only tokens issued for itself.
        print(
            "  Token requests must name the MCP server as resource= (RFC 8707): it becomes the token's audience.\n"
            f"    curl -u {client.client_id}:{client.client_secret} -d grant_type=client_credentials "
            f"-d resource={deployment.mcp_url} -d 'scope={' '.join(GRANTABLE[:4])}' {deployment.auth.token_endpoint}\n"
            "  Dynamic client registration is open too, for clients that register themselves.",
            file=out,
            flush=True,
        )
        await anyio.to_thread.run_sync(threading.Event().wait, abandon_on_cancel=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The trace tells the story; the libraries' own request logs and the audit log would repeat it.
    for name in ("httpx2", "mcp", "client", "fastmcp_scopes", "uvicorn"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if args.clients:
        from examples.employees.clients import main as clients  # starts node and other Pythons: only when asked

        return clients(["--no-color"] if args.no_color else [])
    if args.serve:
        with suppress(KeyboardInterrupt):
            anyio.run(serve, sys.stdout)
        return 0
    color = not args.no_color and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    completed = anyio.run(lambda: demo(replacing=args.replacing, emit=Trace(sys.stdout, color=color)))
    return 0 if completed else 1  # whether the story succeeded: a stopped loop did not complete the task


__all__ = ["MAX_REAUTHORIZATIONS", "demo", "main"]

if __name__ == "__main__":
    sys.exit(main())
