"""The pipeline's loops: fetch -> admit -> batch -> send, then settle; drain on stop.

It orchestrates only: admission decides what enters (core.admission), batching groups
entries (core.batching), settlement decides what becomes of each sent event (engine.settle).
Anything fetched and unsettled at shutdown is released back to the input.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from publisher.aws.putevents import RegionClients
from publisher.core.admission import Admission, Entry, PendingEntry, Refusal
from publisher.core.backoff import Doubling
from publisher.core.batching import Batch
from publisher.core.clock import SYSTEM_CLOCKS, Clocks
from publisher.core.decisions import RetryAfter, RetryPolicy
from publisher.core.message import Message
from publisher.core.source_states import SourceStates
from publisher.engine.acks import PendingAcks
from publisher.engine.calls import Calls
from publisher.engine.chores import renew_leases, report_backlog
from publisher.engine.deadletter import DeadLetterSink
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.engine.send_queue import SendQueue
from publisher.engine.settle import Settlement
from publisher.engine.tenant_stats import TenantStats
from publisher.errors import InputUnavailable
from publisher.inputs.base import Input, TenantReads
from publisher.ledger.recorder import Ledger
from publisher.observe.health import Health

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

FETCH_CHUNK = 500
FETCH_WAIT_S = 0.25
# A full fetch takes about 20 ms to validate and batch; catching up after a stall, its first
# batches should not wait for its last events.
INTAKE_SLICE = 100
INPUT_RETRY = Doubling(first_s=0.1, max_s=5.0)
# An event over its tenant's max_events_per_s goes back to the input for this long.
THROTTLED_HOLD_S = 1.0
ACK_LAST_TRY_S = 2.0
INPUT_READS = "input_reads"
"""The health check this pipeline fails while fetching from its input fails."""

SettledCallback = Callable[[int, int], None]
"""Called with (published, dead_lettered) each time events are settled."""


class Pipeline:
    """Publishes what an input holds until asked to stop, then drains within a grace period."""

    def __init__(
        self,
        *,
        input: Input,
        clients: RegionClients,
        admission: Admission,
        states: SourceStates,
        dead_letters: DeadLetterSink,
        metrics: Metrics,
        policy: RetryPolicy,
        limiter: AdaptiveRateLimiter,
        max_entries: int,
        max_request_bytes: int,
        linger_s: float,
        max_in_flight: int,
        max_buffered_events: int,
        on_settled: SettledCallback | None = None,
        ledger: Ledger | None = None,
        tenant_metrics_top_n: int = 20,
        clocks: Clocks = SYSTEM_CLOCKS,
        health: Health | None = None,
    ) -> None:
        self._input = input
        self._health = health or Health()
        # Acks the input could not store: the messages stay held until a retry stores them.
        self._acks = PendingAcks(input.ack, self._health, metrics)
        self._admission = admission
        self._metrics = metrics
        self._max_buffered_events = max_buffered_events
        self._on_settled = on_settled
        self._clock = clocks.monotonic
        self._wall_clock = clocks.wall
        self._settlement = Settlement(
            input=input,
            dead_letters=dead_letters,
            policy=policy,
            limiter=limiter,
            states=states,
            metrics=metrics,
            requeue=self,
            acks=self._acks,
            ledger=ledger,
            clocks=clocks,
        )
        self._calls = Calls(
            clients=clients,
            settlement=self._settlement,
            limiter=limiter,
            metrics=metrics,
            max_in_flight=max_in_flight,
            on_finished=self._call_finished,
            clock=clocks.monotonic,
        )
        tenants = admission.tenants
        self._tenants = tenants
        self._send_queue = SendQueue(
            max_entries, max_request_bytes, linger_s, tenants.share_of, clocks.monotonic
        )
        self.tenant_stats = TenantStats(
            input=input,
            queue=self._send_queue,
            tenants=tenants,
            states=states,
            metrics=metrics,
            top_n=tenant_metrics_top_n,
            clocks=clocks,
        )
        if isinstance(input, TenantReads):
            input.read_tenants_by(tenants.share_of, self._send_queue.allowance)
        self._held: dict[str, Message] = {}
        self._wake = asyncio.Event()  # the dispatcher has work
        self._space = asyncio.Event()  # the fetcher may fetch again
        self._drained = asyncio.Event()
        self._stopping = False
        # Read when scraped, not set on every call or settlement (each set takes a lock).
        metrics.send_rate_limit.set_function(lambda: limiter.rate)
        metrics.buffered_events.set_function(lambda: len(self._held))

    async def run(self, stop: asyncio.Event, grace_s: float) -> None:
        """Publish until `stop` is set; then flush, wait up to grace_s, release the rest."""
        workers = [
            asyncio.create_task(self._fetch_loop(), name="pipeline-fetch"),
            asyncio.create_task(self._dispatch_loop(), name="pipeline-dispatch"),
            asyncio.create_task(report_backlog(self._input, self._metrics), name="pipeline-gauges"),
            asyncio.create_task(self.tenant_stats.report_forever(), name="pipeline-tenants"),
            asyncio.create_task(self._acks.retry_forever(self.settled), name="pipeline-acks"),
        ]
        renew_s = self._input.lease_renew_s
        if renew_s is not None:
            renewing = renew_leases(self._input, self._held.values, renew_s)
            workers.append(asyncio.create_task(renewing, name="pipeline-lease"))
        stop_wait = asyncio.create_task(stop.wait(), name="pipeline-stop-wait")
        failed_wait = asyncio.create_task(self._calls.failed.wait(), name="pipeline-failed-wait")
        waits = [*workers, stop_wait, failed_wait]
        try:
            await asyncio.wait(waits, return_when="FIRST_COMPLETED")
            self._raise_if_failed(workers)
            await self._drain(workers[0], grace_s)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, self._calls.cancel(), return_exceptions=True)
            await self._acks.last_try(self.settled, ACK_LAST_TRY_S)
            await self._release_held()

    def _raise_if_failed(self, workers: Sequence[asyncio.Task[None]]) -> None:
        for task in workers:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"pipeline task {task.get_name()} died") from task.exception()
        if self._calls.failure is not None:
            raise RuntimeError("a publish task died") from self._calls.failure

    async def _drain(self, fetcher: asyncio.Task[None], grace_s: float) -> None:
        self._stopping = True
        self._space.set()
        await fetcher
        self._send_queue.flush()
        self._wake.set()
        log.info("pipeline_draining", buffered=len(self._held), in_flight=len(self._calls))
        self._check_drained()
        try:
            await asyncio.wait_for(self._drained.wait(), grace_s)
        except TimeoutError:
            log.warning("pipeline_drain_timeout", grace_s=grace_s, in_flight=len(self._calls))
        self._raise_if_failed([])

    async def _release_held(self) -> None:
        if not self._held:
            return
        messages = list(self._held.values())
        self._held.clear()
        try:
            await self._input.release(messages)
        except Exception:
            # They come back anyway when their lease runs out; nothing is lost.
            log.exception("release_failed", messages=len(messages))
        log.info("pipeline_released", messages=len(messages))

    # -- fetch and admit -----------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        outage_s = 0.0
        while not self._stopping:
            if self._acks.blocked:  # what was fetched could not be acknowledged either
                await self._sleep_unless_stopping(FETCH_WAIT_S)
                continue
            free = self._max_buffered_events - len(self._held)
            if free <= 0:
                self._space.clear()
                await self._space.wait()
                continue
            started = self._clock()
            try:
                messages = await self._input.fetch(min(free, FETCH_CHUNK), FETCH_WAIT_S)
            except InputUnavailable as exc:
                self._health.fail(INPUT_READS, f"the input cannot be read: {exc}")
                outage_s = await self._wait_out_input_outage(exc, outage_s)
                continue
            if outage_s:
                self._health.ok(INPUT_READS)
            outage_s = 0.0
            if messages:
                await self._intake(messages)
            elif self._clock() - started < FETCH_WAIT_S / 2:
                # An input with nothing left may answer at once: don't spin on it.
                await self._sleep_unless_stopping(FETCH_WAIT_S)

    async def _wait_out_input_outage(self, exc: InputUnavailable, outage_s: float) -> float:
        """Back off while the input is unreachable; what it holds waits there, nothing is lost."""
        delay_s = INPUT_RETRY.after(outage_s)
        log.warning("input_unavailable", error=str(exc), retry_in_s=delay_s)
        await self._sleep_unless_stopping(delay_s)
        return delay_s

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        self._space.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._space.wait(), seconds)

    async def _intake(self, messages: Sequence[Message]) -> None:
        """Admit fetched messages: batch the entries, put back the held, refuse the rest."""
        wall = self._wall_clock()
        tally = _Intake()
        for start in range(0, len(messages), INTAKE_SLICE):
            if start:
                # Let the dispatcher send the batches that are already full.
                self._wake.set()
                await asyncio.sleep(0)
            self._admit_slice(messages[start : start + INTAKE_SLICE], wall, tally)
        self._count_intake(tally.received - len(tally.throttled), tally.pending)
        await self._put_back(tally.throttled, tally.waiting, tally.hold)
        if tally.refused:
            await self._settlement.refuse(tally.refused)

    def _admit_slice(self, messages: Sequence[Message], wall: float, tally: _Intake) -> None:
        """Queue the admitted entries of `messages`; note the others in `tally`."""
        held, queue = self._held, self._send_queue
        limited = self._tenants.any_limits()
        now = self._clock()
        admitted: list[Entry] = []
        received = 0  # counted here, added to the tally once
        for message, verdict in zip(
            messages, self._admission.admit_all(messages, wall), strict=True
        ):
            if message.id in held:
                continue  # a lease that ran out while we still work on it: one copy is enough
            received += 1
            if isinstance(verdict, Entry):
                if limited and queue.holds_back(verdict):
                    tally.throttled.append(message)
                    continue
                if type(verdict) is PendingEntry:
                    tally.pending += 1
                held[message.id] = message
                if limited:  # holds_back counts what is queued: queue it at once
                    queue.add(verdict, now)
                else:
                    admitted.append(verdict)
            elif isinstance(verdict, RetryAfter):
                tally.hold = verdict
                tally.waiting.append(message)
            else:
                tally.refused.append(verdict)
        tally.received += received
        queue.add_all(admitted, now)

    async def _put_back(
        self, throttled: list[Message], waiting: list[Message], hold: RetryAfter | None
    ) -> None:
        """Events over their tenant's rate limit and events for PENDING sources wait in input."""
        if throttled:
            self._metrics.tenant_throttled_events.inc(len(throttled))
            await self._input.release(throttled, delay_s=THROTTLED_HOLD_S)
        if hold is not None:
            self._metrics.events_held.inc(len(waiting))
            await self._input.release(waiting, delay_s=hold.delay_s)

    def _count_intake(self, received: int, pending: int) -> None:
        self._metrics.events_received.inc(received)
        if pending:
            self._metrics.events_sent_to_pending.inc(pending)
        self._wake.set()

    # -- dispatch ------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        queue = self._send_queue
        while True:
            self._wake.clear()
            if not self._stopping:
                queue.promote_due(self._clock())
            # Sending pauses while acks wait (engine.acks), also for a batch that was waiting
            # for a free slot when an ack failed.
            while not self._acks.blocked and (batch := queue.take()) is not None:
                if not await self._calls.start(batch, unless=lambda: self._acks.blocked):
                    queue.resend_first(batch)
                    break
            if throttled := queue.newly_throttled():
                self._metrics.tenant_throttled_events.inc(throttled)
            self._check_drained()
            await self._sleep_until_woken(None if self._stopping else queue.next_deadline())

    async def _sleep_until_woken(self, deadline: float | None) -> None:
        timeout = None if deadline is None else max(0.0, deadline - self._clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _check_drained(self) -> None:
        if self._stopping and not len(self._calls) and self._send_queue.sent_all():
            self._drained.set()

    def _call_finished(self) -> None:
        self._check_drained()
        self._wake.set()

    # -- what settlement hands back (engine.settle.Requeue) ------------------------------

    def retry_at(self, ready_at: float, entry: Entry) -> None:
        self._send_queue.retry_at(ready_at, entry)
        self._wake.set()

    def resend_first(self, batch: Batch[Entry]) -> None:
        self._send_queue.resend_first(batch)
        self._wake.set()

    def settled(self, messages: Sequence[Message], published: int, dead_lettered: int) -> None:
        forget = self._held.pop
        for message in messages:
            forget(message.id, None)
        self._space.set()
        self._wake.set()  # sending may resume (it pauses while acks wait)
        if self._on_settled is not None:
            self._on_settled(published, dead_lettered)


@dataclass(slots=True, eq=False)
class _Intake:
    """What one intake made of the messages it did not queue, and how many it received."""

    refused: list[Refusal] = field(default_factory=list)
    waiting: list[Message] = field(default_factory=list)
    """For a PENDING source: they wait in the input for `hold`."""
    throttled: list[Message] = field(default_factory=list)
    hold: RetryAfter | None = None
    received: int = 0
    pending: int = 0
