"""LineFeed against the wall clock: a delayed release and a slow pipe wait as long as asked."""

from __future__ import annotations

import io
import os
import time

from publisher.inputs.lines import LineFeed


def feed_of(data: bytes, block_bytes: int = 7) -> LineFeed:
    return LineFeed(io.BufferedReader(io.BytesIO(data)), block_bytes=block_bytes)


async def test_released_lines_come_back_first_and_delayed_ones_after_their_delay() -> None:
    feed = feed_of(b"a\nb\nc\nd\n", block_bytes=1 << 16)
    a, b = await feed.fetch(2, wait_s=1.0)
    await feed.release([b])
    assert [m.body for m in await feed.fetch(2, wait_s=1.0)] == [b"b", b"c"]

    await feed.release([a], delay_s=0.3)
    started = time.monotonic()
    assert [m.body for m in await feed.fetch(1, wait_s=1.0)] == [b"d"]
    assert await feed.fetch(1, wait_s=1.0) == [a]  # waits for the delayed line
    assert 0.25 <= time.monotonic() - started < 1.0
    assert await feed.backlog() == 4  # all four leased, none acknowledged


async def test_a_slow_pipe_makes_fetch_return_empty_after_its_wait_and_loses_nothing() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader:
        feed = LineFeed(reader)
        started = time.monotonic()
        assert await feed.fetch(10, wait_s=0.2) == []  # nothing written yet
        assert 0.15 <= time.monotonic() - started < 1.0
        os.write(write_end, b"first\nsec")
        assert [m.body for m in await feed.fetch(10, wait_s=2.0)] == [b"first"]
        os.write(write_end, b"ond\n")
        os.close(write_end)
        assert [m.body for m in await feed.fetch(10, wait_s=2.0)] == [b"second"]
        assert await feed.fetch(10, wait_s=2.0) == []
        assert feed.ended
