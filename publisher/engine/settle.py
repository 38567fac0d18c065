"""Settlement: what becomes of each event of a call once the call's outcome is known.

Accepted events are acknowledged; failed ones are retried later, resent in two halves, or
dead-lettered, as the retry policy decides. The metric and the log line of each outcome are
recorded here, where it is decided. A message is acknowledged to its input only once its event
is settled: published, or dead-lettered with the dead letter stored first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Protocol

import structlog

from publisher.aws.putevents import CallFailed, EntryResult
from publisher.core.admission import Entry, Refusal
from publisher.core.batching import Batch
from publisher.core.clock import SYSTEM_CLOCKS, Clocks
from publisher.core.decisions import GiveUp, RetryAfter, RetryPolicy, Split, is_throttling
from publisher.core.message import Message
from publisher.core.reasons import Reason
from publisher.core.source_states import SourceStates
from publisher.engine.acks import PendingAcks
from publisher.engine.deadletter import DeadLetter, DeadLetterSink
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.inputs.base import Input
from publisher.ledger.recorder import Ledger
from publisher.observe.labels import PUT_OUTCOMES, error_code_label

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

Outcome = list[EntryResult] | CallFailed
"""A call's result: one per entry, in request order, or the failure of the whole call."""

# A failed call's log line names at most this many of its tenants and event ids.
LOGGED_PER_CALL = 5
_error_code = attrgetter("error_code")


class Requeue(Protocol):
    """The queues of the engine that settlement hands events back to."""

    def retry_at(self, ready_at: float, entry: Entry) -> None:
        """Send the entry again from `ready_at` (monotonic seconds)."""

    def resend_first(self, batch: Batch[Entry]) -> None:
        """Send the batch again ahead of everything else that is ready."""

    def settled(self, messages: Sequence[Message], published: int, dead_lettered: int) -> None:
        """The messages are acknowledged (or given up on acknowledging): forget them."""


class Settlement:
    """Settles call outcomes and refused messages, and adapts the send rate to throttling."""

    def __init__(
        self,
        *,
        input: Input,
        dead_letters: DeadLetterSink,
        policy: RetryPolicy,
        limiter: AdaptiveRateLimiter,
        states: SourceStates,
        metrics: Metrics,
        requeue: Requeue,
        acks: PendingAcks | None = None,
        ledger: Ledger | None = None,
        clocks: Clocks = SYSTEM_CLOCKS,
    ) -> None:
        self._input = input
        self._dead_letters = dead_letters
        self._policy = policy
        self._limiter = limiter
        self._states = states
        self._metrics = metrics
        self._requeue = requeue
        self._acks = acks
        self._ledger = ledger
        self._clock = clocks.monotonic
        self._wall_clock = clocks.wall
        # One labelled counter per outcome, looked up once: labels() takes a lock each time.
        self._put_requests = {o: metrics.put_requests.labels(outcome=o) for o in PUT_OUTCOMES}

    async def settle(self, batch: Batch[Entry], outcome: Outcome) -> None:
        """Settle every entry of a call that returned `outcome`."""
        if isinstance(outcome, CallFailed):
            await self._settle_call_failure(batch, outcome)
        else:
            await self._settle_results(batch, outcome)

    async def refuse(self, refusals: Sequence[Refusal]) -> None:
        """Dead-letter messages that admission refused: they were never sent."""
        letters = [
            DeadLetter(
                r.message,
                r.reason.value,
                r.reason.value,
                r.error,
                0,
                r.tenant,
                r.event_id if r.event_id or r.reason == Reason.INVALID_JSON else _new_id(),
            )
            for r in refusals
        ]
        await self._dead_letter(letters)

    async def _settle_results(self, batch: Batch[Entry], results: list[EntryResult]) -> None:
        if len(results) != len(batch.entries):
            raise ValueError(f"{len(results)} results for {len(batch.entries)} entries")
        failed: list[tuple[Entry, EntryResult]] = []
        published = batch.entries  # the usual case: every entry accepted
        # Whether any entry failed, asked without a Python frame per entry (a failed
        # result's code is never empty).
        if any(map(_error_code, results)):
            failed = [
                (entry, result)
                for entry, result in zip(batch.entries, results, strict=True)
                if result.error_code is not None
            ]
            published = [
                entry
                for entry, result in zip(batch.entries, results, strict=True)
                if result.error_code is None
            ]
        self._note_rate(any(is_throttling(result.error_code or "") for _, result in failed))
        self._put_requests["partial" if failed else "ok"].inc()
        log.debug(
            "put_settled", region=batch.region, entries=len(batch.entries), failed=len(failed)
        )
        await self._published(published)
        if self._ledger is not None:
            self._ledger.published(batch.entries, results, self._wall_clock())
        if failed:
            await self._dead_letter(self._decide_failed_entries(failed))

    def _decide_failed_entries(self, failed: list[tuple[Entry, EntryResult]]) -> list[DeadLetter]:
        """Schedule the retries the policy asks for; the dead letters for the rest."""
        wall = self._wall_clock()
        letters: list[DeadLetter] = []
        for entry, result in failed:
            code = result.error_code or "Unknown"
            age_s = wall - entry.message.enqueued_at
            decision = self._policy.after_entry_error(code, entry.attempts, age_s)
            letter = self._apply(entry, decision, code, result.error_message or "")
            if letter is not None:
                letters.append(letter)
                if letter.reason == Reason.SOURCE_DELETED:
                    self._states.mark_gone(entry.fields["Source"])
        return letters

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
        self._put_requests[outcome].inc()
        _log_call_failure(batch, error, split)
        if split:
            self._split(batch)
        await self._dead_letter(letters)

    def _split(self, batch: Batch[Entry]) -> None:
        """Resend as two halves (ahead of the queue) to isolate what fails the whole call."""
        half = len(batch.entries) // 2
        for part in (batch.entries[half:], batch.entries[:half]):
            for entry in part:
                entry.attempts -= 1  # the offender is unknown: nobody is charged for the split
            size = sum(entry.size for entry in part)
            self._requeue.resend_first(Batch(batch.region, list(part), size))

    def _apply(
        self, entry: Entry, decision: RetryAfter | GiveUp, code: str, message: str
    ) -> DeadLetter | None:
        """Schedule a retry, or return the dead letter of an entry given up on."""
        if isinstance(decision, RetryAfter):
            self._metrics.events_retried.labels(error_code=error_code_label(code)).inc()
            self._requeue.retry_at(self._clock() + decision.delay_s, entry)
            if self._ledger is not None:
                self._ledger.retrying(entry, self._wall_clock())
            return None
        return DeadLetter(
            entry.message,
            decision.reason.value,
            code,
            message,
            entry.attempts,
            entry.tenant,
            entry.event_id,
        )

    def _note_rate(self, throttled: bool) -> None:
        if throttled:
            if self._limiter.on_throttled():
                log.info("send_rate_lowered", rate_rps=round(self._limiter.rate, 1))
        else:
            self._limiter.on_success()

    async def _published(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        wall = self._wall_clock()
        messages = [entry.message for entry in entries]
        # A clock stepped back gives a negative age: counted as none (no max() call per event).
        self._metrics.event_delivery.observe_many(
            [age if (age := wall - message.enqueued_at) > 0.0 else 0.0 for message in messages]
        )
        self._metrics.events_published.inc(len(entries))
        await self._acknowledge(messages, len(entries), 0)

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
                tenant=letter.tenant,
                event_id=letter.event_id,
                error_code=letter.error_code,
                error_message=letter.error_message,
                attempts=letter.attempts,
                message_id=letter.message.id,
            )
        await self._acknowledge([letter.message for letter in letters], 0, len(letters))

    async def _acknowledge(self, messages: list[Message], published: int, dead: int) -> None:
        try:
            await self._input.ack(messages)
        except Exception as exc:
            if self._acks is not None:
                # Kept held (leases renewed) and retried: a settled event is not handed out
                # again (engine.acks).
                self._acks.defer(messages, published, dead, exc)
                return
            # Unacknowledged messages are delivered again later: a duplicate, never a loss.
            log.exception("ack_failed", messages=len(messages))
        self._requeue.settled(messages, published, dead)


def _new_id() -> str:
    """An id for an event that came without one: its dead letter's record keeps it (trace)."""
    return uuid.uuid4().hex


def _log_call_failure(batch: Batch[Entry], error: CallFailed, split: bool) -> None:
    """put_failed, naming the first few of the call's tenants and event ids."""
    tenants = list(dict.fromkeys(entry.tenant for entry in batch.entries))
    event_ids = [entry.event_id for entry in batch.entries if entry.event_id is not None]
    log.info(
        "put_failed",
        region=batch.region,
        entries=len(batch.entries),
        error_code=error.code,
        error_message=error.message,
        split=split,
        tenants=tenants[:LOGGED_PER_CALL],
        tenant_count=len(tenants),
        event_ids=event_ids[:LOGGED_PER_CALL],
    )
