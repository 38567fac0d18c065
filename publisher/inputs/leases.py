"""Leases kept by the one process that consumes a queue: who holds what, until when, and what
is due to be delivered again. Pure bookkeeping by message id; no I/O."""

from __future__ import annotations

import heapq
import itertools
from array import array
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class _Lease:
    until: float
    token: int
    deliveries: int


class LeaseTable:
    """Leased ids with their end times, and ids waiting to be delivered again.

    Ids that come back (released, or leased past their end) wait in batches, ordered by the
    time they become visible: a batch is two compact arrays, so holding many events back for
    a while (a PENDING source) costs 16 bytes each rather than an object each.
    """

    def __init__(self) -> None:
        self._leases: dict[int, _Lease] = {}
        # (until, token, ids) of every lease given, stale ones skipped when they come up; the
        # ids of one fetch share one entry and one _Lease. Leases are given for a fixed time
        # from now, so their ends nearly always arrive in order: a deque takes those at O(1),
        # and a heap only the rare end earlier than the last one (a clock stepped back, a
        # shorter lease). A heap of all cost ~15 comparisons each.
        self._ends: deque[tuple[float, int, Sequence[int]]] = deque()
        self._early_ends: list[tuple[float, int, Sequence[int]]] = []
        self._waiting: list[tuple[float, int, array[int], array[int]]] = []
        self._sequence = itertools.count()
        self._tokens = itertools.count(1)

    def __len__(self) -> int:
        """Ids leased now."""
        return len(self._leases)

    def lease(self, message_id: int, until: float, deliveries: int) -> None:
        self.lease_all((message_id,), until, deliveries)

    def lease_all(self, ids: Sequence[int], until: float, deliveries: int) -> None:
        """Lease every id until `until`, each delivered `deliveries` times: one record for all."""
        if not ids:
            return
        token = next(self._tokens)
        self._leases.update(dict.fromkeys(ids, _Lease(until, token, deliveries)))
        ends = self._ends
        if not ends or ends[-1][0] <= until:
            ends.append((until, token, ids))
        else:
            heapq.heappush(self._early_ends, (until, token, ids))

    def extend(self, ids: Iterable[int], now: float, until: float) -> None:
        """Renew the leases that have not ended yet."""
        by_deliveries: dict[int, list[int]] = {}
        for message_id in ids:
            lease = self._leases.get(message_id)
            if lease is not None and lease.until > now:
                by_deliveries.setdefault(lease.deliveries, []).append(message_id)
        for deliveries, renewed in by_deliveries.items():
            self.lease_all(renewed, until, deliveries)

    def release(self, ids: Iterable[int], visible_at: float) -> None:
        """End the leases still held; those ids are delivered again from `visible_at`."""
        back = [(i, lease) for i in ids if (lease := self._leases.pop(i, None)) is not None]
        self._wait(visible_at, [i for i, _ in back], [lease.deliveries for _, lease in back])

    def forget(self, ids: Iterable[int]) -> None:
        """Acknowledged: no longer leased (an id already waiting is dropped when read)."""
        for message_id in ids:
            self._leases.pop(message_id, None)

    def put_back(self, ids: list[int], deliveries: list[int], visible_at: float) -> None:
        """Return ids from take_due that could not be delivered (the read failed)."""
        self._wait(visible_at, ids, deliveries)

    def take_due(self, now: float, limit: int) -> tuple[list[int], list[int]]:
        """Up to `limit` ids visible again by `now`, with their deliveries so far."""
        self._expire(now)
        ids: list[int] = []
        counts: list[int] = []
        while self._waiting and self._waiting[0][0] <= now and len(ids) < limit:
            visible_at, sequence, batch_ids, batch_counts = heapq.heappop(self._waiting)
            room = limit - len(ids)
            ids.extend(batch_ids[:room])
            counts.extend(batch_counts[:room])
            if len(batch_ids) > room:  # the rest keeps its place in line
                rest = (visible_at, sequence, batch_ids[room:], batch_counts[room:])
                heapq.heappush(self._waiting, rest)
        return ids, counts

    def next_change(self) -> float | None:
        """When the next lease ends or the next waiting batch becomes visible."""
        times = [self._ends[0][0]] if self._ends else []
        if self._early_ends:
            times.append(self._early_ends[0][0])
        if self._waiting:
            times.append(self._waiting[0][0])
        return min(times, default=None)

    def _expire(self, now: float) -> None:
        ended: list[int] = []
        counts: list[int] = []
        ends, early = self._ends, self._early_ends
        while ends and ends[0][0] <= now:
            self._end(ends.popleft(), ended, counts)
        while early and early[0][0] <= now:
            self._end(heapq.heappop(early), ended, counts)
        self._wait(now, ended, counts)

    def _end(
        self, entry: tuple[float, int, Sequence[int]], ended: list[int], counts: list[int]
    ) -> None:
        _, token, ids = entry
        leases = self._leases
        for message_id in ids:
            lease = leases.get(message_id)
            if lease is not None and lease.token == token:
                del leases[message_id]
                ended.append(message_id)
                counts.append(lease.deliveries)

    def _wait(self, visible_at: float, ids: list[int], counts: list[int]) -> None:
        if ids:
            batch = (visible_at, next(self._sequence), array("q", ids), array("q", counts))
            heapq.heappush(self._waiting, batch)
