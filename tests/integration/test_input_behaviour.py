"""One behaviour suite for every Input: lease, redelivery, ack, bounds (see input_factories)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import orjson
import pytest
from input_factories import INPUT_FACTORIES, InputOptions, OpenedInput

from publisher.core.message import Message
from publisher.errors import InputFull
from publisher.inputs.base import Input

OpenInput = Callable[..., AbstractAsyncContextManager[OpenedInput]]

BODIES = [
    b'{"tenant":"acme","detail":{"n":1}}',
    '{"tenant":"acme","detail":{"name":"Zoë ✓ 日本"}}'.encode(),
    b'{"tenant":"acme","detail":{"text":"line\\nbreak \\"quoted\\""}}',
    b'{"tenant":"acme","detail":{"big":"' + b"x" * 100_000 + b'"}}',
    b'{"tenant":"acme","detail":{"n":5}}',
]


@pytest.fixture(params=sorted(INPUT_FACTORIES))
def input_factory(request: pytest.FixtureRequest, tmp_path: Path) -> OpenInput:
    """`async with input_factory(visibility_timeout_s=...) as opened:` a started input."""
    factory = INPUT_FACTORIES[request.param]

    def open_input(**options: Any) -> AbstractAsyncContextManager[OpenedInput]:
        return factory(InputOptions(tmp_path, **options))

    return open_input


async def fetch_n(source: Input, count: int, within_s: float = 5.0) -> list[Message]:
    """Fetch until `count` messages arrived (inputs may hand them over in several fetches)."""
    got: list[Message] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        got += await source.fetch(count - len(got), wait_s=max(deadline - time.monotonic(), 0))
    return got


def bodies(opened: OpenedInput, raw: list[bytes]) -> list[Any]:
    """What to compare: the bytes, or the JSON values where the input keeps values, not text."""
    return raw if opened.exact_bodies else [orjson.loads(body) for body in raw]


def delivered(opened: OpenedInput, messages: list[Message]) -> list[tuple[Any, int]]:
    return list(
        zip(
            bodies(opened, [m.body for m in messages]),
            [m.deliveries for m in messages],
            strict=True,
        )
    )


async def test_round_trip_keeps_bodies_exact_and_in_order(input_factory: OpenInput) -> None:
    async with input_factory() as opened:
        source = opened.input
        before = time.time()
        await source.put(BODIES[:2])
        await source.put(BODIES[2:])
        after = time.time()

        messages = await fetch_n(source, len(BODIES))

        assert bodies(opened, [m.body for m in messages]) == bodies(opened, BODIES)
        assert [m.deliveries for m in messages] == [1] * len(BODIES)
        assert all(before - 1 <= m.enqueued_at <= after + 1 for m in messages)
        assert len({m.id for m in messages}) == len(BODIES)
        await source.ack(messages)
        assert await source.backlog() == 0
        assert await source.fetch(10, wait_s=0) == []


async def test_fetch_respects_max_messages(input_factory: OpenInput) -> None:
    async with input_factory() as opened:
        await opened.input.put(BODIES)

        first = await opened.input.fetch(2, wait_s=1.0)
        rest = await fetch_n(opened.input, 3)

        assert bodies(opened, [m.body for m in first]) == bodies(opened, BODIES[:2])
        assert bodies(opened, [m.body for m in rest]) == bodies(opened, BODIES[2:])


async def test_empty_fetch_waits_for_wait_s_then_returns_nothing(input_factory: OpenInput) -> None:
    async with input_factory() as opened:
        started = time.monotonic()
        assert await opened.input.fetch(10, wait_s=0.4) == []
        assert 0.35 <= time.monotonic() - started < 2.0


async def test_fetch_returns_as_soon_as_a_put_arrives(input_factory: OpenInput) -> None:
    async with input_factory() as opened:
        waiting = asyncio.create_task(opened.input.fetch(10, wait_s=10.0), name="fetch")
        await asyncio.sleep(0.2)  # the fetch is waiting on an empty input when the put comes
        put_at = time.monotonic()
        await opened.input.put([BODIES[0]])

        messages = await asyncio.wait_for(waiting, timeout=5.0)

        assert bodies(opened, [m.body for m in messages]) == bodies(opened, [BODIES[0]])
        assert time.monotonic() - put_at < 1.0


async def test_leased_messages_are_invisible_to_another_fetch(input_factory: OpenInput) -> None:
    async with input_factory(visibility_timeout_s=5.0) as opened:
        await opened.input.put(BODIES[:3])
        leased = await fetch_n(opened.input, 3)

        assert len(leased) == 3
        assert await opened.input.fetch(10, wait_s=0) == []  # leases last 5 s, not 0
        assert await opened.input.backlog() == 3


async def test_unacked_messages_come_back_after_the_timeout(input_factory: OpenInput) -> None:
    async with input_factory() as opened:
        await opened.input.put(BODIES[:2])
        first = await fetch_n(opened.input, 2)
        leased_at = time.monotonic()

        again = await fetch_n(opened.input, 2, within_s=opened.visibility_timeout_s * 6)

        assert time.monotonic() - leased_at >= opened.visibility_timeout_s * 0.9
        assert [m.body for m in again] == [m.body for m in first]
        assert [m.deliveries for m in again] == [2, 2]
        assert [m.enqueued_at for m in again] == [m.enqueued_at for m in first]


async def first_visible(source: Input, within_s: float) -> list[Message]:
    """What the first non-waiting fetch to find anything returns (polled, not long-polled:
    moto's long poll looks again only once a second)."""
    deadline = time.monotonic() + within_s
    while True:
        got = await source.fetch(10, wait_s=0)
        if got or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.02)


async def test_extend_keeps_messages_invisible_past_the_timeout(input_factory: OpenInput) -> None:
    # Half the lease is used up when it is extended: the extend has that half as slack on a
    # slow machine, and the two leases then end that far apart for first_visible to tell.
    async with input_factory(visibility_timeout_s=2.0) as opened:
        timeout_s = opened.visibility_timeout_s
        await opened.input.put(BODIES[:2])
        first, second = bodies(opened, BODIES[:2])
        leased_at = time.monotonic()  # not later than the leases begin
        leased = [m for m in await fetch_n(opened.input, 2) if bodies(opened, [m.body]) == [first]]
        assert len(leased) == 1
        await asyncio.sleep(timeout_s * 0.5)
        await opened.input.extend(leased)
        assert time.monotonic() - leased_at < timeout_s, "extended only after the lease ended"

        # The lease left alone runs out first; the first fetch that sees it must not see the
        # extended one, which was leased at the same moment.
        expired = await first_visible(opened.input, within_s=timeout_s * 4)
        back = await fetch_n(opened.input, 1, within_s=timeout_s * 4)

        assert bodies(opened, [m.body for m in expired]) == [second]
        assert time.monotonic() - leased_at >= timeout_s * 1.5
        assert delivered(opened, back) == [(first, 2)]


async def test_release_makes_messages_visible_at_once(input_factory: OpenInput) -> None:
    async with input_factory(visibility_timeout_s=10.0) as opened:
        await opened.input.put(BODIES[:2])
        leased = await fetch_n(opened.input, 2)
        await opened.input.release(leased[:1])
        released_at = time.monotonic()

        back = await fetch_n(opened.input, 1, within_s=3.0)

        assert time.monotonic() - released_at < 3.0
        assert delivered(opened, back) == [(bodies(opened, [BODIES[0]])[0], 2)]
        assert await opened.input.fetch(10, wait_s=0.2) == []  # the other is still leased


async def test_ack_removes_messages_for_good(input_factory: OpenInput) -> None:
    async with input_factory() as opened:
        await opened.input.put(BODIES[:3])
        leased = await fetch_n(opened.input, 3)
        await opened.input.ack(leased[:2])

        assert await opened.input.backlog() == 1
        back = await fetch_n(opened.input, 1, within_s=opened.visibility_timeout_s * 4)
        await opened.input.ack(back)

        assert bodies(opened, [m.body for m in back]) == bodies(opened, [BODIES[2]])
        assert await opened.input.backlog() == 0
        assert await opened.input.fetch(10, wait_s=opened.visibility_timeout_s * 2) == []


async def test_puts_over_the_bound_raise_input_full(input_factory: OpenInput) -> None:
    async with input_factory(max_events=3) as opened:
        await opened.input.put(BODIES[:2])

        with pytest.raises(InputFull):
            await opened.input.put(BODIES[2:4])

        assert await opened.input.backlog() == 2  # all or nothing
        leased = await fetch_n(opened.input, 2)
        await opened.input.ack(leased[:1])
        await opened.input.put(BODIES[2:4])
        assert await opened.input.backlog() == 3


async def test_release_with_a_delay_hides_messages_until_it_ends(input_factory: OpenInput) -> None:
    async with input_factory(visibility_timeout_s=10.0) as opened:
        await opened.input.put([BODIES[0]])
        leased = await fetch_n(opened.input, 1)
        await opened.input.release(leased, delay_s=1.0)
        released_at = time.monotonic()

        hidden = await opened.input.fetch(10, wait_s=0.5)
        back = await fetch_n(opened.input, 1, within_s=5.0)

        assert hidden == []
        assert 0.9 <= time.monotonic() - released_at < 5.0
        assert delivered(opened, back) == [(bodies(opened, [BODIES[0]])[0], 2)]
