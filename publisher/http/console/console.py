"""Puts the console together: its routes on the admin app and the throughput sampler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from publisher.http.console.auth import AdminAuth
from publisher.http.console.dead_letters import DeadLetterPages
from publisher.http.console.overview import Throughput
from publisher.http.console.pages import ReadPages, TenantReport
from publisher.ledger.lookup import EventLookup
from publisher.observe.metrics import Metrics
from publisher.settings import Settings


class Console:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        auth: AdminAuth,
        events: EventLookup | None,
        tenant_report: Callable[[], TenantReport | None],
    ) -> None:
        self.throughput = Throughput(metrics)
        self._auth = auth
        self._read = ReadPages(settings, self.throughput, events, tenant_report, self._signed_in)
        self._dead_letters = DeadLetterPages(settings, auth.enabled, self._signed_in)
        self._sampler: asyncio.Task[None] | None = None

    def _signed_in(self) -> bool:
        # Pages are only rendered for signed-in browsers when a token is set.
        return self._auth.enabled

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ui", self._read.overview)
        app.router.add_get("/ui/tenants", self._read.tenants)
        app.router.add_get("/ui/events", self._read.event)
        app.router.add_get("/ui/dead-letters", self._dead_letters.listing)
        app.router.add_get("/ui/dead-letters/{id}", self._dead_letters.detail)
        app.router.add_post("/ui/dead-letters/replay", self._dead_letters.replay)
        app.router.add_route("*", "/ui/login", self._auth.login)
        app.router.add_post("/ui/logout", self._auth.logout)

    def start(self) -> None:
        self._sampler = asyncio.create_task(self.throughput.run(), name="console-sampler")

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
