"""LineFeed, the input of `send`: splitting blocks into lines, releases, and when it is done."""

from __future__ import annotations

import asyncio
import io

from publisher.core.message import Message
from publisher.inputs.lines import LineFeed


def feed_of(data: bytes, block_bytes: int = 7) -> LineFeed:
    # A tiny block size makes most lines straddle two blocks.
    return LineFeed(io.BufferedReader(io.BytesIO(data)), block_bytes=block_bytes)


async def fetch_all(feed: LineFeed, max_messages: int = 1000) -> list[bytes]:
    return [message.body for message in await fetch_all_messages(feed, max_messages)]


async def fetch_all_messages(feed: LineFeed, max_messages: int = 1000) -> list[Message]:
    fetched: list[Message] = []
    while True:
        messages = await feed.fetch(max_messages, wait_s=1.0)
        if not messages and feed.ended:
            return fetched
        fetched.extend(messages)


async def test_lines_across_block_boundaries_come_out_whole_stripped_and_in_order() -> None:
    data = b'{"n":1}\r\n\n   \n{"n":22}\n{"n":333}  \n{"n":4444}'  # no newline at the end
    feed = feed_of(data)
    bodies = await fetch_all(feed)
    assert bodies == [b'{"n":1}', b'{"n":22}', b'{"n":333}', b'{"n":4444}']
    assert feed.ended
    assert feed.lines_read == 4


async def test_fetch_takes_at_most_max_messages_and_ids_are_unique() -> None:
    feed = feed_of(b"".join(b"line-%d\n" % n for n in range(50)), block_bytes=1 << 16)
    first = await feed.fetch(20, wait_s=1.0)
    second = await feed.fetch(20, wait_s=1.0)
    assert len(first) == 20
    assert len(second) == 20
    ids = [message.id for message in first + second]
    assert len(set(ids)) == 40
    assert [m.body for m in first + second] == [b"line-%d" % n for n in range(40)]


async def test_ids_number_the_lines_from_one_across_blocks() -> None:
    feed = feed_of(b"".join(b"line-%d\n\n" % n for n in range(30)), block_bytes=16)
    messages = await fetch_all_messages(feed)
    assert [m.id for m in messages] == [str(n) for n in range(1, 31)]
    assert [m.body for m in messages] == [b"line-%d" % n for n in range(30)]


async def test_finished_only_once_the_stream_ended_and_every_line_is_acknowledged() -> None:
    feed = feed_of(b"a\nb\n", block_bytes=1 << 16)
    messages = await feed.fetch(10, wait_s=1.0)
    assert [m.body for m in messages] == [b"a", b"b"]
    assert await feed.fetch(10, wait_s=1.0) == []  # reads the end of the stream
    assert feed.ended
    assert not feed.finished.is_set()
    await feed.ack(messages[:1])
    assert not feed.finished.is_set()
    await feed.ack(messages[1:])
    assert feed.finished.is_set()


async def test_an_empty_stream_is_finished_at_the_first_fetch() -> None:
    feed = feed_of(b"\n\n")
    assert await feed.fetch(10, wait_s=1.0) == []
    assert feed.finished.is_set()
    assert feed.lines_read == 0


async def test_a_large_stream_is_read_in_blocks_without_losing_a_line() -> None:
    count = 30_000
    data = b"".join(b'{"n":%d}\n' % n for n in range(count))
    feed = LineFeed(io.BufferedReader(io.BytesIO(data)), block_bytes=4096)
    bodies = await asyncio.wait_for(fetch_all(feed, max_messages=500), 30)
    assert bodies == [b'{"n":%d}' % n for n in range(count)]


def test_a_line_feed_has_no_leases_to_renew() -> None:
    assert LineFeed(io.BytesIO(b"")).lease_renew_s is None
