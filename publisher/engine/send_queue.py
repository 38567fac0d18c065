"""The send queue: admitted entries on their way to a call, and entries waiting to be retried.

Entries wait per Region and per tenant (core.fairness); a batch is cut when the dispatcher
asks for one, so the tenants with entries waiting share each call instead of the first
tenant to arrive taking every call until its backlog is gone.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from publisher.core.admission import Entry
from publisher.core.batching import Batch
from publisher.core.fairness import EQUAL_SHARE, FairQueue, ShareOf


@dataclass(slots=True, eq=False)
class _Region:
    queue: FairQueue[Entry]
    opened_at: float = 0.0
    """When its oldest entry not yet sent arrived (or the last batch was cut): linger from."""


class SendQueue:
    """Entries waiting per Region and tenant; batches cut fairly when full or lingered long
    enough; retries waiting for their time. Batches sent again in halves go first: their
    events have waited longest.
    """

    def __init__(
        self,
        max_entries: int,
        max_request_bytes: int,
        linger_s: float,
        share_of: ShareOf = lambda tenant: EQUAL_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_entries >= 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._max_bytes = max_request_bytes
        self._linger_s = linger_s
        self._share_of = share_of
        self._clock = clock
        self._regions: dict[str, _Region] = {}
        self._first: deque[Batch[Entry]] = deque()
        self._retries: list[tuple[float, int, Entry]] = []
        self._sequence = itertools.count()
        self._flushing = False
        self._throttled_reported = 0

    def add(self, entry: Entry, now: float) -> None:
        """Queue the entry under its Region and tenant."""
        self._region(entry.region, now).queue.push(entry)

    def add_all(self, entries: Sequence[Entry], now: float) -> None:
        """Queue entries in order, as add() would one by one (a fetch is mostly one Region)."""
        regions = {entry.region for entry in entries}
        if len(regions) == 1:
            self._region(regions.pop(), now).queue.push_all(entries)
            return
        for entry in entries:
            self.add(entry, now)

    def _region(self, name: str, now: float) -> _Region:
        """The Region's queue, lingering from `now` when nothing of it waits yet."""
        region = self._regions.get(name)
        if region is None:
            queue: FairQueue[Entry] = FairQueue(self._share_of, self._max_entries)
            region = self._regions[name] = _Region(queue, now)
        elif not region.queue.count:
            region.opened_at = now
        return region

    def retry_at(self, ready_at: float, entry: Entry) -> None:
        heapq.heappush(self._retries, (ready_at, next(self._sequence), entry))

    def resend_first(self, batch: Batch[Entry]) -> None:
        self._first.appendleft(batch)

    def promote_due(self, now: float) -> None:
        """Retries due by `now` join their tenants' queues."""
        retries = self._retries
        while retries and retries[0][0] <= now:
            self.add(heapq.heappop(retries)[2], now)

    def flush(self) -> None:
        """Every queued entry may go now, lingering or not (on shutdown); retries still wait."""
        self._flushing = True

    def next_deadline(self) -> float | None:
        """When a Region's entries have lingered long enough, a retry is due, or a tenant held
        back by its rate limit may send again."""
        now = self._clock()
        deadlines = [d for d, _, _ in self._retries[:1]]
        for region in self._regions.values():
            if region.queue.count:
                deadlines.append(region.opened_at + self._linger_s)
                token_at = region.queue.next_token_at(now)
                if token_at is not None:
                    deadlines.append(token_at)
        return min(deadlines, default=None)

    def take(self) -> Batch[Entry] | None:
        """The next batch to send, if any Region has one: full, lingered or flushing."""
        if self._first:
            return self._first.popleft()
        now = self._clock()
        for name, region in self._regions.items():
            queue = region.queue
            if not queue.count or not self._ready(region, now):
                continue
            entries = queue.take(self._max_entries, self._max_bytes, now)
            if entries:
                region.opened_at = now
                # To the back: each Region with batches ready gets its turn.
                self._regions[name] = self._regions.pop(name)
                return Batch(name, entries, queue.last_size)
        return None

    def _ready(self, region: _Region, now: float) -> bool:
        queue = region.queue
        return (
            self._flushing
            or queue.count >= self._max_entries
            or queue.bytes >= self._max_bytes
            or now >= region.opened_at + self._linger_s
        )

    def holds_back(self, entry: Entry) -> bool:
        """Whether the entry's tenant already has a second's worth of its rate limit queued:
        then the entry is better left waiting in the input than in memory."""
        limit = self._share_of(entry.tenant).max_events_per_s
        if limit is None:
            return False
        return self.queued(entry.tenant) >= max(1, math.ceil(limit))

    def allowance(self, tenant: str) -> float:
        """How many more of the tenant's events are worth fetching now (inf: no limit)."""
        limit = self._share_of(tenant).max_events_per_s
        if limit is None:
            return math.inf
        return max(0, math.ceil(limit) - self.queued(tenant))

    def queued(self, tenant: str) -> int:
        """Entries of `tenant` waiting for a call."""
        return sum(region.queue.queued(tenant) for region in self._regions.values())

    def sent_by_tenant(self) -> dict[str, int]:
        """Entries handed out per tenant since the start (retries included)."""
        sent: dict[str, int] = {}
        for region in self._regions.values():
            for tenant, count in region.queue.taken_by_tenant.items():
                sent[tenant] = sent.get(tenant, 0) + count
        return sent

    def waiting_by_tenant(self) -> dict[str, deque[Entry]]:
        """Each tenant's entries waiting for a call, oldest first."""
        tenants: dict[str, deque[Entry]] = {}
        for region in self._regions.values():
            tenants.update(region.queue.tenants())
        return tenants

    def newly_throttled(self) -> int:
        """Entries that waited for their tenant's rate limit since the last call to this."""
        total = sum(region.queue.throttled for region in self._regions.values())
        new, self._throttled_reported = total - self._throttled_reported, total
        return new

    def sent_all(self) -> bool:
        """Nothing queued (retries waiting for their time do not count)."""
        return not self._first and not any(r.queue.count for r in self._regions.values())
