"""The RabbitMQ connection of the AMQP input: connect with backoff, declare the queue when it is
missing, one channel with publisher confirms for puts and one with a prefetch for consuming.

A lost connection or channel is never repaired in place: the whole link is dropped and built
again by the next call (after a backoff), under a new `generation`. Deliveries of an older
generation are void (the broker requeued them when their channel closed) and are never acked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import aio_pika
import aiormq.abc
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity
from aiormq.abc import DeliveredMessage

from publisher.core.backoff import Doubling
from publisher.errors import InputUnavailable
from publisher.settings import AmqpInputSettings, redact_url

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT = Doubling(first_s=0.1, max_s=10.0)
# Everything aio-pika raises when the broker, the connection or a channel goes away.
LINK_ERRORS = (*CONNECTION_EXCEPTIONS, TimeoutError)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message delivered to this consumer, as the input uses it."""

    channel: aiormq.abc.AbstractChannel
    delivery_tag: int
    body: bytes
    redelivered: bool
    headers: Mapping[str, Any]
    timestamp: datetime | None

    @classmethod
    def of(cls, message: DeliveredMessage) -> Delivery:
        delivery, properties = message.delivery, message.header.properties
        return cls(
            message.channel,
            getattr(delivery, "delivery_tag", None) or 0,
            message.body,
            bool(getattr(delivery, "redelivered", False)),
            properties.headers or {},
            properties.timestamp,
        )


OnDelivery = Callable[[int, Delivery], Awaitable[None]]


@dataclass(slots=True)
class Link:
    """One live connection and its channels."""

    generation: int
    connection: AbstractConnection
    publish: AbstractChannel
    queue: AbstractQueue
    consume: AbstractChannel | None

    @property
    def alive(self) -> bool:
        channels = [self.publish] if self.consume is None else [self.publish, self.consume]
        return not self.connection.is_closed and not any(c.is_closed for c in channels)


class AmqpLink:
    """Hands out a live Link, connecting (with exponential backoff between failures) when the
    last one is gone."""

    def __init__(
        self,
        settings: AmqpInputSettings,
        on_delivery: OnDelivery | None,
        on_lost: Callable[[int], None],
    ) -> None:
        self._settings = settings
        self._on_delivery = on_delivery
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
            self._closing.add(asyncio.create_task(_close_quietly(link.connection), name="close"))
            for task in list(self._closing):
                if task.done():
                    self._closing.discard(task)
        return InputUnavailable(f"{self.where}: {exc!r}")

    async def drop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            log.warning("amqp_link_lost", queue=self._settings.queue, generation=link.generation)
            self._on_lost(link.generation)
            await _close_quietly(link.connection)

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
        try:
            self._generation += 1
            generation = self._generation
            connection.close_callbacks.add(partial(self._closed, generation))
            publish = await connection.channel(publisher_confirms=True, on_return_raises=True)
            queue = await self._declare(connection, publish)
            consume = None
            if self._on_delivery is not None:
                consume = await connection.channel(publisher_confirms=False)
                await consume.set_qos(prefetch_count=settings.prefetch)
                on_delivery = self._on_delivery

                async def deliver(message: DeliveredMessage) -> None:
                    await on_delivery(generation, Delivery.of(message))

                # aiormq's consumer, not aio-pika's: aio-pika wraps every message in an
                # IncomingMessage and one more task, a fifth of the CPU per message here.
                underlay = await consume.get_underlay_channel()
                await underlay.basic_consume(settings.queue, deliver, no_ack=False)
        except BaseException:
            await _close_quietly(connection)
            raise
        log.info("amqp_connected", queue=settings.queue, generation=generation)
        return Link(generation, connection, publish, queue, consume)

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


async def _close_quietly(connection: AbstractConnection) -> None:
    with contextlib.suppress(*LINK_ERRORS):
        await connection.close()
