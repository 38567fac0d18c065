"""Settlement's delivery-time histogram: each published event's age, never below zero."""

from __future__ import annotations

import random
from collections.abc import Sequence

from publisher.aws.putevents import EntryResult
from publisher.core.admission import Entry
from publisher.core.batching import Batch
from publisher.core.clock import Clocks
from publisher.core.decisions import RetryPolicy
from publisher.core.message import Message
from publisher.core.source_states import SourceStates
from publisher.engine.deadletter import DeadLetter
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.engine.settle import Settlement
from publisher.inputs.memory import MemoryInput
from publisher.observe.metrics import Metrics
from publisher.settings import RetrySettings

WALL = 1_000.0


class NoDeadLetters:
    async def write(self, letters: Sequence[DeadLetter]) -> None:
        raise AssertionError("nothing is dead-lettered here")


class Settled:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    def retry_at(self, ready_at: float, entry: Entry) -> None:
        raise AssertionError("nothing is retried here")

    def resend_first(self, batch: Batch[Entry]) -> None:
        raise AssertionError("nothing is resent here")

    def settled(self, messages: Sequence[Message], published: int, dead_lettered: int) -> None:
        self.messages.extend(messages)


def entry(n: int, enqueued_at: float) -> Entry:
    return Entry(Message(f"m{n}", b"{}", enqueued_at), "us-east-1", {}, 10, "acme", f"e{n}")


async def test_published_events_count_their_age_and_a_future_enqueue_time_as_none() -> None:
    metrics = Metrics()
    settled = Settled()
    settlement = Settlement(
        input=MemoryInput(visibility_timeout_s=30),
        dead_letters=NoDeadLetters(),
        policy=RetryPolicy(RetrySettings(), random.Random(7)),
        limiter=AdaptiveRateLimiter(100),
        states=SourceStates(),
        metrics=metrics,
        requeue=settled,
        clocks=Clocks(monotonic=lambda: 0.0, wall=lambda: WALL),
    )
    # The second was enqueued "after" now: the wall clock was stepped back since.
    entries = [entry(0, WALL - 2.0), entry(1, WALL + 5.0)]
    await settlement.settle(Batch("us-east-1", entries, 20), [EntryResult("a"), EntryResult("b")])
    registry = metrics.registry
    assert registry.get_sample_value("publisher_event_delivery_seconds_sum") == 2.0
    assert registry.get_sample_value("publisher_event_delivery_seconds_count") == 2.0
    assert [m.id for m in settled.messages] == ["m0", "m1"]
