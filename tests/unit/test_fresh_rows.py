"""Rows held in memory for the spool's consumer, per tenant in id order, within a budget."""

from __future__ import annotations

import pytest

from publisher.core.event import decode_event
from publisher.inputs.spool.fresh import FreshRows


def bodies(count: int) -> list[bytes]:
    return [b'{"n": %d}' % n for n in range(count)]


def test_takes_each_tenants_rows_in_id_order() -> None:
    fresh = FreshRows()
    assert fresh.add(1, bodies(4), ["acme", "globex", "acme", "globex"], 0.0, None, {})
    assert [row_id for row_id, _ in fresh.take("acme", 10)] == [1, 3]
    assert sorted(fresh.tenants()) == ["globex"]
    assert [row_id for row_id, _ in fresh.take("globex", 1)] == [2]
    assert len(fresh) == 1


def test_rows_at_or_below_their_tenants_cursor_are_not_held() -> None:
    fresh = FreshRows()
    fresh.add(1, bodies(4), ["acme", "globex", "acme", "globex"], 0.0, None, {"acme": 3})
    assert fresh.take("acme", 10) == []
    assert [row_id for row_id, _ in fresh.take("globex", 10)] == [2, 4]


def test_a_put_over_the_budget_is_left_to_the_file_whole() -> None:
    fresh = FreshRows(max_rows=3)
    assert fresh.add(1, bodies(2), ["acme"] * 2, 0.0, None, {})
    assert not fresh.add(3, bodies(2), ["acme"] * 2, 0.0, None, {})
    assert len(fresh) == 2
    assert fresh.held_bytes == sum(map(len, bodies(2)))


def test_rows_read_from_the_file_are_forgotten_and_handed_back() -> None:
    fresh = FreshRows()
    events = [decode_event(b'{"tenant": "acme", "detail_type": "T", "detail": {}}')] * 3
    fresh.add(5, bodies(3), ["acme"] * 3, 0.0, events, {})
    discarded = fresh.discard_read("acme", 6)
    assert sorted(discarded) == [5, 6]
    assert discarded[5].event is events[0]
    assert [row_id for row_id, _ in fresh.take("acme", 10)] == [7]


def test_rows_put_back_are_taken_again_in_order() -> None:
    fresh = FreshRows()
    fresh.add(1, bodies(3), ["acme"] * 3, 0.0, None, {})
    taken = fresh.take("acme", 2)
    fresh.put_back("acme", taken)
    assert [row_id for row_id, _ in fresh.take("acme", 10)] == [1, 2, 3]
    assert fresh.held_bytes == 0


def test_events_must_match_the_bodies_one_for_one() -> None:
    event = decode_event(b'{"tenant": "acme", "detail_type": "T", "detail": {}}')
    with pytest.raises(ValueError, match="1 events for 2 bodies"):
        FreshRows().add(1, bodies(2), ["acme"] * 2, 0.0, [event], {})


def test_a_put_after_rows_of_another_tenant_keeps_each_tenants_order() -> None:
    fresh = FreshRows()
    assert fresh.add(1, [b"a1", b"a2"], ["a", "a"], 1.0, None, {})
    assert fresh.add(3, [b"b3"], ["b"], 2.0, None, {})
    assert fresh.add(4, [b"a4", b"b5"], ["a", "b"], 3.0, None, {"b": 5})  # b5 already read
    assert [(i, row.body) for i, row in fresh.take("a", 10)] == [(1, b"a1"), (2, b"a2"), (4, b"a4")]
    assert [(i, row.body) for i, row in fresh.take("b", 10)] == [(3, b"b3")]
    assert (len(fresh), fresh.held_bytes) == (0, 0)


def test_a_one_tenant_put_partly_read_already_holds_only_the_rest() -> None:
    fresh = FreshRows()
    assert fresh.add(1, bodies(3), ["acme"] * 3, 0.0, None, {"acme": 2})
    assert [row_id for row_id, _ in fresh.take("acme", 10)] == [3]
