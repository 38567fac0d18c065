"""The RabbitMQ connections of the AMQP input: connect with backoff, declare the queue when it
is missing; an aio-pika connection with a publisher-confirms channel for puts, and, when
consuming, an AmqpConsumer connection of its own for deliveries.

A lost connection or channel is never repaired in place: the whole link is dropped and built
again by the next call (after a backoff), under a new `generation`. Deliveries of an older
generation are void (the broker requeued them when their channel closed) and are never acked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity

from publisher.core.backoff import Doubling
from publisher.errors import InputUnavailable
from publisher.inputs.amqp_consumer import AmqpConsumer, ConsumerError, Delivery
from publisher.settings import AmqpInputSettings, redact_url

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT = Doubling(first_s=0.1, max_s=10.0)
# Everything aio-pika raises when the broker, the connection or a channel goes away.
LINK_ERRORS = (*CONNECTION_EXCEPTIONS, TimeoutError)

OnDeliveries = Callable[[int, list[Delivery]], None]
"""Called with the link's generation and the deliveries of one read from the socket."""


@dataclass(slots=True)
class Link:
    """One live pair of connections: aio-pika's for puts, the consumer's for deliveries."""

    generation: int
    connection: AbstractConnection
    publish: AbstractChannel
    queue: AbstractQueue
    consumer: AmqpConsumer | None

    @property
    def alive(self) -> bool:
        consuming = self.consumer is None or not self.consumer.closed
        return consuming and not self.connection.is_closed and not self.publish.is_closed


class AmqpLink:
    """Hands out a live Link, connecting (with exponential backoff between failures) when the
    last one is gone."""

    def __init__(
        self,
        settings: AmqpInputSettings,
        on_deliveries: OnDeliveries | None,
        on_lost: Callable[[int], None],
    ) -> None:
        self._settings = settings
        self._on_deliveries = on_deliveries
        self._on_lost = on_lost
        self._link: Link | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._backoff_s = RECONNECT.first_s
        self._closing: set[asyncio.Task[None]] = set()
        self.where = f"amqp queue {settings.queue} at {redact_url(settings.url.get_secret_value())}"

    @property
    def generation(self) -> int:
        """The generation of the live link (0 before the first)."""
        return self._link.generation if self._link is not None and self._link.alive else -1

    def consumer(self) -> AmqpConsumer:
        """The live link's consumer; ConsumerError when there is none."""
        link = self._link
        if link is None or link.consumer is None or not link.alive:
            raise ConsumerError(f"{self.where}: no live consumer")
        return link.consumer

    async def get(self) -> Link:
        """The live link, connecting first when needed; InputUnavailable while that fails."""
        link = self._link
        if link is not None and link.alive:
            return link
        async with self._lock:
            if self._link is not None and self._link.alive:
                return self._link
            await self.drop()
            loop = asyncio.get_running_loop()
            if loop.time() < self._retry_at:
                wait_s = self._retry_at - loop.time()
                raise InputUnavailable(f"{self.where}: reconnecting in {wait_s:.1f} s")
            try:
                self._link = await self._connect()
            except LINK_ERRORS as exc:
                self._retry_at = loop.time() + self._backoff_s
                self._backoff_s = RECONNECT.after(self._backoff_s)
                raise InputUnavailable(f"{self.where}: {exc!r}") from None
            self._backoff_s = RECONNECT.first_s
            return self._link

    def failed(self, exc: BaseException) -> InputUnavailable:
        """An operation on the link failed: drop it (the next call reconnects)."""
        link, self._link = self._link, None
        if link is not None:
            self._on_lost(link.generation)
            self._closing.add(asyncio.create_task(_close_quietly(link), name="close"))
            for task in list(self._closing):
                if task.done():
                    self._closing.discard(task)
        return InputUnavailable(f"{self.where}: {exc!r}")

    async def drop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            log.warning("amqp_link_lost", queue=self._settings.queue, generation=link.generation)
            self._on_lost(link.generation)
            await _close_quietly(link)

    async def ready_count(self) -> int:
        """Messages ready in the queue (not counting those delivered and unacknowledged)."""
        link = await self.get()
        try:
            declared = await link.publish.declare_queue(self._settings.queue, passive=True)
        except LINK_ERRORS as exc:
            raise self.failed(exc) from None
        result = declared.declaration_result
        return int(result.message_count or 0)

    async def _connect(self) -> Link:
        settings = self._settings
        connection = await aio_pika.connect(
            settings.url.get_secret_value(), timeout=CONNECT_TIMEOUT_S
        )
        consumer: AmqpConsumer | None = None
        try:
            self._generation += 1
            generation = self._generation
            connection.close_callbacks.add(partial(self._closed, generation))
            publish = await connection.channel(publisher_confirms=True, on_return_raises=True)
            queue = await self._declare(connection, publish)
            if self._on_deliveries is not None:
                consumer = AmqpConsumer(
                    partial(self._on_deliveries, generation),
                    partial(self._closed, generation, None),
                )
                await consumer.open(
                    settings.url.get_secret_value(),
                    settings.queue,
                    settings.prefetch,
                    CONNECT_TIMEOUT_S,
                )
        except BaseException:
            if consumer is not None:
                consumer.abort()
            with contextlib.suppress(*LINK_ERRORS):
                await connection.close()
            raise
        log.info("amqp_connected", queue=settings.queue, generation=generation)
        return Link(generation, connection, publish, queue, consumer)

    async def _declare(self, connection: AbstractConnection, publish: AbstractChannel) -> Any:
        """Use the queue as it is when it exists; else declare it durable with our arguments."""
        settings = self._settings
        scratch = await connection.channel(publisher_confirms=False)
        try:
            return await scratch.declare_queue(settings.queue, passive=True)
        except ChannelNotFoundEntity:
            pass  # a failed passive declare closes its channel: hence the scratch one
        finally:
            if not scratch.is_closed:
                await scratch.close()
        arguments: dict[str, Any] = {"x-queue-type": settings.queue_type}
        if settings.dead_letter_exchange is not None:
            arguments["x-dead-letter-exchange"] = settings.dead_letter_exchange
        if settings.max_events is not None:
            arguments["x-max-length"] = settings.max_events
            arguments["x-overflow"] = "reject-publish"
        queue = await publish.declare_queue(settings.queue, durable=True, arguments=arguments)
        log.info("amqp_queue_declared", queue=settings.queue, arguments=arguments)
        return queue

    def _closed(self, generation: int, _: Any, exc: BaseException | None) -> None:
        if exc is not None:
            log.warning("amqp_connection_closed", generation=generation, error=repr(exc))
        self._on_lost(generation)


async def _close_quietly(link: Link) -> None:
    if link.consumer is not None:
        await link.consumer.close()
    with contextlib.suppress(*LINK_ERRORS):
        await link.connection.close()
