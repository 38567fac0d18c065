"""RabbitMQ input: a durable queue consumed with manual acks, written with publisher confirms.

How the Input protocol maps onto AMQP 0-9-1:

- The lease is the unacknowledged delivery: the broker gives a message to one consumer at a
  time and holds it until that consumer acks it, or until its channel closes (a crash, a lost
  connection), when it goes back to the queue for another replica. `prefetch` (basic.qos)
  bounds how many this replica holds.
- The broker's lease does not end with time, but the protocol's does: a delivery not renewed by
  `extend` for `visibility_timeout_s` is given back (basic.nack, requeue) by this process, as
  a stuck pipeline would let any other input's lease run out.
- release: basic.nack with requeue, at once. AMQP has no delayed requeue, so release(delay_s)
  keeps the delivery unacknowledged here and nacks it when the delay ends; meanwhile it counts
  against `prefetch` (README: holding events for a PENDING source).
- ack: basic.ack, only for deliveries of the live channel; a delivery of a channel that was
  lost is void (the broker has requeued it) and its event will come again: a duplicate, never a
  loss. Nothing is acked before the pipeline settled it.
- deliveries: quorum queues count them (x-delivery-count); classic queues only say
  `redelivered`, which counts as 2.
- put: basic.publish (persistent, mandatory) on a channel with publisher confirms; it returns
  only when the broker confirmed every body. A nack (a full queue with x-overflow
  reject-publish) raises InputFull. With `max_events`, the backlog is checked first.
- backlog: the queue's ready count plus the deliveries this replica holds (other replicas'
  unacknowledged deliveries are not visible to AMQP clients).
- Bodies that are not JSON: with `dead_letter_exchange` set they are rejected (no requeue), so
  the broker routes them to the queue's dead-letter exchange; otherwise the pipeline
  dead-letters them as invalid_json, with the original kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
import structlog
from aio_pika.exceptions import DeliveryError, PublishError

from publisher.core.message import Message
from publisher.errors import InputFull, InputUnavailable
from publisher.inputs.amqp_acks import AckWindow
from publisher.inputs.amqp_consumer import Delivery
from publisher.inputs.amqp_link import LINK_ERRORS, AmqpLink, Link
from publisher.inputs.base import Deadline, parses_as_json, renew_interval_s
from publisher.settings import AmqpInputSettings

log = structlog.get_logger(__name__)

# The broker hands deliveries over in small bursts while publishers trickle; every fetch costs
# the pipeline a round (intake, metrics, wake-ups), so a short fetch waits a moment for the
# next burst, up to a PutPartnerEvents call's worth of entries.
FETCH_FILL = 20
FETCH_LINGER_S = 0.01
MIN_KEEPER_TICK_S = 0.05
MAX_KEEPER_TICK_S = 0.5


@dataclass(slots=True)
class _Held:
    """A delivery this process holds: leased to the pipeline, or waiting out a release delay."""

    incoming: Delivery
    generation: int
    until: float
    """Loop time when the lease ends, or when a delayed release gives it back."""
    releasing: bool = False


class AmqpInput:
    """Implements the Input protocol over a RabbitMQ queue."""

    def __init__(self, settings: AmqpInputSettings, *, consumer: bool = True) -> None:
        self._settings = settings
        self._link = AmqpLink(settings, self._on_deliveries if consumer else None, self._on_lost)
        self._arrived: deque[tuple[int, Delivery]] = deque()
        self._wake = asyncio.Event()
        self._flowing = False
        """The last fetch handed deliveries over."""
        self._held: dict[str, _Held] = {}
        self._window = AckWindow()
        self._window_generation = 0
        self._keeper: asyncio.Task[None] | None = None
        self._consumer = consumer
        self._tick_s = min(
            MAX_KEEPER_TICK_S, max(MIN_KEEPER_TICK_S, settings.visibility_timeout_s / 10)
        )

    @property
    def lease_renew_s(self) -> float:
        """The broker never ends a delivery's lease, but this process does (see the module's
        docstring), so the pipeline renews it like any other input's."""
        return renew_interval_s(self._settings.visibility_timeout_s)

    async def start(self) -> None:
        """Connect and declare the queue; RabbitMQ being down is not fatal."""
        try:
            await self._link.get()
        except InputUnavailable as exc:
            log.warning("amqp_unavailable_at_start", error=str(exc))
        if self._consumer:
            self._keeper = asyncio.create_task(self._keep_leases(), name="amqp-leases")
        log.info("amqp_input_started", queue=self._settings.queue, consumer=self._consumer)

    async def close(self) -> None:
        """Disconnect: the broker requeues every delivery not acknowledged."""
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        await self._link.drop()

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Publish every body and wait for the broker's confirms."""
        if not bodies:
            return
        limit = self._settings.max_events
        if limit is not None and await self.backlog() + len(bodies) > limit:
            raise InputFull(f"{self._link.where} holds {limit} messages or more")
        link = await self._link.get()
        exchange = link.publish.default_exchange
        stamp = datetime.now(UTC)
        publishes = [
            exchange.publish(_outgoing(body, stamp), self._settings.queue) for body in bodies
        ]
        outcomes = await asyncio.gather(*publishes, return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if not failures:
            return
        # A returned message (PublishError) had no queue to go to: it was deleted under us;
        # the next link declares it again. A nack (DeliveryError) is the queue refusing it.
        refused = sum(
            isinstance(failure, DeliveryError) and not isinstance(failure, PublishError)
            for failure in failures
        )
        if refused == len(failures):
            raise InputFull(f"{self._link.where}: the broker refused {refused} of {len(bodies)}")
        raise self._link.failed(failures[0])

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Hand over deliveries, waiting at most wait_s for the first (and FETCH_LINGER_S for
        more after a short first take).

        While deliveries keep coming (the last fetch had some), a fetch that finds none ready
        lingers first instead of waking for the first one to arrive: the same wait for the
        first event of the batch, one wake-up instead of two."""
        if max_messages <= 0:
            return []
        link = await self._link.get()
        deadline = Deadline(wait_s)
        lingered = False
        if self._flowing and not self._arrived and deadline.remaining_s() > 0:
            await self._linger(link)
            lingered = True
        while True:
            self._wake.clear()
            batch = await self._take(max_messages, link.generation)
            remaining = deadline.remaining_s()
            short = len(batch) < min(max_messages, FETCH_FILL)
            if batch and short and remaining > 0 and not lingered:
                await self._linger(link)
                batch += await self._take(max_messages - len(batch), link.generation)
            if batch or remaining <= 0:
                self._flowing = bool(batch)
                return batch
            self._flowing = lingered = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)
            link = await self._link.get()  # raises while the link is down

    async def ack(self, messages: Sequence[Message]) -> None:
        """Ack the live deliveries: one `multiple` ack for a settled run, single acks for the
        rest (amqp_acks), written together; waits only while the socket's buffer is full."""
        live = self._link.generation
        tags: list[int] = []
        for message in messages:
            held = self._held.pop(message.id, None)
            if held is not None and held.generation == live and held.incoming.delivery_tag:
                tags.append(held.incoming.delivery_tag)
        if len(tags) < len(messages):
            void = len(messages) - len(tags)
            log.warning("amqp_ack_void", messages=void, reason="delivery_lost_or_expired")
        if not tags:
            return
        plan = self._window.ack(tags)
        try:
            consumer = self._link.consumer()
            for tag in plan.singles:
                consumer.ack(tag)
            if plan.multiple_up_to is not None:
                consumer.ack(plan.multiple_up_to, multiple=True)
            await consumer.flushed()
        except LINK_ERRORS as exc:
            raise self._link.failed(exc) from None

    async def extend(self, messages: Sequence[Message]) -> None:
        until = asyncio.get_running_loop().time() + self._settings.visibility_timeout_s
        for message in messages:
            held = self._held.get(message.id)
            if held is not None and not held.releasing:
                held.until = until

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        if delay_s <= 0:
            await self._requeue([m.id for m in messages])
            return
        until = asyncio.get_running_loop().time() + delay_s
        for message in messages:
            held = self._held.get(message.id)
            if held is not None:
                held.until, held.releasing = until, True

    async def backlog(self) -> int:
        return await self._link.ready_count() + len(self._held) + len(self._arrived)

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    async def _linger(link: Link) -> None:
        if link.consumer is None:
            await asyncio.sleep(FETCH_LINGER_S)
        else:
            await link.consumer.read_later(FETCH_LINGER_S)

    def _on_deliveries(self, generation: int, deliveries: list[Delivery]) -> None:
        if generation != self._window_generation:  # a new channel numbers from 1 again
            self._window, self._window_generation = AckWindow(), generation
        self._window.delivered([incoming.delivery_tag for incoming in deliveries])
        self._arrived.extend((generation, incoming) for incoming in deliveries)
        self._wake.set()

    def _on_lost(self, generation: int) -> None:
        """Deliveries of a lost channel are void: forget them (the broker requeued them)."""
        self._arrived = deque(item for item in self._arrived if item[0] > generation)
        for key in [key for key, held in self._held.items() if held.generation <= generation]:
            del self._held[key]
        self._wake.set()

    async def _take(self, limit: int, generation: int) -> list[Message]:
        until = asyncio.get_running_loop().time() + self._settings.visibility_timeout_s
        checks_json = self._settings.dead_letter_exchange is not None
        arrived, held, now = self._arrived, self._held, time.time()
        batch: list[Message] = []
        while arrived and len(batch) < limit:
            born, incoming = arrived.popleft()
            if born != generation:
                continue
            if checks_json and not parses_as_json(incoming.body):
                await self._reject_to_dlx(incoming)
                continue
            message = _message(generation, incoming, now)
            held[message.id] = _Held(incoming, generation, until)
            batch.append(message)
        return batch

    async def _reject_to_dlx(self, incoming: Delivery) -> None:
        try:
            self._link.consumer().reject(incoming.delivery_tag)
        except LINK_ERRORS as exc:
            raise self._link.failed(exc) from None
        self._window.answered([incoming.delivery_tag])
        log.warning("amqp_rejected_to_dlx", reason="invalid_json", queue=self._settings.queue)

    async def _requeue(self, ids: Sequence[str]) -> None:
        live = self._link.generation
        for message_id in ids:
            held = self._held.pop(message_id, None)
            if held is None or held.generation != live:
                continue
            try:
                self._link.consumer().nack(held.incoming.delivery_tag)
            except LINK_ERRORS as exc:
                raise self._link.failed(exc) from None
            self._window.answered([held.incoming.delivery_tag])

    async def _keep_leases(self) -> None:
        """Gives back deliveries whose lease ran out and those whose release delay ended."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._tick_s)
            now = loop.time()
            due = [key for key, held in self._held.items() if held.until <= now]
            if not due:
                continue
            expired = sum(not self._held[key].releasing for key in due)
            try:
                await self._requeue(due)
            except InputUnavailable as exc:  # the link is down: the broker requeued them
                log.warning("amqp_requeue_failed", messages=len(due), error=str(exc))
            except Exception:  # a bug: say so loudly, and keep the leases running
                log.exception("amqp_lease_keeper_failed", messages=len(due))
            if expired:
                log.warning("amqp_lease_expired", messages=expired)


def _outgoing(body: bytes, stamp: datetime) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=stamp,
    )


def _message(generation: int, incoming: Delivery, now: float) -> Message:
    """A Message; enqueued_at is the publisher's timestamp (whole seconds in AMQP) or, when it
    set none, `now` (the time of this fetch)."""
    count = incoming.headers.get("x-delivery-count") if incoming.headers else None
    redelivered = 2 if incoming.redelivered else 1
    deliveries = count + 1 if isinstance(count, int) else redelivered
    stamp = incoming.timestamp
    enqueued_at = stamp if stamp is not None else now
    return Message(f"{generation}.{incoming.delivery_tag}", incoming.body, enqueued_at, deliveries)
