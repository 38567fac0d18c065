"""The fair queue: tenants take turns (weighted deficit round robin) within rate limits."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.core.fairness import EQUAL_SHARE, FairQueue, Share, TokenBucket, split_fairly


@dataclass(frozen=True)
class Item:
    tenant: str
    size: int = 10
    seq: int = 0


def queue(shares: dict[str, Share] | None = None, quantum: int = 20) -> FairQueue[Item]:
    known = shares or {}
    return FairQueue(lambda tenant: known.get(tenant, EQUAL_SHARE), quantum)


def fill(q: FairQueue[Item], tenant: str, count: int) -> None:
    for seq in range(count):
        q.push(Item(tenant, seq=seq))


def test_a_trickle_tenant_goes_in_the_next_batch_not_after_the_flood() -> None:
    q = queue()
    fill(q, "acme", 24_000)
    q.take(20, 10_000, 0.0)
    q.push(Item("globex"))
    # At most acme's one turn (one quantum, here one batch) goes before it.
    tenants_in_next_two = {item.tenant for _ in range(2) for item in q.take(20, 10_000, 0.0)}
    assert "globex" in tenants_in_next_two


def test_one_busy_tenant_fills_every_batch() -> None:
    q = queue()
    fill(q, "acme", 100)
    sizes = [len(q.take(20, 10_000, 0.0)) for _ in range(5)]
    assert sizes == [20] * 5
    assert len(q) == 0


def test_many_small_tenants_still_fill_batches() -> None:
    q = queue()
    for n in range(40):
        fill(q, f"t{n}", 1)
    assert [len(q.take(20, 10_000, 0.0)) for _ in range(2)] == [20, 20]


def test_each_tenant_keeps_its_own_order() -> None:
    q = queue(quantum=3)
    fill(q, "acme", 10)
    fill(q, "globex", 10)
    taken = [item for _ in range(5) for item in q.take(4, 10_000, 0.0)]
    for tenant in ("acme", "globex"):
        seqs = [item.seq for item in taken if item.tenant == tenant]
        assert seqs == sorted(seqs) == list(range(len(seqs)))


def test_a_batch_stops_at_max_bytes() -> None:
    q = queue()
    for seq in range(5):
        q.push(Item("acme", size=40, seq=seq))
    batch = q.take(20, 100, 0.0)
    assert [item.seq for item in batch] == [0, 1]
    assert q.bytes == 120


def test_a_batch_takes_items_that_sum_to_exactly_max_bytes_and_stops_at_the_next() -> None:
    q = queue()
    q.push_all([Item("acme", size=size, seq=seq) for seq, size in enumerate([40, 60, 1, 5])])
    assert [item.seq for item in q.take(20, 100, 0.0)] == [0, 1]
    assert q.last_size == 100
    assert (len(q), q.bytes) == (2, 6)
    assert [item.seq for item in q.take(20, 100, 0.0)] == [2, 3]
    assert (len(q), q.bytes, q.last_size) == (0, 0, 6)


def test_a_mixed_push_queues_each_item_under_its_tenant_in_order() -> None:
    q = queue(quantum=2)
    q.push_all([Item("acme", seq=0), Item("globex", seq=0), Item("acme", seq=1)])
    q.push_all([Item("globex", seq=1), Item("globex", seq=2)])
    assert (q.queued("acme"), q.queued("globex"), len(q), q.bytes) == (2, 3, 5, 50)
    taken = [(item.tenant, item.seq) for item in q.take(20, 10_000, 0.0)]
    assert taken == [("acme", 0), ("acme", 1), ("globex", 0), ("globex", 1), ("globex", 2)]


def test_a_rate_limited_tenant_is_skipped_without_holding_up_the_others() -> None:
    q = queue({"acme": Share(max_events_per_s=5)})
    fill(q, "acme", 100)
    fill(q, "globex", 30)
    first = Counter(item.tenant for item in q.take(20, 10_000, 0.0))
    assert first["acme"] == 5  # its one-second burst
    second = Counter(item.tenant for item in q.take(20, 10_000, 0.0))
    assert second == Counter({"globex": 15})
    assert q.throttled == 95  # each waiting acme event counted once
    assert q.next_token_at(0.0) == 0.2


def test_a_throttled_tenant_sends_again_when_its_tokens_come_back() -> None:
    q = queue({"acme": Share(max_events_per_s=10)})
    fill(q, "acme", 30)
    assert len(q.take(20, 10_000, 0.0)) == 10
    assert q.take(20, 10_000, 0.0) == []
    assert len(q.take(20, 10_000, 0.5)) == 5


def test_token_bucket_refills_at_its_rate_up_to_one_second() -> None:
    bucket = TokenBucket(4, now=0.0)
    bucket.take(4)
    assert bucket.available(0.5) == 2
    assert bucket.available(10.0) == 4
    bucket.take(4)
    assert bucket.next_token_at(10.0) == 10.25


# -- properties -----------------------------------------------------------------------------

tenant_names = st.sampled_from([f"t{n}" for n in range(8)])


@settings(max_examples=200, deadline=None)
@given(
    backlog=st.dictionaries(tenant_names, st.integers(1, 400), min_size=1),
    batch=st.integers(1, 20),
    quantum=st.integers(1, 20),
)
def test_no_tenant_starves(backlog: dict[str, int], batch: int, quantum: int) -> None:
    """Every tenant with events waiting gets some into a call within one round of turns."""
    q = queue(quantum=quantum)
    for tenant, count in backlog.items():
        fill(q, tenant, count)
    # A round gives each tenant up to `quantum` items: that many calls suffice for everyone.
    calls = -(-len(backlog) * quantum // batch) + 1
    seen = {item.tenant for _ in range(calls) for item in q.take(batch, 10_000, 0.0)}
    assert seen == set(backlog)


@settings(max_examples=200, deadline=None)
@given(
    weights=st.dictionaries(tenant_names, st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0]), min_size=2),
    batch=st.integers(5, 20),
)
def test_weights_are_respected_within_a_tolerance(weights: dict[str, float], batch: int) -> None:
    """Tenants that all have plenty waiting get calls in proportion to their weights."""
    quantum = 20
    q = queue({tenant: Share(weight) for tenant, weight in weights.items()}, quantum)
    for tenant in weights:
        fill(q, tenant, 700)  # more than six rounds of the largest weight take
    total = sum(weights.values())
    rounds = 6
    taken = Counter(
        item.tenant
        for _ in range(int(rounds * total * quantum) // batch)
        for item in q.take(batch, 10_000, 0.0)
    )
    served = sum(taken.values())
    for tenant, weight in weights.items():
        expected = served * weight / total
        # Off by at most one turn's worth (a round cut short at the end).
        assert abs(taken[tenant] - expected) <= weight * quantum + batch


@settings(max_examples=150, deadline=None)
@given(
    limit=st.sampled_from([1.0, 2.5, 10.0, 50.0]),
    steps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=60),
)
def test_rate_limits_are_respected(limit: float, steps: list[float]) -> None:
    """Over any run, a limited tenant sends at most its burst plus rate x elapsed time."""
    q = queue({"acme": Share(max_events_per_s=limit)})
    fill(q, "acme", 1_300)
    fill(q, "globex", 1_300)
    now = 0.0
    acme = globex = 0
    for step in steps:
        now += step
        batch = q.take(20, 10_000, now)
        acme += sum(1 for item in batch if item.tenant == "acme")
        globex += sum(1 for item in batch if item.tenant == "globex")
        assert acme <= max(1.0, limit) + limit * now + 1e-9
    # The other tenant was never held up: every call had room for it.
    assert globex >= len(steps) * 20 - acme


# -- sharing a fetch among tenants ----------------------------------------------------------


def test_a_fetch_is_shared_by_weight_and_what_a_capped_tenant_cannot_use_goes_to_the_others() -> (
    None
):
    shares = {"acme": Share(weight=3.0)}
    caps = {"initech": 10.0}
    quotas = split_fairly(
        500,
        ["acme", "globex", "initech"],
        lambda t: shares.get(t, EQUAL_SHARE),
        lambda t: caps.get(t, math.inf),
    )
    assert quotas["initech"] == 10
    assert quotas["acme"] + quotas["globex"] == 490
    assert abs(quotas["acme"] - 3 * quotas["globex"]) <= 3


def test_more_tenants_than_room_get_one_each_in_the_order_given() -> None:
    tenants = [f"t{n}" for n in range(10)]
    quotas = split_fairly(4, tenants, lambda t: EQUAL_SHARE, lambda t: math.inf)
    assert quotas == {"t0": 1, "t1": 1, "t2": 1, "t3": 1}


@settings(max_examples=200, deadline=None)
@given(
    room=st.integers(0, 600),
    tenants=st.dictionaries(
        tenant_names,
        st.tuples(st.sampled_from([0.5, 1.0, 4.0]), st.sampled_from([0.0, 0.5, 3.0, math.inf])),
    ),
)
def test_a_shared_fetch_stays_within_its_room_and_every_cap(
    room: int, tenants: dict[str, tuple[float, float]]
) -> None:
    quotas = split_fairly(
        room, list(tenants), lambda t: Share(weight=tenants[t][0]), lambda t: tenants[t][1]
    )
    assert sum(quotas.values()) <= room
    for tenant, quota in quotas.items():
        assert 1 <= quota <= tenants[tenant][1]
    uncapped = [t for t, (_, cap) in tenants.items() if cap == math.inf]
    if uncapped and room >= len(tenants):
        assert sum(quotas.values()) == room  # nothing left over while a tenant can take it
