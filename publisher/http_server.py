"""Binding and stopping one aiohttp application: what ingest and admin share."""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)


class HttpServer:
    """Serves an app on host:port; `port` is the bound port once started (useful with port 0)."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._port

    async def start(self, app: web.Application, **runner_options: Any) -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, **runner_options)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.info(f"{self.name}_started", host=self.host, port=self._port)

    async def stop(self) -> None:
        """Stop listening; requests under way finish first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            log.info(f"{self.name}_stopped")
