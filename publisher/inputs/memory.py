"""An in-memory Input with real lease semantics: the stand-in for a queue in tests."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from publisher.core.clock import steady_time
from publisher.core.message import Message
from publisher.errors import InputFull
from publisher.inputs.base import renew_interval_s
from publisher.inputs.dedupe import DedupeLimits, KeyedBodies
from publisher.inputs.leases import LeaseTable

# The shortest wait between two looks for an expired lease; keeps a fake clock from spinning.
_MIN_SLEEP_S = 0.001


class _Stored(NamedTuple):
    body: bytes
    enqueued_at: float


class MemoryInput:
    """Holds messages in a dict (all stored) and a deque (never delivered, in order); leases,
    releases and redeliveries are a LeaseTable's, as in the spool.

    `clock` times leases; `wall_clock` stamps `enqueued_at`, which is epoch seconds.
    """

    def __init__(
        self,
        visibility_timeout_s: float = 60.0,
        max_events: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = steady_time,
    ) -> None:
        self._visibility_timeout_s = visibility_timeout_s
        self._max_events = max_events
        self._clock = clock
        self._wall_clock = wall_clock
        self._stored: dict[int, _Stored] = {}
        self._fresh: deque[int] = deque()
        self._leases = LeaseTable()
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._remembered: dict[str, float] = {}
        """Idempotency key -> when it expires, oldest first (publisher.inputs.dedupe)."""

    @property
    def lease_renew_s(self) -> float:
        return renew_interval_s(self._visibility_timeout_s)

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to release; stored messages stay until the object is dropped."""

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Store all bodies or none: raise InputFull when they would exceed max_events."""
        if self._max_events is not None and len(self._stored) + len(bodies) > self._max_events:
            raise InputFull(f"the memory input holds at most {self._max_events} events")
        now = self._wall_clock()
        for body in bodies:
            message_id = next(self._ids)
            self._stored[message_id] = _Stored(body, now)
            self._fresh.append(message_id)
        if bodies:
            self._changed.set()

    async def put_once(self, batch: KeyedBodies, limits: DedupeLimits) -> list[bool]:
        """Like put, skipping bodies whose key was put within the window."""
        keys, bodies = batch.keys, batch.bodies
        now = self._wall_clock()
        remembered = self._remembered
        duplicates = [key is not None and remembered.get(key, now) > now for key in keys]
        await self.put([body for body, dup in zip(bodies, duplicates, strict=True) if not dup])
        for key, duplicate in zip(keys, duplicates, strict=True):
            if key is not None and not duplicate:
                remembered.pop(key, None)  # re-inserted last: the dict stays in expiry order
                remembered[key] = now + limits.window_s
        while remembered and (
            len(remembered) > limits.max_ids or next(iter(remembered.values())) <= now
        ):
            del remembered[next(iter(remembered))]
        return duplicates

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Lease up to max_messages, waiting at most wait_s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            self._changed.clear()
            batch = self._lease(max_messages)
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(min(remaining, self._until_next_change())):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def ack(self, messages: Sequence[Message]) -> None:
        """Forget the messages; acking one twice or after it was redelivered is harmless."""
        ids = [int(message.id) for message in messages]
        for message_id in ids:
            self._stored.pop(message_id, None)
        self._leases.forget(ids)

    async def extend(self, messages: Sequence[Message]) -> None:
        """Renew leases that are still held; an expired lease is not revived."""
        now = self._clock()
        self._leases.extend((int(m.id) for m in messages), now, now + self._visibility_timeout_s)

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Give still-leased messages back after delay_s; at once, ahead of unfetched ones."""
        self._leases.release((int(m.id) for m in messages), self._clock() + max(delay_s, 0.0))
        self._changed.set()

    async def backlog(self) -> int:
        """Messages stored and not acknowledged, leased ones included."""
        return len(self._stored)

    def _lease(self, max_messages: int) -> list[Message]:
        """Redeliveries first (they are the oldest, and their age budget is running)."""
        now = self._clock()
        until = now + self._visibility_timeout_s
        again, counts = self._leases.take_due(now, max_messages)
        batch: list[Message] = []
        for message_id, count in zip(again, counts, strict=True):
            self._deliver(batch, message_id, count + 1, until)
        while self._fresh and len(batch) < max_messages:
            self._deliver(batch, self._fresh.popleft(), 1, until)
        return batch

    def _deliver(
        self, batch: list[Message], message_id: int, deliveries: int, until: float
    ) -> None:
        stored = self._stored.get(message_id)
        if stored is None:
            return  # acknowledged since it was queued here
        self._leases.lease(message_id, until, deliveries)
        batch.append(Message(str(message_id), stored.body, stored.enqueued_at, deliveries))

    def _until_next_change(self) -> float:
        next_change = self._leases.next_change()
        if next_change is None:
            return float("inf")
        return max(next_change - self._clock(), _MIN_SLEEP_S)
