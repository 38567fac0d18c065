"""The publishing engine: fetch -> admit -> batch -> send -> settle.

It only orchestrates: validation is in model, admission (which entry, or why not) in
admission, batching in batching, decisions in retry, the calls in eventbridge. A message is
acknowledged to its input only once its event is settled (published or dead-lettered);
anything unsettled at shutdown is released back to the input.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence

import structlog

from publisher.aws.putevents import CallFailed, EntryResult, RegionClients
from publisher.core.admission import Admission, Entry, Hold, rejection
from publisher.core.batching import Batch, Batcher
from publisher.core.decisions import DeadLetter as DeadLetterDecision
from publisher.core.decisions import Reason, RetryAfter, RetryPolicy, Split, is_throttling
from publisher.core.source_states import SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.engine.deadletter import DeadLetter, DeadLetterSink
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.errors import InputUnavailable, InvalidEvent
from publisher.inputs.base import Input, Message
from publisher.ledger.recorder import Ledger
from publisher.observe.metrics import Metrics, error_code_label
from publisher.settings import PublishSettings, SourcesSettings

log = structlog.get_logger(__name__)

FETCH_CHUNK = 500
FETCH_WAIT_S = 0.25
# A full fetch takes about 20 ms to validate and batch; catching up after a stall, its first
# batches should not wait for its last events.
INTAKE_SLICE = 100
GAUGE_INTERVAL_S = 2.0
INPUT_RETRY_MIN_S = 0.1
INPUT_RETRY_MAX_S = 5.0

SettledCallback = Callable[[int, int], None]
"""Called with (published, dead_lettered) each time events are settled."""


class Pipeline:
    """Publishes what an input holds until asked to stop, then drains within a grace period."""

    def __init__(
        self,
        *,
        source: Input,
        clients: RegionClients,
        router: TenantRegistry,
        dead_letters: DeadLetterSink,
        metrics: Metrics,
        publish: PublishSettings,
        policy: RetryPolicy,
        limiter: AdaptiveRateLimiter,
        lease_renew_s: float,
        states: SourceStates | None = None,
        sources: SourcesSettings | None = None,
        on_settled: SettledCallback | None = None,
        ledger: Ledger | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._input = source
        self._clients = clients
        self._router = router
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._publish = publish
        self._policy = policy
        self._limiter = limiter
        self._lease_renew_s = lease_renew_s
        self._states = states or SourceStates()
        self._sources = sources or SourcesSettings()
        self._admission = Admission(
            router,
            self._states,
            self._sources,
            publish.max_request_bytes,
            policy.settings.max_age_s,
            metrics,
        )
        self._on_settled = on_settled
        self._ledger = ledger
        self._clock = clock
        self._wall_clock = wall_clock
        self._batcher: Batcher[Entry] = Batcher(
            publish.max_entries, publish.max_request_bytes, publish.linger_ms / 1000.0
        )
        self._held: dict[str, Message] = {}
        self._ready: deque[Batch[Entry]] = deque()
        self._retries: list[tuple[float, int, Entry]] = []
        self._sequence = itertools.count()
        self._sends: set[asyncio.Task[None]] = set()
        self._send_slots = asyncio.Semaphore(publish.max_in_flight)
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._drained = asyncio.Event()
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        self._stopping = False
        metrics.send_rate_limit.set(limiter.rate)

    @property
    def buffered(self) -> int:
        """Events fetched and not yet settled."""
        return len(self._held)

    async def run(self, stop: asyncio.Event, grace_s: float) -> None:
        """Publish until `stop` is set; then flush, wait up to grace_s, release the rest."""
        await self._warm_up()
        workers = [
            asyncio.create_task(self._fetch_loop(), name="pipeline-fetch"),
            asyncio.create_task(self._dispatch_loop(), name="pipeline-dispatch"),
            asyncio.create_task(self._lease_loop(), name="pipeline-lease"),
            asyncio.create_task(self._gauge_loop(), name="pipeline-gauges"),
        ]
        stop_wait = asyncio.create_task(stop.wait(), name="pipeline-stop-wait")
        failed_wait = asyncio.create_task(self._failed.wait(), name="pipeline-failed-wait")
        try:
            await asyncio.wait([*workers, stop_wait, failed_wait], return_when="FIRST_COMPLETED")
            self._raise_if_failed(workers)
            await self._drain(workers[0], grace_s)
        finally:
            for task in [*workers, stop_wait, failed_wait, *self._sends]:
                task.cancel()
            await asyncio.gather(
                *workers, stop_wait, failed_wait, *self._sends, return_exceptions=True
            )
            await self._release_held()

    async def _warm_up(self) -> None:
        """Pay the one-off costs before the first events rather than in their latency.

        Creating a Region's client loads botocore's service model (about 100 ms with the loop
        stalled), and the first full garbage collection after it walks every object start-up
        made (another 80-100 ms). Freezing those objects keeps them out of every later
        collection, so full collections stay proportional to what the pipeline itself holds.
        Start-up leaves next to no cyclic garbage, so no collection is run before freezing.
        """
        for region in sorted({route.region for route in self._router}):
            try:
                await self._clients.get(region)
            except Exception as exc:  # the first send to that Region reports it properly
                log.warning("client_warm_up_failed", region=region, error=str(exc))
        if not gc.get_freeze_count():  # once per process: later pipelines add little
            gc.freeze()

    def _raise_if_failed(self, workers: Sequence[asyncio.Task[None]]) -> None:
        for task in workers:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"pipeline task {task.get_name()} died") from task.exception()
        if self._failure is not None:
            raise RuntimeError("a publish task died") from self._failure

    async def _drain(self, fetcher: asyncio.Task[None], grace_s: float) -> None:
        self._stopping = True
        self._space.set()
        await fetcher
        self._ready.extend(self._batcher.flush())
        self._wake.set()
        log.info("pipeline_draining", buffered=len(self._held), in_flight=len(self._sends))
        self._check_drained()
        try:
            await asyncio.wait_for(self._drained.wait(), grace_s)
        except TimeoutError:
            log.warning("pipeline_drain_timeout", grace_s=grace_s, in_flight=len(self._sends))
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

    # -- fetch ---------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        outage_s = 0.0
        while not self._stopping:
            free = self._publish.max_buffered_events - len(self._held)
            if free <= 0:
                self._space.clear()
                await self._space.wait()
                continue
            started = self._clock()
            try:
                messages = await self._input.fetch(min(free, FETCH_CHUNK), FETCH_WAIT_S)
            except InputUnavailable as exc:
                outage_s = await self._wait_out_input_outage(exc, outage_s)
                continue
            outage_s = 0.0
            if messages:
                await self._intake(messages)
            elif self._clock() - started < FETCH_WAIT_S / 2:
                # An input with nothing left may answer at once: don't spin on it.
                await self._sleep_unless_stopping(FETCH_WAIT_S)

    async def _wait_out_input_outage(self, exc: InputUnavailable, outage_s: float) -> float:
        """Back off while the input is unreachable; what it holds waits there, nothing is lost."""
        delay_s = min(INPUT_RETRY_MAX_S, max(INPUT_RETRY_MIN_S, outage_s * 2))
        log.warning("input_unavailable", error=str(exc), retry_in_s=delay_s)
        await self._sleep_unless_stopping(delay_s)
        return delay_s

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        self._space.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._space.wait(), seconds)

    async def _intake(self, messages: Sequence[Message]) -> None:
        now = self._clock()
        wall = self._wall_clock()
        rejected: list[DeadLetter] = []
        waiting: list[Message] = []
        received = 0
        held, add_to_batch, ready = self._held, self._batcher.add, self._ready  # the hot loop
        entry_for = self._admission.entry_for
        for index, message in enumerate(messages):
            if index and not index % INTAKE_SLICE:
                # Let the dispatcher send the batches that are already full.
                self._wake.set()
                await asyncio.sleep(0)
                now = self._clock()
            if message.id in held:
                continue  # a lease that ran out while we still work on it: one copy is enough
            received += 1
            try:
                entry = entry_for(message, wall)
            except Hold:
                waiting.append(message)
                continue
            except InvalidEvent as exc:
                rejected.append(rejection(message, exc))
                continue
            held[message.id] = message
            closed = add_to_batch(entry, now)
            if closed:
                ready.extend(closed)
        self._metrics.events_received.inc(received)
        self._metrics.buffered_events.set(len(self._held))
        self._wake.set()
        if waiting:
            self._metrics.events_held.inc(len(waiting))
            await self._input.release(waiting, delay_s=self._sources.refresh_interval_s)
        if rejected:
            await self._dead_letter(rejected)

    # -- dispatch ------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            if not self._stopping:
                self._promote_due_retries(now)
                self._ready.extend(self._batcher.due(now))
            while self._ready:
                batch = self._ready.popleft()
                await self._send_slots.acquire()
                await self._limiter.acquire()
                self._start_send(batch)
            self._check_drained()
            await self._sleep_until_woken(self._next_wake())

    def _promote_due_retries(self, now: float) -> None:
        while self._retries and self._retries[0][0] <= now:
            _, _, entry = heapq.heappop(self._retries)
            self._ready.extend(self._batcher.add(entry, now))

    def _next_wake(self) -> float | None:
        if self._stopping:
            return None
        deadlines = [d for d in (self._batcher.next_deadline(),) if d is not None]
        if self._retries:
            deadlines.append(self._retries[0][0])
        return min(deadlines, default=None)

    async def _sleep_until_woken(self, deadline: float | None) -> None:
        timeout = None if deadline is None else max(0.0, deadline - self._clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _check_drained(self) -> None:
        if self._stopping and not self._ready and not self._sends and len(self._batcher) == 0:
            self._drained.set()

    # -- send and settle -----------------------------------------------------------------

    def _start_send(self, batch: Batch[Entry]) -> None:
        task = asyncio.create_task(self._send(batch), name=f"put-{next(self._sequence)}")
        self._sends.add(task)
        task.add_done_callback(self._send_finished)

    def _send_finished(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()
            self._failed.set()
        self._check_drained()
        self._wake.set()

    async def _send(self, batch: Batch[Entry]) -> None:
        try:
            for entry in batch.entries:
                entry.attempts += 1
            outcome = await self._call(batch)
            # Settlement writes (acks, dead letters) must finish even if shutdown cancels us.
            await asyncio.shield(self._settle(batch, outcome))
        finally:
            self._send_slots.release()

    async def _call(self, batch: Batch[Entry]) -> list[EntryResult] | CallFailed:
        client = await self._clients.get(batch.region)
        self._metrics.batch_entries.observe(len(batch.entries))
        self._metrics.batch_bytes.observe(batch.size)
        self._metrics.in_flight_requests.inc()
        started = self._clock()
        try:
            return await client.put_partner_events([entry.fields for entry in batch.entries])
        except CallFailed as exc:
            return exc
        finally:
            self._metrics.in_flight_requests.dec()
            self._metrics.put_request_duration.observe(self._clock() - started)

    async def _settle(self, batch: Batch[Entry], outcome: list[EntryResult] | CallFailed) -> None:
        if isinstance(outcome, CallFailed):
            await self._settle_call_failure(batch, outcome)
            return
        failed = [
            (entry, result)
            for entry, result in zip(batch.entries, outcome, strict=True)
            if result.error_code is not None
        ]
        published = batch.entries  # the usual case: every entry accepted
        if failed:
            published = [
                entry
                for entry, result in zip(batch.entries, outcome, strict=True)
                if result.error_code is None
            ]
        throttled = any(is_throttling(result.error_code or "") for _, result in failed)
        self._note_rate(throttled)
        self._metrics.put_requests.labels(outcome="partial" if failed else "ok").inc()
        log.debug(
            "put_settled", region=batch.region, entries=len(batch.entries), failed=len(failed)
        )
        await self._published(published)
        wall = self._wall_clock()
        if self._ledger is not None:
            self._ledger.published(batch.entries, outcome, wall)
        letters: list[DeadLetter] = []
        for entry, result in failed:
            code = result.error_code or "Unknown"
            decision = self._policy.after_entry_error(
                code, entry.attempts, wall - entry.message.enqueued_at
            )
            letter = self._apply(entry, decision, code, result.error_message or "")
            if letter is not None:
                letters.append(letter)
                if letter.reason == Reason.SOURCE_DELETED:
                    self._states.mark_gone(entry.fields["Source"])
        await self._dead_letter(letters)

    async def _settle_call_failure(self, batch: Batch[Entry], error: CallFailed) -> None:
        throttled = is_throttling(error.code, error.http_status)
        self._note_rate(throttled)
        wall = self._wall_clock()
        letters: list[DeadLetter] = []
        split = False
        for entry in batch.entries:
            decision = self._policy.after_call_error(
                error.code,
                error.http_status,
                error.message,
                entry.attempts,
                wall - entry.message.enqueued_at,
                len(batch.entries),
            )
            if isinstance(decision, Split):
                split = True
                break
            letter = self._apply(entry, decision, error.code, error.message)
            if letter is not None:
                letters.append(letter)
        outcome = "throttled" if throttled else "retryable_error"
        if split or letters:
            outcome = "rejected"
        self._metrics.put_requests.labels(outcome=outcome).inc()
        log.info(
            "put_failed",
            region=batch.region,
            entries=len(batch.entries),
            error_code=error.code,
            error_message=error.message,
            split=split,
        )
        if split:
            self._split(batch)
        await self._dead_letter(letters)

    def _split(self, batch: Batch[Entry]) -> None:
        """Resend as two halves (ahead of the queue) to isolate what fails the whole call."""
        half = len(batch.entries) // 2
        for part in (batch.entries[half:], batch.entries[:half]):
            for entry in part:
                entry.attempts -= 1  # the offender is unknown: nobody is charged for the split
            self._ready.appendleft(
                Batch(batch.region, list(part), sum(entry.size for entry in part))
            )
        self._wake.set()

    def _apply(
        self, entry: Entry, decision: RetryAfter | DeadLetterDecision, code: str, message: str
    ) -> DeadLetter | None:
        if isinstance(decision, RetryAfter):
            self._metrics.events_retried.labels(error_code=error_code_label(code)).inc()
            ready_at = self._clock() + decision.delay_s
            heapq.heappush(self._retries, (ready_at, next(self._sequence), entry))
            self._wake.set()
            if self._ledger is not None:
                self._ledger.retrying(entry, self._wall_clock())
            return None
        reason = decision.reason.value
        return DeadLetter(entry.message, reason, code, message, entry.attempts, entry.event_id)

    def _note_rate(self, throttled: bool) -> None:
        if throttled:
            if self._limiter.on_throttled():
                log.info("send_rate_lowered", rate_rps=round(self._limiter.rate, 1))
        else:
            self._limiter.on_success()
        self._metrics.send_rate_limit.set(self._limiter.rate)

    async def _published(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        wall = self._wall_clock()
        self._metrics.event_delivery.observe_many(
            max(0.0, wall - entry.message.enqueued_at) for entry in entries
        )
        self._metrics.events_published.inc(len(entries))
        await self._acknowledge([entry.message for entry in entries], len(entries), 0)

    async def _dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Store dead letters durably, then acknowledge their messages."""
        if not letters:
            return
        await self._dead_letters.write(letters)
        if self._ledger is not None:
            self._ledger.dead_lettered(letters, self._wall_clock())
        for letter in letters:
            self._metrics.events_dead_lettered.labels(reason=letter.reason).inc()
            log.warning(
                "event_dead_lettered",
                reason=letter.reason,
                error_code=letter.error_code,
                error_message=letter.error_message,
                attempts=letter.attempts,
                message_id=letter.message.id,
            )
        await self._acknowledge([letter.message for letter in letters], 0, len(letters))

    async def _acknowledge(self, messages: list[Message], published: int, dead: int) -> None:
        try:
            await self._input.ack(messages)
        except Exception:
            # Unacknowledged messages are delivered again later: a duplicate, never a loss.
            log.exception("ack_failed", messages=len(messages))
        for message in messages:
            self._held.pop(message.id, None)
        self._metrics.buffered_events.set(len(self._held))
        self._space.set()
        if self._on_settled is not None:
            self._on_settled(published, dead)

    # -- housekeeping --------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease_renew_s)
            if self._held:
                try:
                    await self._input.extend(list(self._held.values()))
                except InputUnavailable as exc:
                    # A lease that runs out means a duplicate later, not a loss.
                    log.warning("lease_renewal_failed", error=str(exc))

    async def _gauge_loop(self) -> None:
        while True:
            try:
                backlog = await self._input.backlog()
            except InputUnavailable as exc:
                log.warning("backlog_unavailable", error=str(exc))
            else:
                self._metrics.backlog_events.set(backlog)
                self._metrics.input_lag_events.set(backlog)
            await asyncio.sleep(GAUGE_INTERVAL_S)
