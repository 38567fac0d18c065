"""The AMQP consumer's own frame reader: deliveries cut from any split of the byte stream,
with the properties the input uses, and one call per chunk read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pamqp.frame
import pytest
from pamqp import commands
from pamqp.body import ContentBody
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from publisher.inputs.amqp_consumer import AmqpConsumer, Delivery
from publisher.inputs.amqp_target import Target

STAMP = datetime(2026, 12, 5, 4, 0, 0, tzinfo=UTC)


def delivery_frames(
    tag: int, body: bytes, *, frame_max: int = 1 << 20, **properties: object
) -> bytes:
    deliver = commands.Basic.Deliver("ctag-1", tag, tag % 2 == 0, "", "events")
    header = ContentHeader(0, len(body), commands.Basic.Properties(**properties))  # type: ignore[arg-type]
    parts = [body[at : at + frame_max] for at in range(0, len(body), frame_max)]
    frames = [deliver, header, *(ContentBody(part) for part in parts)]
    return b"".join(pamqp.frame.marshal(frame, 1) for frame in frames)


def reader() -> tuple[AmqpConsumer, list[list[Delivery]]]:
    calls: list[list[Delivery]] = []
    return AmqpConsumer(calls.append, lambda exc: None), calls


def stream() -> bytes:
    return b"".join(
        [
            delivery_frames(1, b'{"n":1}'),
            pamqp.frame.marshal(Heartbeat(), 0),
            delivery_frames(
                2,
                b'{"n":2,"pad":"' + b"x" * 300 + b'"}',
                frame_max=100,  # a body over several frames
                content_type="application/json",
                headers={"x-delivery-count": 3},
                delivery_mode=2,
                correlation_id="c-1",
                message_id="m-1",
                timestamp=STAMP,
            ),
            delivery_frames(3, b"", headers={}, timestamp=STAMP),  # an empty body: no body frame
        ]
    )


EXPECTED = [
    Delivery(1, b'{"n":1}', False, {}, None),
    Delivery(
        2, b'{"n":2,"pad":"' + b"x" * 300 + b'"}', True, {"x-delivery-count": 3}, STAMP.timestamp()
    ),
    Delivery(3, b"", False, {}, STAMP.timestamp()),
]


async def test_one_chunk_with_several_deliveries_reaches_the_input_in_one_call() -> None:
    consumer, calls = reader()
    consumer.data_received(stream())
    assert calls == [EXPECTED]


@pytest.mark.parametrize("step", [1, 7, 64, 333])
async def test_deliveries_are_read_whatever_the_chunks_they_come_in(step: int) -> None:
    consumer, calls = reader()
    data = stream()
    for at in range(0, len(data), step):
        consumer.data_received(data[at : at + step])
    assert [delivery for call in calls for delivery in call] == EXPECTED


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


async def test_a_frame_without_its_end_marker_drops_the_connection() -> None:
    consumer, calls = reader()
    transport = Transport()
    consumer.connection_made(transport)
    broken = bytearray(delivery_frames(1, b"{}"))
    broken[-1] = 0
    consumer.data_received(bytes(broken))
    assert transport.aborted
    assert calls == []


GUEST = ("guest", "guest")
HB = {"heartbeat": "5"}


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", Target("127.0.0.1", 5672, *GUEST, "/", 60, None)),
        (
            "amqps://u%40x:p%2Fw@mq/prod?heartbeat=5",
            Target("mq", 5671, "u@x", "p/w", "prod", 5, HB),
        ),
        ("amqp://mq/%2F", Target("mq", 5672, *GUEST, "/", 60, None)),
    ],
)
def test_urls_are_read_as_aiormq_reads_them(url: str, target: Target) -> None:
    assert Target.of(url) == target


async def test_what_trickles_in_while_reads_are_put_off_is_read_in_one_go() -> None:
    """Deliveries written one by one while the consumer waits reach it in one call at the
    end of the wait, not one call per write."""
    bursts = [delivery_frames(tag, b'{"n":%d}' % tag) for tag in range(1, 6)]
    written, hung_up = asyncio.Event(), asyncio.Event()

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for burst in bursts:
            writer.write(burst)
            await writer.drain()
            await asyncio.sleep(0.01)
        written.set()
        await reader.read()  # until the consumer hangs up
        writer.close()
        hung_up.set()

    server = await asyncio.start_server(broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    consumer, calls = reader()
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: consumer, "127.0.0.1", port)
    try:
        await consumer.read_later(0.2)
        assert written.is_set()
        assert [[d.delivery_tag for d in call] for call in calls] == [[1, 2, 3, 4, 5]]
    finally:
        consumer.abort()
        await asyncio.wait_for(hung_up.wait(), 5)
        server.close()
        await server.wait_closed()
