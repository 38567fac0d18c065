"""Bounds on the connections an HTTP server (ingest, admin) keeps: how many, and how idle.

aiohttp closes a keep-alive connection after its keepalive_timeout, but one that trickles
its request headers a byte at a time, or connects and sends nothing, is held for ever, and
nothing bounds how many there are. A guard closes every connection that has no request under
way for idle_timeout_s (headers count as idle until they are complete) and closes at once
any connection past max_connections. Bodies have their own deadline where they are read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _Connection:
    transport: asyncio.BaseTransport
    idle_since: float
    busy: int = 0


class ConnectionGuard:
    """Use `middleware` in the Application, then `attach(runner.server)` after setup."""

    def __init__(self, name: str, idle_timeout_s: float, max_connections: int) -> None:
        self._name = name
        self._idle_timeout_s = idle_timeout_s
        self._max_connections = max_connections
        self._connections: dict[Any, _Connection] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.closed_idle = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._connections)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self._connections.get(request.protocol)
        if connection is None:
            return await handler(request)
        connection.busy += 1
        try:
            return await handler(request)
        finally:
            connection.busy -= 1
            connection.idle_since = asyncio.get_running_loop().time()

    def attach(self, server: web.Server | None) -> None:
        """Hook the server's connection callbacks and start closing idle connections."""
        if server is None:
            raise RuntimeError("attach the guard after the runner's setup()")
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            if len(self._connections) >= self._max_connections:
                self.refused += 1
                log.warning("connection_refused", server=self._name, limit=self._max_connections)
                transport.abort()
                return
            now = asyncio.get_running_loop().time()
            self._connections[handler] = _Connection(transport, now)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self._connections.pop(handler, None)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]
        self._sweeper = asyncio.create_task(self._sweep(), name=f"{self._name}-idle-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        interval_s = min(1.0, self._idle_timeout_s / 4)
        while True:
            await asyncio.sleep(interval_s)
            deadline = loop.time() - self._idle_timeout_s
            idle = [c for c in self._connections.values() if not c.busy and c.idle_since < deadline]
            for connection in idle:
                connection.transport.close()
            if idle:
                self.closed_idle += len(idle)
                log.info("idle_connections_closed", server=self._name, connections=len(idle))
