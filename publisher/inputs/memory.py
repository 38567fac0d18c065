"""An in-memory Input with real lease semantics: the stand-in for a queue in tests."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from publisher.errors import InputFull
from publisher.inputs.base import Message

# The shortest wait between two looks for an expired lease; keeps a fake clock from spinning.
_MIN_SLEEP_S = 0.001


@dataclass(slots=True)
class _Stored:
    body: bytes
    enqueued_at: float
    deliveries: int = 0
    lease_until: float | None = None
    """None while visible; the clock time the current lease runs out otherwise."""
    lease_token: int = 0
    """Changes with every lease or renewal, so stale entries of `_leases` can be told apart."""


class _Lease(NamedTuple):
    until: float
    token: int
    message_id: int


class MemoryInput:
    """Holds messages in a deque (visible, in order), a dict (all stored) and a heap (leases).

    `clock` times leases; `wall_clock` stamps `enqueued_at`, which is epoch seconds.
    """

    def __init__(
        self,
        visibility_timeout_s: float = 60.0,
        max_events: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._visibility_timeout_s = visibility_timeout_s
        self._max_events = max_events
        self._clock = clock
        self._wall_clock = wall_clock
        self._stored: dict[int, _Stored] = {}
        self._visible: deque[int] = deque()
        self._leases: list[_Lease] = []
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._changed = asyncio.Event()

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
            self._stored[message_id] = _Stored(body=body, enqueued_at=now)
            self._visible.append(message_id)
        if bodies:
            self._changed.set()

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
                async with asyncio.timeout(min(remaining, self._until_next_expiry())):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def ack(self, messages: Sequence[Message]) -> None:
        """Forget the messages; acking one twice or after it was redelivered is harmless."""
        for message in messages:
            self._stored.pop(int(message.id), None)

    async def extend(self, messages: Sequence[Message]) -> None:
        """Renew leases that are still held; an expired lease is not revived."""
        now = self._clock()
        for message in messages:
            entry = self._stored.get(int(message.id))
            if entry is not None and entry.lease_until is not None and entry.lease_until > now:
                self._hold(int(message.id), entry, now + self._visibility_timeout_s)

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Give still-leased messages back after delay_s; at once, ahead of unfetched ones."""
        released: list[int] = []
        now = self._clock()
        for message in messages:
            entry = self._stored.get(int(message.id))
            if entry is None or entry.lease_until is None:
                continue
            if delay_s > 0:
                self._hold(int(message.id), entry, now + delay_s)
            else:
                entry.lease_until = None
                released.append(int(message.id))
        if released:
            self._visible.extendleft(reversed(released))
            self._changed.set()

    async def backlog(self) -> int:
        """Messages stored and not acknowledged, leased ones included."""
        return len(self._stored)

    def _lease(self, max_messages: int) -> list[Message]:
        now = self._clock()
        self._expire_leases(now)
        batch: list[Message] = []
        while self._visible and len(batch) < max_messages:
            message_id = self._visible.popleft()
            entry = self._stored.get(message_id)
            if entry is None or entry.lease_until is not None:
                continue  # acked or leased again since it was queued here
            entry.deliveries += 1
            self._hold(message_id, entry, now + self._visibility_timeout_s)
            batch.append(Message(str(message_id), entry.body, entry.enqueued_at, entry.deliveries))
        return batch

    def _hold(self, message_id: int, entry: _Stored, until: float) -> None:
        entry.lease_until = until
        entry.lease_token = next(self._tokens)
        heapq.heappush(self._leases, _Lease(until, entry.lease_token, message_id))

    def _expire_leases(self, now: float) -> None:
        expired: list[int] = []
        while self._leases and self._leases[0].until <= now:
            lease = heapq.heappop(self._leases)
            entry = self._stored.get(lease.message_id)
            if (
                entry is not None
                and entry.lease_token == lease.token
                and entry.lease_until is not None
            ):
                entry.lease_until = None
                expired.append(lease.message_id)
        # Redeliveries go first: they are the oldest messages and their age budget is running.
        self._visible.extendleft(reversed(sorted(expired)))

    def _until_next_expiry(self) -> float:
        if not self._leases:
            return float("inf")
        return max(self._leases[0].until - self._clock(), _MIN_SLEEP_S)
