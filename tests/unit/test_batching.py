"""Batch assembly: per-Region batches bounded by count, AWS-counted bytes and linger time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.core.batching import Batch, Batcher


@dataclass(frozen=True)
class Item:
    region: str
    size: int
    seq: int = 0


def item(region: str = "us-east-1", size: int = 10, seq: int = 0) -> Item:
    return Item(region, size, seq)


# -- closing by count and by bytes ----------------------------------------------------------


def test_batch_closes_when_max_entries_is_reached() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=3, max_bytes=1000, linger_s=1.0)
    assert batcher.add(item(seq=1), now=0) == ()
    assert batcher.add(item(seq=2), now=0) == ()
    closed = batcher.add(item(seq=3), now=0)
    assert len(closed) == 1
    assert [i.seq for i in closed[0].entries] == [1, 2, 3]
    assert closed[0].size == 30
    assert closed[0].region == "us-east-1"
    assert len(batcher) == 0


def test_batch_closes_before_an_entry_that_would_reach_max_bytes() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=100, linger_s=1.0)
    assert batcher.add(item(size=60, seq=1), now=0) == ()
    assert batcher.add(item(size=39, seq=2), now=0) == ()  # 99: still under
    closed = batcher.add(item(size=1, seq=3), now=0)  # 100 is not "less than" 100
    assert [[i.seq for i in b.entries] for b in closed] == [[1, 2]]
    assert closed[0].size == 99
    assert len(batcher) == 1


def test_regions_are_batched_separately() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=2, max_bytes=1000, linger_s=1.0)
    assert batcher.add(item("us-east-1", seq=1), now=0) == ()
    assert batcher.add(item("eu-west-1", seq=2), now=0) == ()
    closed = batcher.add(item("us-east-1", seq=3), now=0)
    assert [(b.region, [i.seq for i in b.entries]) for b in closed] == [("us-east-1", [1, 3])]
    flushed = batcher.flush()
    assert [(b.region, [i.seq for i in b.entries]) for b in flushed] == [("eu-west-1", [2])]


def test_entry_of_one_byte_under_max_bytes_is_accepted() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=100, linger_s=1.0)
    assert batcher.add(item(size=99, seq=1), now=0) == ()
    closed = batcher.add(item(size=1, seq=2), now=0)
    assert [[i.seq for i in b.entries] for b in closed] == [[1]]


@pytest.mark.parametrize("size", [100, 101])
def test_entry_of_max_bytes_or_more_raises_and_leaves_the_batcher_unchanged(size: int) -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=100, linger_s=1.0)
    batcher.add(item(size=50, seq=1), now=0)
    with pytest.raises(ValueError, match=f"{size} bytes is not under max_bytes 100"):
        batcher.add(item(size=size, seq=2), now=0)
    assert len(batcher) == 1
    assert [i.seq for b in batcher.flush() for i in b.entries] == [1]


def test_max_entries_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        Batcher(max_entries=0, max_bytes=100, linger_s=1.0)


def test_len_counts_entries_in_open_batches() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=3, max_bytes=1000, linger_s=1.0)
    assert len(batcher) == 0
    batcher.add(item("a"), now=0)
    batcher.add(item("b"), now=0)
    batcher.add(item("a"), now=0)
    assert len(batcher) == 3
    batcher.add(item("a"), now=0)  # closes region a's batch of 3
    assert len(batcher) == 1
    batcher.flush()
    assert len(batcher) == 0


# -- linger ---------------------------------------------------------------------------------


def test_batch_is_not_due_before_its_deadline_and_due_at_it() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=1000, linger_s=0.25)
    batcher.add(item(seq=1), now=10.0)
    batcher.add(item(seq=2), now=10.2)  # a later entry does not push the deadline back
    assert batcher.due(10.0) == []
    assert batcher.due(10.249) == []
    due = batcher.due(10.25)
    assert [[i.seq for i in b.entries] for b in due] == [[1, 2]]
    assert due[0].deadline == 10.25
    assert batcher.due(100.0) == []
    assert len(batcher) == 0


def test_due_returns_only_the_batches_past_their_deadline() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=1000, linger_s=1.0)
    batcher.add(item("a", seq=1), now=0.0)
    batcher.add(item("b", seq=2), now=0.5)
    assert [b.region for b in batcher.due(1.0)] == ["a"]
    assert len(batcher) == 1
    assert [b.region for b in batcher.due(1.5)] == ["b"]


def test_zero_linger_is_due_at_once() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=1000, linger_s=0.0)
    batcher.add(item(seq=1), now=5.0)
    assert [[i.seq for i in b.entries] for b in batcher.due(5.0)] == [[1]]


def test_next_deadline() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=2, max_bytes=1000, linger_s=1.0)
    assert batcher.next_deadline() is None
    batcher.add(item("a"), now=3.0)
    assert batcher.next_deadline() == 4.0
    batcher.add(item("b"), now=2.0)  # times need not be ordered across regions
    assert batcher.next_deadline() == 3.0
    batcher.add(item("b"), now=2.5)  # closes b
    assert batcher.next_deadline() == 4.0
    batcher.due(4.0)
    assert batcher.next_deadline() is None


def test_new_batch_after_a_close_gets_a_new_deadline() -> None:
    batcher: Batcher[Item] = Batcher(max_entries=20, max_bytes=15, linger_s=1.0)
    batcher.add(item(size=10), now=0.0)
    closed = batcher.add(item(size=10), now=0.7)  # overflows bytes: a new batch opens at 0.7
    assert closed[0].deadline == 1.0
    assert batcher.next_deadline() == pytest.approx(1.7)


# -- the property ---------------------------------------------------------------------------

REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]
# max_entries, max_bytes, linger_s, operations
Scenario = tuple[int, int, float, list[tuple[Any, ...]]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    max_entries = draw(st.integers(min_value=1, max_value=20))
    max_bytes = draw(st.integers(min_value=2, max_value=200))
    linger_s = draw(st.sampled_from([0.0, 0.01, 0.05, 1.0]))
    add = st.tuples(
        st.just("add"),
        st.sampled_from(REGIONS),
        # Halves and quarters of max_bytes make near fits common; every entry is under it.
        st.integers(min_value=1, max_value=max_bytes - 1)
        | st.sampled_from(
            sorted({1, max(1, max_bytes // 4), max(1, max_bytes // 2), max_bytes - 1})
        ),
        st.floats(min_value=0, max_value=0.01),
    )
    due = st.tuples(st.just("due"), st.floats(min_value=0, max_value=0.05))
    flush = st.tuples(st.just("flush"))
    # Mostly adds, so that batches fill up before linger or a flush closes them.
    op = st.integers(min_value=0, max_value=9).flatmap(
        lambda k: add if k < 7 else due if k < 9 else flush
    )
    length = draw(st.integers(min_value=0, max_value=120))
    ops = draw(st.lists(op, min_size=length, max_size=length))
    return max_entries, max_bytes, linger_s, ops


def check_add(
    result: list[Batch[Item]], new: Item, waiting: list[Item], max_entries: int, max_bytes: int
) -> None:
    """A batch closes early only when full by count, or when the new entry would overflow it."""
    for batch in result:
        full = len(batch.entries) == max_entries
        overflow = new not in batch.entries and batch.size + new.size >= max_bytes
        assert full or overflow
    if waiting and not result:
        # Nothing closed: the new entry really did fit into the open batch.
        assert sum(a.size for a in waiting) + new.size < max_bytes
        assert len(waiting) + 1 < max_entries


def check_closed(
    closed: list[Batch[Item]], added: list[Item], added_at: list[float], scenario: Scenario
) -> None:
    max_entries, max_bytes, linger_s, _ = scenario
    for batch in closed:
        assert 1 <= len(batch.entries) <= max_entries
        assert batch.size == sum(i.size for i in batch.entries) < max_bytes
        assert {i.region for i in batch.entries} == {batch.region}
        assert batch.deadline == added_at[batch.entries[0].seq] + linger_s
    seen = [i.seq for batch in closed for i in batch.entries]
    assert sorted(seen) == list(range(len(added)))  # each exactly once
    per_region: dict[str, list[int]] = defaultdict(list)
    for batch in closed:
        per_region[batch.region].extend(i.seq for i in batch.entries)
    for region, seqs in per_region.items():
        assert seqs == [a.seq for a in added if a.region == region]


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios())
def test_batches_respect_every_bound(scenario: Scenario) -> None:
    max_entries, max_bytes, linger_s, ops = scenario
    batcher: Batcher[Item] = Batcher(max_entries, max_bytes, linger_s)
    closed: list[Batch[Item]] = []
    closed_seqs: set[int] = set()
    waiting_by_region: dict[str, list[Item]] = defaultdict(list)  # added, not yet closed
    added: list[Item] = []
    added_at: list[float] = []
    now = 0.0
    for op in ops:
        if op[0] == "add":
            _, region, size, step = op
            now += step
            new = Item(region, size, len(added))
            waiting = list(waiting_by_region[region])
            waiting_by_region[region].append(new)
            added.append(new)
            added_at.append(now)
            result = batcher.add(new, now)
            check_add(result, new, waiting, max_entries, max_bytes)
        elif op[0] == "due":
            now += op[1]
            result = batcher.due(now)
            assert all(b.deadline <= now for b in result)
            deadline = batcher.next_deadline()
            assert deadline is None or deadline > now
        else:
            result = batcher.flush()
            assert len(batcher) == 0
        closed.extend(result)
        closed_seqs.update(i.seq for b in result for i in b.entries)
        for batch in result:
            waiting_by_region[batch.region] = [
                a for a in waiting_by_region[batch.region] if a.seq not in closed_seqs
            ]
        # What is left open: counted by len(), and a deadline exactly when something is open.
        assert len(batcher) + len(closed_seqs) == len(added)
        assert (batcher.next_deadline() is None) == (len(batcher) == 0)
    closed.extend(batcher.flush())
    check_closed(closed, added, added_at, scenario)
