"""The pipeline tells the Ledger each outcome; the Ledger writes them in batches afterwards."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import orjson

from publisher.aws.putevents import EntryResult
from publisher.core.admission import Admission
from publisher.core.decisions import RetryPolicy
from publisher.core.source_states import SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.engine.deadletter import DeadLetter, dead_letter_record
from publisher.engine.pipeline import Pipeline
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.inputs.memory import MemoryInput
from publisher.ledger.entry import DEAD_LETTERED, PENDING, PUBLISHED, LedgerEntry, LedgerRow
from publisher.ledger.memory import MemoryLedger
from publisher.ledger.recorder import Ledger
from publisher.observe.metrics import Metrics
from publisher.settings import RetrySettings, TenantSettings

SOURCE = "aws.partner/example.com/acme/orders"
TENANTS = {"acme": TenantSettings(account="111122223333", source=SOURCE)}
RETRY = RetrySettings(max_attempts=8, base_delay_ms=1, max_delay_ms=5)


class Scripted:
    """n=1 is refused for good; n=2 fails once, retryably; the rest are accepted."""

    def __init__(self) -> None:
        self.failed_once: set[int] = set()

    async def get(self, region: str) -> Scripted:
        return self

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        results = []
        for entry in entries:
            n = orjson.loads(entry["Detail"])["n"]
            if n == 1:
                results.append(EntryResult(None, "MalformedDetail", "no"))
            elif n == 2 and n not in self.failed_once:
                self.failed_once.add(n)
                results.append(EntryResult(None, "InternalFailure", "try again"))
            else:
                results.append(EntryResult(f"aws-{n}"))
        return results


class Letters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


def body(n: int, **extra: Any) -> bytes:
    return orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": {"n": n}, **extra})


async def run_pipeline(bodies: list[bytes], ledger: Ledger, letters: Letters) -> None:
    settled = 0
    done = asyncio.Event()

    def on_settled(published: int, dead: int) -> None:
        nonlocal settled
        settled += published + dead
        if settled >= len(bodies):
            done.set()

    source = MemoryInput(visibility_timeout_s=30)
    states = SourceStates()
    admission = Admission(
        TenantRegistry(TENANTS, "us-east-1"),
        states,
        max_request_bytes=262_144,
        max_age_s=RETRY.max_age_s,
        pending="send",
        hold_s=60,
    )
    pipeline = Pipeline(
        input=source,
        clients=Scripted(),
        admission=admission,
        states=states,
        dead_letters=letters,
        metrics=Metrics(),
        policy=RetryPolicy(RETRY, random.Random(7)),
        limiter=AdaptiveRateLimiter(100_000),
        max_entries=20,
        max_request_bytes=262_144,
        linger_s=0.002,
        max_in_flight=32,
        max_buffered_events=10_000,
        on_settled=on_settled,
        ledger=ledger,
    )
    await source.put(bodies)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=5))
    await asyncio.wait_for(done.wait(), 10)
    stop.set()
    await task


def only(store: MemoryLedger, event_id: str) -> LedgerEntry:
    (entry,) = [e for (_, key), e in store.entries.items() if key == event_id]
    return entry


async def test_every_settled_event_reaches_the_ledger_with_its_outcome() -> None:
    store, letters = MemoryLedger(), Letters()
    ledger = Ledger(store, flush_interval_s=60, retention_s=3600)
    bodies = [body(0, id="e0"), body(1, id="e1"), body(2, id="e2"), body(3), b"not json"]

    await run_pipeline(bodies, ledger, letters)
    assert store.entries == {}  # nothing written on the settle path itself
    await ledger.flush()

    published = only(store, "e0")
    assert (published.state, published.aws_event_id, published.attempts) == (PUBLISHED, "aws-0", 1)
    assert published.tenant == "acme"
    assert published.settled_at is not None
    retried = only(store, "e2")
    assert (retried.state, retried.aws_event_id, retried.attempts) == (PUBLISHED, "aws-2", 2)
    refused = only(store, "e1")
    (letter,) = [x for x in letters.letters if x.reason != "invalid_json"]
    assert (refused.state, refused.reason) == (DEAD_LETTERED, "rejected")
    assert refused.dead_letter_id == letter.dead_letter_id
    given = [e for e in store.entries.values() if e.id not in {"e0", "e1", "e2"}]
    assert [(len(e.id), e.aws_event_id) for e in given] == [(32, "aws-3")]  # a UUID, made up
    assert store.writes == 1  # one batch


async def test_a_dead_lettered_event_without_id_keeps_the_given_id_in_its_record() -> None:
    store, letters = MemoryLedger(), Letters()
    ledger = Ledger(store, flush_interval_s=60, retention_s=3600)

    await run_pipeline([body(1)], ledger, letters)
    await ledger.flush()

    (entry,) = store.entries.values()
    record = dead_letter_record(letters.letters[0], 0.0)
    assert record["event"]["id"] == entry.id
    assert record["dead_letter_id"] == entry.dead_letter_id


async def test_a_retry_is_pending_until_settled_and_pending_never_hides_the_outcome() -> None:
    store = MemoryLedger()
    ledger = Ledger(store, flush_interval_s=60, retention_s=3600)
    letters = Letters()
    # The pending entry and the published one reach the store in one batch, in that order.
    await run_pipeline([body(2, id="e2")], ledger, letters)
    await ledger.flush()
    assert only(store, "e2").state == PUBLISHED
    await store.write([LedgerEntry("e2", "acme", PENDING, 0.0, 1, 1e10).row()])
    assert only(store, "e2").state == PUBLISHED


class Failing(MemoryLedger):
    async def write(self, rows: Sequence[LedgerRow]) -> None:
        raise ConnectionError("ledger down")


async def test_a_failing_store_drops_the_batch_without_touching_publishing() -> None:
    metrics = Metrics()
    ledger = Ledger(Failing(), flush_interval_s=60, retention_s=3600, metrics=metrics)
    letters = Letters()

    await run_pipeline([body(0, id="a"), body(3, id="b")], ledger, letters)
    await ledger.flush()

    assert (ledger.written, ledger.dropped) == (0, 2)
    dropped = metrics.registry.get_sample_value(
        "publisher_ledger_entries_total", {"outcome": "dropped"}
    )
    assert dropped == 2


async def test_stopping_writes_what_is_left_and_ends_the_task() -> None:
    store = MemoryLedger()
    ledger = Ledger(store, flush_interval_s=3600, retention_s=3600)
    task = asyncio.create_task(ledger.run())
    await run_pipeline([body(0, id="a")], ledger, Letters())

    ledger.stop()
    await asyncio.wait_for(task, 5)

    assert only(store, "a").state == PUBLISHED
