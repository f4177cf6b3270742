"""The employees demo against a server of any lineage: ``bash scripts/demo --server sdk1``.

The agent and the development authorization server run here, on the MCP Python SDK 2.x client, as in
``python -m examples.employees``; the MCP server runs in the lineage's own environment (``--server-python``,
``.venvs/<lane>/bin/python`` by default) as a separate process (:mod:`examples.employees.lineage_server`),
so the same story plays against the MCP SDK 1.x ``FastMCP``, the 2.x ``MCPServer``, and fastmcp 3.x or 4.x.

    python -m examples.employees.lineages --server sdk1 [--replacing] [--no-color]

Exit status: 0 when the agent's task completed, 1 when it did not, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import anyio

from examples.employees.__main__ import Trace
from examples.employees.agent import run_agent
from examples.employees.lineage_server import LINEAGES
from examples.employees.server import GRANTABLE
from fastmcp_scopes.testing import DevAuthorizationServer

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the MCP server did not start (exit code {process.poll()})")


async def demo(lineage: str, python: str, *, replacing: bool, trace: Trace) -> bool:
    """Run the story once against a ``lineage`` server started with ``python``; ``True`` when it completed."""
    with DevAuthorizationServer(scopes=GRANTABLE) as auth, tempfile.TemporaryFile() as log:
        port = _free_port()
        command = [python, "-m", "examples.employees.lineage_server", "--lineage", lineage]
        command += ["--issuer", auth.issuer, "--jwks-uri", auth.jwks_uri, "--port", str(port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
        # The server's own log is shown only if it fails to start: the SDKs log tracebacks when a stream is
        # cut at exit, which would end the trace with noise.
        server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)
        try:
            try:
                await anyio.to_thread.run_sync(_wait_for, port, server)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
                raise
            url = f"http://127.0.0.1:{port}/mcp"
            client = auth.register_client(scopes=GRANTABLE)
            trace.line("server", "1", f"{lineage} ({python})")
            return await run_agent(
                url,
                issuer=auth.issuer,
                token_endpoint=auth.token_endpoint,
                client_id=client.client_id,
                client_secret=client.client_secret or "",
                emit=trace,
                replacing=replacing,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.employees.lineages", description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=LINEAGES, required=True, help="the lineage of the MCP server")
    parser.add_argument("--server-python", help="the Python of the lineage's environment (default .venvs/<lane>)")
    parser.add_argument("--replacing", action="store_true", help="use a client that replaces its scopes on a 403")
    parser.add_argument("--no-color", action="store_true", help="plain output")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    for name in ("httpx2", "mcp", "client", "fastmcp_scopes", "uvicorn"):
        logging.getLogger(name).setLevel(logging.ERROR)
    python = args.server_python or str(ROOT / ".venvs" / args.server / "bin" / "python")
    color = not args.no_color and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    trace = Trace(sys.stdout, color=color)
    completed = anyio.run(lambda: demo(args.server, python, replacing=args.replacing, trace=trace))
    return 0 if completed else 1  # as python -m examples.employees: whether the task completed


if __name__ == "__main__":
    sys.exit(main())
