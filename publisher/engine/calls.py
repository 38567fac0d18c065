"""PutPartnerEvents calls under way: each a named task that makes one call and settles it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from publisher.aws.putevents import CallFailed, RegionClients
from publisher.core.admission import Entry
from publisher.core.batching import Batch
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.engine.settle import Outcome, Settlement

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics


class Calls:
    """At most max_in_flight calls at once, started within the send rate.

    A task that dies (a bug: outcomes are settled, not raised) is kept in `failure` and sets
    `failed`, so that the pipeline stops loudly rather than lose track of its events.
    """

    def __init__(
        self,
        *,
        clients: RegionClients,
        settlement: Settlement,
        limiter: AdaptiveRateLimiter,
        metrics: Metrics,
        max_in_flight: int,
        on_finished: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._settlement = settlement
        self._limiter = limiter
        self._metrics = metrics
        self._on_finished = on_finished
        self._clock = clock
        self._slots = asyncio.Semaphore(max_in_flight)
        self._requesting = 0
        # Read when scraped, not updated twice per call (a gauge's inc takes a lock).
        metrics.in_flight_requests.set_function(lambda: self._requesting)
        self._tasks: set[asyncio.Task[None]] = set()
        self._settling: set[asyncio.Task[None]] = set()
        self._sequence = itertools.count()
        self.failure: BaseException | None = None
        self.failed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._tasks)

    async def start(self, batch: Batch[Entry], unless: Callable[[], bool] | None = None) -> bool:
        """Wait for a free slot and for the rate limit, then start the batch's call; False
        (not started) when `unless` has turned true by the time a slot is free."""
        await self._slots.acquire()
        if unless is not None and unless():
            self._slots.release()
            return False
        await self._limiter.acquire()
        task = asyncio.create_task(self._send(batch), name=f"put-{next(self._sequence)}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return True

    async def cancel(self) -> None:
        """Cancel the calls under way; what they held is released by the pipeline. A call
        whose settlement has begun is left to finish it (acks, dead letters), unawaited."""
        tasks = [task for task in self._tasks if task not in self._settling]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()
            self.failed.set()
        self._on_finished()

    async def _send(self, batch: Batch[Entry]) -> None:
        try:
            for entry in batch.entries:
                entry.attempts += 1
            outcome = await self._call(batch)
            # Settlement writes (acks, dead letters) must finish even if shutdown cancels the
            # calls: cancel() passes over a task while it settles (no extra task per call, as
            # a shielded settlement would need).
            task = asyncio.current_task()
            assert task is not None
            self._settling.add(task)
            try:
                await self._settlement.settle(batch, outcome)
            finally:
                self._settling.discard(task)
        finally:
            self._slots.release()

    async def _call(self, batch: Batch[Entry]) -> Outcome:
        client = await self._clients.get(batch.region)
        self._metrics.batch_entries.observe(len(batch.entries))
        self._metrics.batch_bytes.observe(batch.size)
        self._requesting += 1
        started = self._clock()
        try:
            return await client.put_partner_events([entry.fields for entry in batch.entries])
        except CallFailed as exc:
            return exc
        finally:
            self._requesting -= 1
            self._metrics.put_request_duration.observe(self._clock() - started)
