"""Per-tenant figures: backlog, send rate, oldest event age, source state.

Every tenant is listed by the admin endpoint; the Prometheus gauges carry only the top N
tenants by backlog, so that the number of series stays bounded however many tenants there are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog

from publisher.core.clock import SYSTEM_CLOCKS, Clocks
from publisher.core.source_states import SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.engine.send_queue import SendQueue
from publisher.errors import InputUnavailable
from publisher.inputs.base import Input

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

REPORT_INTERVAL_S = 2.0


@runtime_checkable
class TenantBacklog(Protocol):
    """An input that can count what it stores per tenant (the spool)."""

    async def backlog_by_tenant(self) -> dict[str, tuple[int, float | None]]:
        """Per tenant: messages stored and not acknowledged, and the oldest one's enqueued_at
        (epoch seconds; None if not known)."""


@dataclass(frozen=True, slots=True)
class TenantRow:
    tenant: str
    backlog_events: int
    waiting_events: int
    events_per_s: float
    oldest_event_age_s: float | None
    source_state: str | None
    weight: float
    max_events_per_s: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TenantStats:
    """Counts each tenant's events as they are sent and reads its backlog on request."""

    def __init__(
        self,
        *,
        input: Input,
        queue: SendQueue,
        tenants: TenantRegistry,
        states: SourceStates,
        metrics: Metrics,
        top_n: int,
        clocks: Clocks = SYSTEM_CLOCKS,
    ) -> None:
        self._input = input
        self._queue = queue
        self._tenants = tenants
        self._states = states
        self._metrics = metrics
        self._top_n = top_n
        self._clock = clocks.monotonic
        self._wall_clock = clocks.wall
        self._rates: dict[str, float] = {}
        self._last: tuple[float, dict[str, int]] = (self._clock(), {})

    async def rows(self) -> list[TenantRow]:
        """Every configured tenant and any other with events waiting, largest backlog first."""
        wall = self._wall_clock()
        stored = await self._stored()
        waiting = self._queue.waiting_by_tenant()
        names = {route.tenant for route in self._tenants} | stored.keys() | waiting.keys()
        rows = []
        for name in names:
            entries = waiting.get(name)
            count, oldest = stored.get(name, (0, None))
            if entries and not isinstance(self._input, TenantBacklog):
                count = len(entries)
            if oldest is None and entries:
                oldest = entries[0].message.enqueued_at
            rows.append(self._row(name, count, len(entries or ()), oldest, wall))
        rows.sort(key=lambda row: (-row.backlog_events, row.tenant))
        return rows

    async def report(self) -> list[dict[str, Any]]:
        """rows() as JSON-ready objects (the admin endpoint)."""
        return [row.to_json() for row in await self.rows()]

    def _row(
        self, name: str, backlog: int, waiting: int, oldest: float | None, wall: float
    ) -> TenantRow:
        route = self._tenants.get(name)
        share = self._tenants.share_of(name)
        return TenantRow(
            tenant=name,
            backlog_events=backlog,
            waiting_events=waiting,
            events_per_s=round(self._rates.get(name, 0.0), 3),
            oldest_event_age_s=None if oldest is None else round(max(0.0, wall - oldest), 3),
            source_state=None if route is None else self._states.state(route.source),
            weight=share.weight,
            max_events_per_s=share.max_events_per_s,
        )

    async def _stored(self) -> Mapping[str, tuple[int, float | None]]:
        if not isinstance(self._input, TenantBacklog):
            return {}
        try:
            return await self._input.backlog_by_tenant()
        except InputUnavailable as exc:
            log.warning("tenant_backlog_unavailable", error=str(exc))
            return {}

    def update_rates(self) -> None:
        """Events sent a second per tenant since the previous update."""
        now = self._clock()
        since, before = self._last
        elapsed = now - since
        if elapsed <= 0:
            return
        current = self._queue.sent_by_tenant()
        self._rates = {name: (n - before.get(name, 0)) / elapsed for name, n in current.items()}
        self._last = (now, current)

    async def report_forever(self) -> None:
        """Keep the top-N gauges and the throttled counter current, until cancelled."""
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S)
            self.update_rates()
            self.publish_gauges(await self.rows())

    def publish_gauges(self, rows: list[TenantRow]) -> None:
        backlog = self._metrics.tenant_backlog_events
        age = self._metrics.tenant_oldest_event_age
        # Cleared and set with no await in between: a scrape sees the old set or the new one.
        backlog.clear()
        age.clear()
        for row in rows[: self._top_n]:
            if row.backlog_events <= 0:
                break
            backlog.labels(tenant=row.tenant).set(row.backlog_events)
            if row.oldest_event_age_s is not None:
                age.labels(tenant=row.tenant).set(row.oldest_event_age_s)
