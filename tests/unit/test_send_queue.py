"""The send queue: batches cut fairly when full, lingered or flushing; limits wait in order."""

from __future__ import annotations

from typing import Any

from publisher.core.admission import Entry
from publisher.core.fairness import EQUAL_SHARE, Share
from publisher.core.message import Message
from publisher.engine.send_queue import SendQueue


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def entry(tenant: str, n: int = 0, region: str = "us-east-1") -> Entry:
    fields: dict[str, Any] = {}
    return Entry(Message(f"{tenant}-{n}", b"{}", 0.0), region, fields, 10, tenant, None)


def send_queue(clock: Clock, shares: dict[str, Share] | None = None) -> SendQueue:
    known = shares or {}
    return SendQueue(20, 10_000, 0.05, lambda t: known.get(t, EQUAL_SHARE), clock)


def test_a_part_batch_waits_for_its_linger_time_then_goes() -> None:
    clock = Clock()
    q = send_queue(clock)
    q.add(entry("acme"), clock.now)
    assert q.take() is None
    assert q.next_deadline() == 0.05
    clock.now = 0.05
    batch = q.take()
    assert batch is not None
    assert len(batch.entries) == 1
    assert q.sent_all()


def test_a_full_batch_goes_at_once_and_mixes_tenants_of_one_region() -> None:
    clock = Clock()
    q = send_queue(clock)
    for n in range(15):
        q.add(entry("acme", n), clock.now)
    for n in range(5):
        q.add(entry("globex", n), clock.now)
    batch = q.take()
    assert batch is not None
    assert sorted({e.tenant for e in batch.entries}) == ["acme", "globex"]


def test_regions_take_turns() -> None:
    clock = Clock()
    q = send_queue(clock)
    for n in range(60):
        q.add(entry("acme", n, "us-east-1"), clock.now)
        q.add(entry("emea", n, "eu-west-1"), clock.now)
    regions = [batch.region for _ in range(4) if (batch := q.take()) is not None]
    assert regions.count("us-east-1") == regions.count("eu-west-1") == 2


def test_flush_sends_what_lingers() -> None:
    clock = Clock()
    q = send_queue(clock)
    q.add(entry("acme"), clock.now)
    q.flush()
    assert q.take() is not None


def test_an_over_limit_tenant_is_held_back_and_wakes_the_dispatcher_for_its_tokens() -> None:
    clock = Clock()
    q = send_queue(clock, {"acme": Share(max_events_per_s=2)})
    first, second, third = entry("acme", 1), entry("acme", 2), entry("acme", 3)
    assert not q.holds_back(first)
    q.add(first, clock.now)
    q.add(second, clock.now)
    assert q.holds_back(third)  # a second's worth is queued: the rest waits in the input
    assert q.allowance("acme") == 0
    assert q.allowance("globex") == float("inf")
    q.flush()
    batch = q.take()
    assert batch is not None
    assert len(batch.entries) == 2
    q.add(third, clock.now)
    assert q.take() is None
    assert q.newly_throttled() == 1
    deadline = q.next_deadline()
    assert deadline is not None
    assert 0 < deadline <= 0.5


def _batches(q: SendQueue) -> list[tuple[str, list[str], int]]:
    q.flush()
    taken = []
    while (batch := q.take()) is not None:
        taken.append((batch.region, [e.message.id for e in batch.entries], batch.size))
    return taken


def test_add_all_queues_as_add_does_one_by_one_within_and_across_regions() -> None:
    for regions in (["us-east-1"], ["us-east-1", "eu-west-1"]):
        entries = [
            entry(tenant, n, regions[n % len(regions)])
            for n in range(45)
            for tenant in ("acme", "globex", "initech")[: 1 + n % 3]
        ]
        one_by_one = send_queue(Clock())
        for e in entries:
            one_by_one.add(e, 0.0)
        at_once = send_queue(Clock())
        at_once.add_all(entries, 0.0)
        assert at_once.queued("acme") == one_by_one.queued("acme")
        assert at_once.next_deadline() == one_by_one.next_deadline()
        assert _batches(at_once) == _batches(one_by_one)


def test_add_all_lingers_a_region_from_when_its_first_entry_arrives() -> None:
    clock = Clock()
    q = send_queue(clock)
    clock.now = 1.0
    q.add_all([entry("acme", 0), entry("globex", 0)], clock.now)
    q.add_all([entry("acme", 1)], 1.02)  # the region already waits: it lingers from 1.0
    assert q.next_deadline() == 1.05
