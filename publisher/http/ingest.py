"""HTTP ingest: `POST /v1/events` stores valid events durably in the input, then answers.

Answers (always JSON):

- 202 `{"accepted": n, "duplicates": d, "ids": [...], "rejected": [{"index": i, "error":
  "field: rule"}]}` once the accepted events are stored (one `put` per request, all or
  nothing); `ids` are the accepted events' ids in order, generated where none was given, and
  `duplicates` counts those whose (tenant, id) was already stored (publisher.http.dedupe);
- 400 `{"error": ...}` for a malformed body (see publisher.http.ingest_body for what that is), and
  400 `{"error": "no valid events", "accepted": 0, "rejected": [...]}` when no item is valid;
  nothing is stored either way;
- 401 without `Authorization: Bearer <ingest.token>` when a token is configured;
- 413 when the body is larger than ingest.max_body_bytes (refused before it is read in full);
- 503 `{"error": "full"}` with `Retry-After: 1` when the input is full (nothing stored),
  503 `{"error": "unavailable"}` when the input cannot be reached,
  503 `{"error": "draining"}` once the daemon is shutting down;
- 405 for other methods on /v1/events, 404 for any other path.

The body is events (publisher.http.ingest_body) or CloudEvents (publisher.http.cloudevents).
`GET /openapi.json` serves the OpenAPI document of this API (publisher.http.openapi).

At most MAX_REPORTED_REJECTIONS rejections are listed; past that the answer also carries
`"rejected_count"`, the full number, so that a huge body of bad items gets a bounded reply.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web

from publisher.core.tenants import TenantRegistry
from publisher.errors import InputFull, InputUnavailable
from publisher.http import cloudevents, openapi
from publisher.http.dedupe import IdempotentPuts, Stored
from publisher.http.ingest_body import (
    NDJSON_CONTENT_TYPES,
    Decoded,
    MalformedBody,
    decode_steps,
)
from publisher.http.server import HttpServer
from publisher.inputs.base import Input
from publisher.observe.metrics import Metrics
from publisher.settings import IngestSettings

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]

EVENTS_PATH = "/v1/events"
MAX_REPORTED_REJECTIONS = 1000
# A large body is decoded on the loop in slices of this many items (a few ms each), yielding
# in between so that other requests and the pipeline keep running: decoding in one go would
# stall the loop for the whole body, and a worker thread would contend with it for the GIL.
SLICE_ITEMS = 500
_JSON = "application/json"
_LINGER_S = 2.0


class Ingest:
    """The ingest HTTP server; `port` is the bound port once started (useful with port 0).

    An input with the ValidatedPuts fast lane (the spool) gets the events as validated here
    along with their bodies, so that its consumer in this process need not decode them again.
    """

    def __init__(
        self, settings: IngestSettings, sink: Input, tenants: TenantRegistry, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._puts = IdempotentPuts(sink, settings)
        self._route = tenants.route
        self._metrics = metrics
        token = settings.token.get_secret_value() if settings.token is not None else None
        self._token = token.encode() if token is not None else None
        self._draining = False
        self._server = HttpServer("ingest", settings.host, settings.port)

    @property
    def port(self) -> int:
        return self._server.port

    async def start(self) -> None:
        """Bind settings.host:settings.port and start answering."""
        app = web.Application(client_max_size=self._settings.max_body_bytes)
        app.router.add_post(EVENTS_PATH, self._post_events)
        app.router.add_get(openapi.PATH, openapi.serve)
        app.router.add_route("*", openapi.PATH, self._allow("GET"))
        app.router.add_route("*", EVENTS_PATH, self._allow("POST"))
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # After an early 413 aiohttp reads and drops the rest of the body (so the client sees the
        # answer) for lingering_time; its 10 s default would also hold up stop() that long.
        await self._server.start(app, lingering_time=_LINGER_S)

    def start_draining(self) -> None:
        """From now on every POST answers 503 draining."""
        self._draining = True
        log.info("ingest_draining")

    async def stop(self) -> None:
        """Stop listening; requests under way finish (their events are stored) first."""
        await self._server.stop()
        self._puts.close()

    async def _post_events(self, request: web.Request) -> web.Response:
        if self._token is not None and not self._authorized(request):
            return self._reply(
                401,
                {"error": "missing or wrong bearer token"},
                {"WWW-Authenticate": 'Bearer realm="ingest"'},
            )
        if self._draining:
            return self._reply(503, {"error": "draining"})
        length = request.content_length
        if length is not None and length > self._settings.max_body_bytes:
            return self._too_large()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large()
        try:
            parser = cloudevents.binary_parser(request.headers) or cloudevents.PARSERS.get(
                request.content_type
            )
            if parser is not None:
                decoded = await self._parse(parser, body)
            else:
                decoded = await self._decode(body, request.content_type in NDJSON_CONTENT_TYPES)
        except MalformedBody as exc:
            return self._reply(400, {"error": str(exc)})
        if not decoded.bodies:
            self._count_events(0, len(decoded.rejected))
            return self._reply(400, {"error": "no valid events", **_report(decoded)})
        return await self._store(decoded)

    async def _decode(self, body: bytes, ndjson: bool) -> Decoded:
        decoded = Decoded()
        for _ in decode_steps(body, ndjson, self._route, decoded, SLICE_ITEMS):
            await asyncio.sleep(0)  # let other requests and the pipeline run between slices
        return decoded

    async def _parse(self, parser: cloudevents.Steps, body: bytes) -> Decoded:
        decoded = Decoded()
        for _ in parser(body, self._route, decoded, SLICE_ITEMS):
            await asyncio.sleep(0)  # let other requests and the pipeline run between slices
        return decoded

    async def _store(self, decoded: Decoded) -> web.Response:
        try:
            stored = await self._puts.put(decoded)
        except InputFull:
            self._count_events(0, len(decoded.rejected))
            return self._reply(503, {"error": "full"}, {"Retry-After": "1"})
        except InputUnavailable as exc:
            log.warning("ingest_input_unavailable", error=str(exc))
            return self._reply(503, {"error": "unavailable"}, {"Retry-After": "1"})
        except Exception:
            log.exception("ingest_store_failed")
            return self._reply(500, {"error": "the events could not be stored"})
        self._count_events(len(decoded.bodies) - stored.duplicates, len(decoded.rejected))
        if stored.duplicates:
            self._metrics.ingest_events.labels(outcome="duplicate").inc(stored.duplicates)
        return self._reply(202, _report(decoded, stored))

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self._token is None:
            return False
        return hmac.compare_digest(credentials.strip().encode("utf-8", "replace"), self._token)

    def _too_large(self) -> web.Response:
        limit = self._settings.max_body_bytes
        response = self._reply(413, {"error": f"the body is larger than {limit} bytes"})
        response.force_close()  # the rest of the body is still on its way: no keep-alive
        return response

    def _allow(self, method: str) -> Handler:
        """A handler answering 405 to any other method than `method` on its path."""

        async def method_not_allowed(request: web.Request) -> web.Response:
            error = f"{request.method} is not allowed; use {method}"
            return self._reply(405, {"error": error}, {"Allow": method})

        return method_not_allowed

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._reply(404, {"error": f"no such path; POST events to {EVENTS_PATH}"})

    def _count_events(self, accepted: int, rejected: int) -> None:
        if accepted:
            self._metrics.ingest_events.labels(outcome="accepted").inc(accepted)
        if rejected:
            self._metrics.ingest_events.labels(outcome="rejected").inc(rejected)

    def _reply(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        self._metrics.ingest_requests.labels(code=str(status)).inc()
        return web.Response(
            status=status, body=orjson.dumps(payload), content_type=_JSON, headers=headers
        )


def _report(decoded: Decoded, stored: Stored | None = None) -> dict[str, Any]:
    rejected = decoded.rejected
    report: dict[str, Any] = {
        "accepted": len(decoded.bodies),
        "duplicates": stored.duplicates if stored is not None else 0,
        "ids": stored.ids if stored is not None else [],
        "rejected": [
            {"index": index, "error": error} for index, error in rejected[:MAX_REPORTED_REJECTIONS]
        ],
    }
    if len(rejected) > MAX_REPORTED_REJECTIONS:
        report["rejected_count"] = len(rejected)
    return report
