"""HTTP ingest: `POST /v1/events` stores valid events durably in the input, then answers.

Answers (always JSON):

- 202 `{"accepted": n, "duplicates": d, "ids": [...], "rejected": [{"index": i, "error":
  "field: rule"}]}` once the accepted events are stored (one `put` per request, all or
  nothing); `ids` are the accepted events' ids in order, generated where none was given, and
  `duplicates` counts those whose (tenant, id) was already stored (publisher.http.dedupe);
- 400 `{"error": ...}` for a malformed body (see publisher.http.ingest_body for what that is), and
  400 `{"error": "no valid events", "accepted": 0, "rejected": [...]}` when no item is valid;
  nothing is stored either way. An item is rejected by the same rules the pipeline applies
  (the entry over publish.max_request_bytes, nesting, integers), whatever the body's format;
- 408 when the body does not arrive within ingest.body_timeout_s (the connection is closed);
- 415 for a Content-Type that has no parser (PARSERS below; a request without one is read as
  application/json);
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
from prometheus_client import Counter

from publisher.core.event import Event, entry_size
from publisher.core.tenants import TenantRegistry
from publisher.errors import DiskFull, InputFull, InputUnavailable, InvalidEvent
from publisher.http import cloudevents, openapi
from publisher.http.dedupe import IdempotentPuts, Stored
from publisher.http.ingest_body import (
    BODY_PARSERS,
    DEFAULT_CONTENT_TYPE,
    BodyParser,
    Decoded,
    MalformedBody,
)
from publisher.http.server import server_for
from publisher.inputs.base import Input
from publisher.observe.health import Health
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
# An entry's bytes besides Detail and Resources: at most 256 characters of source and 128 of
# detail type, 4 UTF-8 bytes each, and 14 for Time.
_MOST_BESIDES = 4 * 256 + 4 * 128 + 14
PUT_CHECK = "input_puts"
"""The health check ingest fails while the input refuses to store (a full disk, an outage)."""
PUT_FAILURE_SHOWN_S = 10.0

PARSERS: dict[str, BodyParser] = {**BODY_PARSERS, **cloudevents.PARSERS}
"""Content-Type (without parameters, lower case) -> its parser; any other type is a 415."""


class Ingest:
    """The ingest HTTP server; `port` is the bound port once started (useful with port 0).

    An input with the ValidatedPuts fast lane (the spool) gets the events as validated here
    along with their bodies, so that its consumer in this process need not decode them again.
    """

    def __init__(
        self,
        settings: IngestSettings,
        sink: Input,
        tenants: TenantRegistry,
        metrics: Metrics,
        *,
        max_request_bytes: int | None = None,
        health: Health | None = None,
    ) -> None:
        self._settings = settings
        self._puts = IdempotentPuts(sink, settings)
        self._tenants = tenants
        self._max_request_bytes = max_request_bytes
        self._metrics = metrics
        # The counters' children, looked up once: labels() takes a lock and builds a key.
        self._events_counted = {
            outcome: metrics.ingest_events.labels(outcome=outcome)
            for outcome in ("accepted", "rejected")
        }
        self._requests_counted: dict[int, Counter] = {}
        self._health = health or Health()
        token = settings.token.get_secret_value() if settings.token is not None else None
        self._token = token.encode() if token is not None else None
        self._draining = False
        self._server = server_for("ingest", settings)

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
        parser = _parser_for(request)
        if parser is None:
            return self._unsupported_type(request.content_type)
        length = request.content_length
        if length is not None and length > self._settings.max_body_bytes:
            return self._too_large()
        try:
            async with asyncio.timeout(self._settings.body_timeout_s):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large()
        except TimeoutError:
            return self._body_timeout()
        try:
            decoded = await self._parse(parser, body)
        except MalformedBody as exc:
            return self._reply(400, {"error": str(exc)})
        if not decoded.bodies:
            self._count_events(0, len(decoded.rejected))
            return self._reply(400, {"error": "no valid events", **_report(decoded)})
        return await self._store(decoded)

    async def _parse(self, parser: BodyParser, body: bytes) -> Decoded:
        decoded = Decoded()
        for _ in parser(body, self._admit, decoded, SLICE_ITEMS):
            await asyncio.sleep(0)  # let other requests and the pipeline run between slices
        return decoded

    def _admit(self, event: Event) -> None:
        """The pipeline's rules that do not change while an event waits: its tenant's route
        and AWS's size of the entry (answered now, not dead-lettered later)."""
        route = self._tenants.routes.get(event.tenant)
        if route is None or (event.source is not None and event.source != route.source):
            route = self._tenants.route(event)  # raises: an unknown tenant or another's source
        limit = self._max_request_bytes
        if limit is None or (not event.resources and event.detail_bytes + _MOST_BESIDES <= limit):
            return  # the usual event: within the limit whatever its other strings hold
        if (size := entry_size(route.source, event)) > limit:
            raise InvalidEvent(
                "event", f"entry is {size} bytes, over publish.max_request_bytes {limit}"
            )

    async def _store(self, decoded: Decoded) -> web.Response:
        try:
            stored = await self._puts.put(decoded)
        except DiskFull as exc:
            self._put_failed(exc)
            self._count_events(0, len(decoded.rejected))
            return self._reply(503, {"error": "full"}, {"Retry-After": "1"})
        except InputFull:
            self._count_events(0, len(decoded.rejected))
            return self._reply(503, {"error": "full"}, {"Retry-After": "1"})
        except InputUnavailable as exc:
            self._put_failed(exc)
            log.warning("ingest_input_unavailable", error=str(exc))
            return self._reply(503, {"error": "unavailable"}, {"Retry-After": "1"})
        except Exception as exc:
            self._put_failed(exc)
            log.exception("ingest_store_failed")
            return self._reply(500, {"error": "the events could not be stored"})
        self._health.ok(PUT_CHECK)
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

    def _put_failed(self, exc: Exception) -> None:
        # Known only when a client posts: reported for a while, not until the next success,
        # or a load balancer that stops sending on 503 would never let it clear.
        self._health.fail(PUT_CHECK, f"events cannot be stored: {exc}", PUT_FAILURE_SHOWN_S)

    def _unsupported_type(self, content_type: str) -> web.Response:
        accepted = ", ".join(sorted(PARSERS))
        return self._reply(
            415, {"error": f"Content-Type {content_type} is not accepted; send one of {accepted}"}
        )

    def _body_timeout(self) -> web.Response:
        limit = self._settings.body_timeout_s
        response = self._reply(408, {"error": f"the body did not arrive within {limit} s"})
        response.force_close()
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
            self._events_counted["accepted"].inc(accepted)
        if rejected:
            self._events_counted["rejected"].inc(rejected)

    def _reply(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        requests = self._requests_counted.get(status)
        if requests is None:
            requests = self._metrics.ingest_requests.labels(code=str(status))
            self._requests_counted[status] = requests
        requests.inc()
        return web.Response(
            status=status, body=orjson.dumps(payload), content_type=_JSON, headers=headers
        )


def _parser_for(request: web.Request) -> BodyParser | None:
    """The parser for the request's body: CloudEvents binary mode by its headers, else by
    Content-Type (none sent: JSON), or None for a type that has none (415)."""
    binary = cloudevents.binary_parser(request.headers)
    if binary is not None:
        return binary
    content_type = request.content_type if "Content-Type" in request.headers else None
    return PARSERS.get((content_type or DEFAULT_CONTENT_TYPE).lower())


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
