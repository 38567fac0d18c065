"""Calls under way: cancelling them on shutdown spares a call that is settling."""

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


def calls_with(clients: Clients, settlement: SlowSettlement) -> Calls:
    return Calls(
        clients=clients,  # type: ignore[arg-type]
        settlement=settlement,  # type: ignore[arg-type]
        limiter=AdaptiveRateLimiter(1000),
        metrics=Metrics(),
        max_in_flight=4,
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
