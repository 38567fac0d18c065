"""The send queue: admitted entries on their way to a call, and entries waiting to be retried."""

from __future__ import annotations

import heapq
import itertools
from collections import deque

from publisher.core.admission import Entry
from publisher.core.batching import Batch, Batcher


class SendQueue:
    """Batches ready to send, in order; open batches lingering; retries waiting for their time.

    Batches sent again in halves go first: their events have waited longest.
    """

    def __init__(self, max_entries: int, max_request_bytes: int, linger_s: float) -> None:
        self._batcher: Batcher[Entry] = Batcher(max_entries, max_request_bytes, linger_s)
        self._ready: deque[Batch[Entry]] = deque()
        self._retries: list[tuple[float, int, Entry]] = []
        self._sequence = itertools.count()

    def add(self, entry: Entry, now: float) -> None:
        """Add to its Region's open batch; a batch this closes is ready."""
        closed = self._batcher.add(entry, now)
        if closed:
            self._ready.extend(closed)

    def retry_at(self, ready_at: float, entry: Entry) -> None:
        heapq.heappush(self._retries, (ready_at, next(self._sequence), entry))

    def resend_first(self, batch: Batch[Entry]) -> None:
        self._ready.appendleft(batch)

    def promote_due(self, now: float) -> None:
        """Retries due by `now` join open batches; batches that lingered long enough are ready."""
        retries = self._retries
        while retries and retries[0][0] <= now:
            self.add(heapq.heappop(retries)[2], now)
        self._ready.extend(self._batcher.due(now))

    def flush(self) -> None:
        """Every open batch is ready now (on shutdown); waiting retries stay where they are."""
        self._ready.extend(self._batcher.flush())

    def next_deadline(self) -> float | None:
        """When the next open batch closes or the next retry is due."""
        deadlines = [d for d in (self._batcher.next_deadline(),) if d is not None]
        if self._retries:
            deadlines.append(self._retries[0][0])
        return min(deadlines, default=None)

    def take(self) -> Batch[Entry] | None:
        """The next ready batch, if any."""
        return self._ready.popleft() if self._ready else None

    def sent_all(self) -> bool:
        """Nothing ready and nothing open (retries waiting for their time do not count)."""
        return not self._ready and len(self._batcher) == 0
