"""Admin HTTP: `GET /metrics` (Prometheus text), `GET /healthz` (alive), `GET /readyz` (ready),
the ledger, tenants and dead letters under /v1/, and the console at /ui (admin.ui); with
admin.token set, /v1/ and /ui ask for it (publisher.http.console.auth).

/healthz answers 200 whenever the event loop gets to run the handler: a wedged loop is what a
liveness probe should catch. /readyz answers 200 only when every readiness check is True, and
503 with the checks otherwise (also when the checks themselves fail or take too long), so a
load balancer stops sending to a daemon that cannot store or publish, or is draining. A check
may fail with a reason (a string instead of False): the answer lists it under `failing`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from publisher.http.console.api import DeadLetterApi
from publisher.http.console.auth import AdminAuth
from publisher.http.console.console import Console
from publisher.http.console.pages import login_page
from publisher.http.server import server_for
from publisher.ledger.lookup import EventLookup
from publisher.observe.metrics import Metrics
from publisher.settings import AdminSettings, Settings

log = structlog.get_logger(__name__)

Readiness = Callable[[], Awaitable[Mapping[str, bool | str]]]
"""Each check: True (passes), False or a string saying why it fails."""
TenantReport = Callable[[], Awaitable[list[dict[str, Any]]]]

# A probe that hangs is as good as a failed one; answer before the kubelet's own timeout (1 s).
READINESS_TIMEOUT_S = 0.9


class Admin:
    """The admin HTTP server; `port` is the bound port once started (useful with port 0)."""

    def __init__(
        self,
        settings: AdminSettings,
        metrics: Metrics,
        readiness: Readiness,
        events: EventLookup | None = None,
        whole: Settings | None = None,
    ) -> None:
        """`whole` (the full settings) adds the dead-letter endpoints and, with admin.ui,
        the console."""
        self._settings = settings
        self._auth = AdminAuth(settings, login_page)
        self._dead_letters = DeadLetterApi(whole) if whole is not None else None
        self._console = (
            Console(whole, metrics, self._auth, events, lambda: self.tenant_report)
            if whole is not None and settings.ui
            else None
        )
        self._metrics = metrics
        self._readiness = readiness
        self._events = events
        self._server = server_for("admin", settings)
        self.tenant_report: TenantReport | None = None
        """Set once the pipeline exists; GET /v1/tenants answers 503 until then."""

    @property
    def port(self) -> int:
        return self._server.port

    async def start(self) -> None:
        """Bind settings.host:settings.port and start answering."""
        app = web.Application(middlewares=[self._auth.middleware])
        app.router.add_get("/metrics", self._metrics_text)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        if self._events is not None:
            app.router.add_get("/v1/events/{id}", self._event)
        app.router.add_get("/v1/tenants", self._tenants)
        if self._dead_letters is not None:
            self._dead_letters.add_routes(app)
        if self._console is not None:
            self._console.add_routes(app)
            self._console.start()
        await self._server.start(app)

    async def stop(self) -> None:
        if self._console is not None:
            await self._console.stop()
        if self._events is not None:
            await self._events.close()
        await self._server.stop()

    async def _metrics_text(self, request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self._metrics.registry))
        # CONTENT_TYPE_LATEST carries a charset, which aiohttp's content_type argument refuses.
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_S):
                checks = await self._readiness()
        except TimeoutError:
            log.warning("readiness_timeout", timeout_s=READINESS_TIMEOUT_S)
            return _json(503, {"ready": False, "checks": {}, "error": "readiness checks timed out"})
        except Exception as exc:
            log.warning("readiness_failed", error=repr(exc))
            return _json(
                503, {"ready": False, "checks": {}, "error": f"readiness checks failed: {exc!r}"}
            )
        passing = {name: value is True for name, value in checks.items()}
        failing = {name: value for name, value in checks.items() if isinstance(value, str)}
        ready = all(passing.values())
        payload: dict[str, Any] = {"ready": ready, "checks": passing}
        if failing:
            payload["failing"] = failing
        return _json(200 if ready else 503, payload)

    async def _event(self, request: web.Request) -> web.Response:
        """What became of an event: 200 with the trace view, 404 (state unknown) if unknown."""
        assert self._events is not None
        tenant = request.query.get("tenant")
        try:
            found, _ = await self._events.find(request.match_info["id"], tenant)
        except Exception as exc:
            log.warning("event_lookup_failed", error=repr(exc))
            return _json(503, {"error": f"ledger lookup failed: {exc!r}"})
        return _json(404 if found["state"] == "unknown" else 200, found)

    async def _tenants(self, request: web.Request) -> web.Response:
        if self.tenant_report is None:
            return _json(503, {"error": "not publishing yet"})
        return _json(200, {"tenants": await self.tenant_report()})


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")
