"""Coalescer: one flush at a time, carrying everything that queued behind the last one."""

from __future__ import annotations

import asyncio

import pytest

from publisher.inputs.coalesce import Coalescer


class GatedFlush:
    """Records each flush and holds it open until the test lets it finish; `log` is the order
    in which flushes and the test's own marks (callers returning, drain returning) happened."""

    def __init__(self) -> None:
        self.flushed: list[list[int]] = []
        self.log: list[str] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail_with: Exception | None = None

    async def __call__(self, items: list[int]) -> None:
        self.flushed.append(items)
        self.started.set()
        await self.gate.wait()
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        self.log.append(f"flushed {items}")


async def test_a_lone_submit_is_flushed_at_once_and_returns_after_its_flush() -> None:
    flushes: list[list[int]] = []

    async def flush(items: list[int]) -> None:
        flushes.append(items)

    coalescer: Coalescer[int] = Coalescer(flush)
    await coalescer.submit([1, 2])
    assert flushes == [[1, 2]]
    await coalescer.submit([])
    assert flushes == [[1, 2]]  # nothing to flush, no empty statement


async def test_submits_during_a_flush_share_the_next_one() -> None:
    flush = GatedFlush()
    coalescer: Coalescer[int] = Coalescer(flush)

    async def caller(n: int) -> None:
        await coalescer.submit([n])
        flush.log.append(f"returned {n}")

    first = asyncio.create_task(caller(1))
    await flush.started.wait()
    waiting = [asyncio.create_task(caller(n)) for n in (2, 3, 4)]
    flush.gate.set()
    await asyncio.gather(first, *waiting)
    assert flush.flushed == [[1], [2, 3, 4]]
    log = flush.log.index  # every caller returns only after the flush that carried its item
    assert log("returned 1") > log("flushed [1]")
    assert min(log(f"returned {n}") for n in (2, 3, 4)) > log("flushed [2, 3, 4]")


async def test_a_failed_flush_fails_its_own_callers_only() -> None:
    flush = GatedFlush()
    coalescer: Coalescer[int] = Coalescer(flush)
    flush.fail_with = RuntimeError("disk full")
    failing = asyncio.create_task(coalescer.submit([1]))
    await flush.started.wait()
    later = asyncio.create_task(coalescer.submit([2]))
    flush.gate.set()
    with pytest.raises(RuntimeError, match="disk full"):
        await failing
    await later  # flushed by the next flush, which succeeds
    assert flush.flushed == [[1], [2]]


async def test_a_cancelled_caller_does_not_cancel_the_flush_of_its_items() -> None:
    flush = GatedFlush()
    coalescer: Coalescer[int] = Coalescer(flush)
    caller = asyncio.create_task(coalescer.submit([7]))
    await flush.started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    flush.gate.set()
    await asyncio.wait_for(coalescer.drain(), 1)
    assert flush.flushed == [[7]]


async def test_drain_waits_for_queued_items_too() -> None:
    flush = GatedFlush()
    coalescer: Coalescer[int] = Coalescer(flush)
    callers = [asyncio.create_task(coalescer.submit([1]))]
    await flush.started.wait()
    callers.append(asyncio.create_task(coalescer.submit([2])))  # queued behind the first

    async def drain() -> None:
        await coalescer.drain()
        flush.log.append("drained")

    draining = asyncio.create_task(drain())
    flush.gate.set()
    await asyncio.wait_for(draining, 1)
    assert flush.flushed == [[1], [2]]
    assert flush.log == ["flushed [1]", "flushed [2]", "drained"]
    assert all(caller.done() for caller in callers)


async def test_with_an_interval_later_submits_wait_for_it_and_share_a_flush() -> None:
    loop = asyncio.get_running_loop()
    interval_s = 0.5  # far above what one flush takes on a loaded machine
    flushes: list[tuple[list[int], float]] = []

    async def flush(items: list[int]) -> None:
        flushes.append((items, loop.time()))

    coalescer: Coalescer[int] = Coalescer(flush, min_interval_s=interval_s)
    before = loop.time()
    await coalescer.submit([1])  # after a quiet spell: at once
    assert loop.time() - before < interval_s
    second = asyncio.create_task(coalescer.submit([2]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert [items for items, _ in flushes] == [[1]]  # [2] waits for the interval
    third = asyncio.create_task(coalescer.submit([3]))
    await asyncio.wait_for(asyncio.gather(second, third), 5)
    assert [items for items, _ in flushes] == [[1], [2, 3]]
    assert flushes[1][1] - flushes[0][1] >= interval_s * 0.99
    await asyncio.wait_for(coalescer.drain(), 5)  # the runner ends after its interval
