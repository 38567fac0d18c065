"""The RabbitMQ input on the local broker: a queue used as it is, publisher confirms, a lost
connection (nothing acked early, deliveries given back) and a broker that is away."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest
from service_inputs import AMQP_URL, delete_queue, unique_name
from tcp_proxy import TcpProxy

from publisher.errors import InputUnavailable
from publisher.inputs.amqp import FETCH_FILL, FETCH_LINGER_S, AmqpInput
from publisher.inputs.amqp_consumer import AmqpConsumer
from publisher.settings import AmqpInputSettings


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    name = unique_name("test-queue")
    try:
        yield name
    finally:
        await delete_queue(name)


def settings(queue: str, url: str = AMQP_URL, **extra: object) -> AmqpInputSettings:
    return AmqpInputSettings.model_validate({"kind": "amqp", "url": url, "queue": queue, **extra})


async def fetch_n(source: AmqpInput, count: int, within_s: float = 5.0) -> list[object]:
    got: list[object] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        got += await source.fetch(count - len(got), wait_s=max(deadline - time.monotonic(), 0))
    return got


async def test_an_existing_queue_is_used_as_it_is(queue: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel() as channel:
        # A classic queue with a TTL: declaring it as a quorum queue would fail.
        await channel.declare_queue(queue, durable=True, arguments={"x-message-ttl": 600_000})
    source = AmqpInput(settings(queue, queue_type="quorum"))
    await source.start()
    try:
        await source.put([b'{"n":1}'])
        messages = await source.fetch(10, wait_s=2.0)
        assert [m.body for m in messages] == [b'{"n":1}']
        await source.ack(messages)
        assert await source.backlog() == 0
    finally:
        await source.close()


async def test_a_lost_connection_gives_deliveries_back_and_reconnects(queue: str) -> None:
    proxy = await TcpProxy(5672).start()
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
    source = AmqpInput(settings(queue, url=url, queue_type="classic"))
    await source.start()
    try:
        await source.put([b'{"n":1}', b'{"n":2}'])
        held = await fetch_n(source, 2)
        assert len(held) == 2

        await proxy.cut()
        again: list[object] = []
        deadline = time.monotonic() + 10
        while len(again) < 2 and time.monotonic() < deadline:
            with contextlib.suppress(InputUnavailable):  # while it backs off to reconnect
                again += await source.fetch(10, wait_s=1.0)
        await source.ack(held)  # void: the broker requeued them when the connection dropped
        assert sorted((m.body, m.deliveries) for m in again) == [  # type: ignore[attr-defined]
            (b'{"n":1}', 2),
            (b'{"n":2}', 2),
        ]
        await source.ack(again)
        assert await source.backlog() == 0
    finally:
        await source.close()
        await proxy.close()


async def test_puts_fail_clearly_while_the_broker_is_away(queue: str) -> None:
    proxy = await TcpProxy(5672).start()
    await proxy.cut(refuse=True)
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
    source = AmqpInput(settings(queue, url=url), consumer=False)
    await source.start()  # not fatal
    try:
        with pytest.raises(
            InputUnavailable, match=f"amqp queue {queue} at amqp://guest:\\*\\*\\*@"
        ):
            await source.put([b'{"n":1}'])
        await proxy.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                await source.put([b'{"n":1}'])
                break
            except InputUnavailable:
                assert time.monotonic() < deadline, "no reconnection within 10 s"
                await asyncio.sleep(0.05)  # poll interval while the link backs off
        assert await source.backlog() == 1
    finally:
        await source.close()
        await proxy.close()


async def test_a_queue_deleted_under_a_publisher_is_declared_again(queue: str) -> None:
    source = AmqpInput(settings(queue), consumer=False)
    await source.start()
    try:
        await source.put([b'{"n":1}'])
        await delete_queue(queue)

        with pytest.raises(InputUnavailable):
            await source.put([b'{"n":2}'])  # returned unroutable: not a full queue
        deadline = time.monotonic() + 10
        while True:
            try:
                await source.put([b'{"n":3}'])
                break
            except InputUnavailable:
                assert time.monotonic() < deadline, "the queue was not declared again"
                await asyncio.sleep(0.05)  # poll interval while the link backs off
        assert await source.backlog() == 1
    finally:
        await source.close()


async def test_while_deliveries_flow_a_fetch_with_none_ready_lingers_unread_first(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lingers: list[float] = []
    read_later = AmqpConsumer.read_later

    async def counted(consumer: AmqpConsumer, seconds: float) -> None:
        lingers.append(seconds)
        await read_later(consumer, seconds)

    monkeypatch.setattr(AmqpConsumer, "read_later", counted)
    source = AmqpInput(settings(queue))
    await source.start()
    try:
        await source.put([b'{"n":1}'] * FETCH_FILL)
        first = await fetch_n(source, FETCH_FILL)
        assert len(first) == FETCH_FILL
        lingers.clear()
        assert await source.fetch(10, wait_s=0.1) == []
        assert lingers == [FETCH_LINGER_S]  # lingered first, although nothing had arrived
        assert await source.fetch(10, wait_s=0.1) == []
        assert lingers == [FETCH_LINGER_S]  # the flow had stopped: waited for an arrival
        await source.ack(first)
    finally:
        await source.close()
