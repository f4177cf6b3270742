"""An ASGI app served by uvicorn on 127.0.0.1 in a background thread, for tests and demos that need
real HTTP (the development authorization server, resource servers, upstream GraphQL endpoints)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Literal

import anyio
import uvicorn
from starlette.types import ASGIApp

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and a free port, in a background thread.

    Give ``app``, or ``app_factory`` taking the base URL (``http://127.0.0.1:<port>``) for apps
    that must know their own address. Use ``with`` or ``async with`` (starting and stopping
    happen in a worker thread then, so the caller's event loop keeps running), or :meth:`start`
    and :meth:`stop`.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        app_factory: Callable[[str], ASGIApp] | None = None,
        host: str = "127.0.0.1",
        lifespan: Literal["on", "off", "auto"] = "off",
    ) -> None:
        if (app is None) == (app_factory is None):
            raise ValueError("give exactly one of app and app_factory")
        self._app = app
        self._app_factory = app_factory
        self._host = host
        self._lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str = ""
        """``http://127.0.0.1:<port>`` once started."""

    def start(self) -> str:
        """Bind, start serving and return the base URL once uvicorn accepts connections."""
        if self._server is not None:
            raise RuntimeError("already started")
        # IPPROTO_TCP: asyncio disables Nagle only on sockets it knows are TCP; without it every response
        # waits for the peer's delayed ACK (about 40 ms on loopback).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        port = sock.getsockname()[1]
        self.base_url = f"http://{self._host}:{port}"
        app = self._app_factory(self.base_url) if self._app_factory is not None else self._app
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=self._lifespan, ws="none")  # type: ignore[arg-type]
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="loopback")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> str:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.stop)
