"""One aiohttp application on host:port: binding, the bound port, and a bounded stop.

Ingest and admin both run through this. Stopping is bounded twice: aiohttp's own
`shutdown_timeout` caps how long a request under way may take to finish (then its handler is
cancelled), and an outer deadline caps the whole cleanup, so a stuck peer can delay the
daemon's exit by seconds at most, never past the orchestrator's grace period. Idle keep-alive
connections (a Prometheus scraper keeps one open) are closed at once by aiohttp and do not
hold the stop. A ConnectionGuard (publisher.http.connections) closes connections that stay
idle or trickle their headers, and those past a cap, on both servers.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog
from aiohttp import web

from publisher.http.connections import ConnectionGuard

log = structlog.get_logger(__name__)

# Requests under way get this long to finish on stop: enough for a spool put or a scrape.
SHUTDOWN_TIMEOUT_S = 3.0
# On top of that, for closing sockets and the application's cleanup hooks.
_CLEANUP_MARGIN_S = 1.0
DEFAULT_IDLE_TIMEOUT_S = 15.0
DEFAULT_MAX_CONNECTIONS = 1024


class Listening(Protocol):
    """The config section of a server: where it listens and how it treats connections."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def idle_timeout_s(self) -> float: ...
    @property
    def max_connections(self) -> int: ...


def server_for(name: str, settings: Listening) -> HttpServer:
    """The server a config section (ingest, admin) describes."""
    return HttpServer(
        name,
        settings.host,
        settings.port,
        idle_timeout_s=settings.idle_timeout_s,
        max_connections=settings.max_connections,
    )


class HttpServer:
    """Serves one app; `port` is the bound port once started (useful with port 0).

    Logs `<name>_started` and `<name>_stopped`.
    """

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.name = name
        self._guard = ConnectionGuard(name, idle_timeout_s, max_connections)
        self.host = host
        self._requested_port = port
        self._shutdown_timeout_s = shutdown_timeout_s
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._port

    async def start(self, app: web.Application, **runner_options: Any) -> None:
        """Bind and start answering; a failed bind leaves nothing running."""
        app.middlewares.append(self._guard.middleware)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._shutdown_timeout_s,
            **runner_options,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._guard.attach(runner.server)
        self._port = int(runner.addresses[0][1])
        log.info(f"{self.name}_started", host=self.host, port=self._port)

    async def stop(self) -> None:
        """Stop listening, let requests under way finish (bounded), close every connection."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._guard.stop()
        deadline_s = self._shutdown_timeout_s + _CLEANUP_MARGIN_S
        try:
            async with asyncio.timeout(deadline_s):
                await runner.cleanup()
        except TimeoutError:
            log.warning(f"{self.name}_stop_timeout", timeout_s=deadline_s)
        log.info(f"{self.name}_stopped")
