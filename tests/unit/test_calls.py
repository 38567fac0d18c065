"""Calls under way: cancelling them on shutdown spares a call that is settling; a slot is
held for the call to AWS, not for its settlement."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from publisher.aws.putevents import EntryResult
from publisher.core.admission import Entry
from publisher.core.batching import Batch
from publisher.core.message import Message
from publisher.engine.calls import Calls
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.engine.settle import Outcome
from publisher.observe.metrics import Metrics


class Clients:
    def __init__(self, answer: asyncio.Event | None = None) -> None:
        self.answer = answer
        self.called = asyncio.Event()

    async def get(self, region: str) -> Clients:
        return self

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        self.called.set()
        if self.answer is not None:
            await self.answer.wait()
        return [EntryResult(f"aws-{n}") for n in range(len(entries))]


class SlowSettlement:
    """Settles once `release` is set, as an input whose ack takes a while."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.finished = asyncio.Event()
        self.settled: list[Batch[Entry]] = []

    async def settle(self, batch: Batch[Entry], outcome: Outcome) -> None:
        self.started.set()
        await self.release.wait()
        self.settled.append(batch)
        self.finished.set()

    async def until_settled(self, count: int) -> None:
        while len(self.settled) < count:
            self.finished.clear()
            await self.finished.wait()


def calls_with(clients: Clients, settlement: SlowSettlement, max_in_flight: int = 4) -> Calls:
    return Calls(
        clients=clients,  # type: ignore[arg-type]
        settlement=settlement,  # type: ignore[arg-type]
        limiter=AdaptiveRateLimiter(1000),
        metrics=Metrics(),
        max_in_flight=max_in_flight,
        on_finished=lambda: None,
    )


def batch() -> Batch[Entry]:
    entry = Entry(Message("1", b"{}", 0.0), "us-east-1", {"Detail": "{}"}, 2, "acme", "ord-1")
    return Batch("us-east-1", [entry], entry.size)


async def test_cancel_leaves_a_settling_call_to_finish_without_waiting_for_it() -> None:
    settlement = SlowSettlement()
    calls = calls_with(Clients(), settlement)
    sent = batch()
    assert await calls.start(sent)
    await asyncio.wait_for(settlement.started.wait(), 5)

    await asyncio.wait_for(calls.cancel(), 5)  # returns while the settlement still waits
    assert settlement.settled == []
    settlement.release.set()
    await asyncio.wait_for(settlement.finished.wait(), 5)
    assert settlement.settled == [sent]
    assert calls.failure is None


async def test_cancel_stops_a_call_still_waiting_for_its_answer() -> None:
    settlement = SlowSettlement()
    clients = Clients(answer=asyncio.Event())
    calls = calls_with(clients, settlement)
    assert await calls.start(batch())
    await asyncio.wait_for(clients.called.wait(), 5)

    await asyncio.wait_for(calls.cancel(), 5)
    assert len(calls) == 0
    assert not settlement.started.is_set()


async def test_the_next_call_starts_while_the_last_one_still_settles() -> None:
    settlement = SlowSettlement()
    calls = calls_with(Clients(), settlement, max_in_flight=1)
    assert await calls.start(batch())
    await asyncio.wait_for(settlement.started.wait(), 5)

    # One slot, and the first call's settlement (its ack) has not returned: the slot is free.
    assert await asyncio.wait_for(calls.start(batch()), 5)
    assert len(calls) == 2
    settlement.release.set()
    await asyncio.wait_for(settlement.until_settled(2), 5)
    assert calls.failure is None


async def test_the_slot_is_held_while_the_call_waits_for_aws() -> None:
    answer = asyncio.Event()
    clients = Clients(answer)
    settlement = SlowSettlement()
    settlement.release.set()
    calls = calls_with(clients, settlement, max_in_flight=1)
    assert await calls.start(batch())
    await asyncio.wait_for(clients.called.wait(), 5)

    second = asyncio.create_task(calls.start(batch()))
    for _ in range(20):  # loop turns, not time: the second start has every chance to run
        await asyncio.sleep(0)
    assert not second.done()
    answer.set()
    assert await asyncio.wait_for(second, 5)
    await asyncio.wait_for(settlement.until_settled(2), 5)
