"""LeaseTable: lease ends, renewals, releases and what comes due, by a clock the test sets."""

from __future__ import annotations

from publisher.inputs.leases import LeaseTable


def test_a_lease_that_ends_comes_due_with_its_deliveries() -> None:
    table = LeaseTable()
    table.lease(1, until=10.0, deliveries=1)
    table.lease(2, until=20.0, deliveries=3)
    assert table.take_due(9.9, 10) == ([], [])
    assert table.take_due(10.0, 10) == ([1], [1])
    assert len(table) == 1
    assert table.next_change() == 20.0
    assert table.take_due(25.0, 10) == ([2], [3])
    assert len(table) == 0
    assert (table.take_due(1e9, 10), table.next_change()) == (([], []), None)


def test_extend_renews_only_leases_that_have_not_ended() -> None:
    table = LeaseTable()
    table.lease(1, until=10.0, deliveries=1)
    table.lease(2, until=5.0, deliveries=1)
    table.extend([1, 2, 3], now=6.0, until=30.0)  # 2 ended at 5, 3 was never leased
    assert table.take_due(12.0, 10) == ([2], [1])  # 1's first end no longer counts
    assert table.take_due(30.0, 10) == ([1], [1])


def test_release_ends_a_held_lease_and_delays_it() -> None:
    table = LeaseTable()
    for message_id in (1, 2, 3):
        table.lease(message_id, until=100.0, deliveries=2)
    table.release([2, 9], visible_at=5.0)  # 9 is not leased: ignored
    table.release([3], visible_at=1.0)
    assert len(table) == 1  # only 1 is still leased
    assert table.next_change() == 1.0
    assert table.take_due(0.5, 10) == ([], [])
    assert table.take_due(6.0, 10) == ([3, 2], [2, 2])  # in the order they become visible
    table.release([2], visible_at=7.0)  # no longer leased: released once only
    assert table.take_due(101.0, 10) == ([1], [2])  # 1's lease ran out with its deliveries


def test_take_due_respects_the_limit_and_keeps_the_rest_in_line() -> None:
    table = LeaseTable()
    for message_id in range(1, 6):
        table.lease(message_id, until=100.0, deliveries=1)
    table.release([1, 2, 3, 4], visible_at=1.0)
    table.release([5], visible_at=2.0)
    assert table.take_due(3.0, 3) == ([1, 2, 3], [1, 1, 1])
    assert table.take_due(3.0, 3) == ([4, 5], [1, 1])
    assert table.take_due(1e9, 10) == ([], [])  # nothing leased or waiting any more


def test_forget_drops_an_acknowledged_lease_so_it_never_comes_due() -> None:
    table = LeaseTable()
    table.lease(1, until=10.0, deliveries=1)
    table.forget([1])
    assert table.take_due(50.0, 10) == ([], [])
    assert len(table) == 0


def test_ids_put_back_after_a_failed_read_come_due_again() -> None:
    table = LeaseTable()
    table.lease(1, until=1.0, deliveries=2)
    ids, counts = table.take_due(5.0, 10)
    assert (ids, counts) == ([1], [2])
    table.put_back(ids, counts, visible_at=5.0)
    assert table.take_due(5.0, 10) == ([1], [2])


def test_leases_ending_out_of_order_still_end_on_time() -> None:
    table = LeaseTable()
    table.lease(1, until=30.0, deliveries=1)
    table.lease(2, until=10.0, deliveries=1)  # earlier than the last end given (clock stepped)
    table.lease(3, until=40.0, deliveries=1)
    table.lease(4, until=20.0, deliveries=2)
    assert table.next_change() == 10.0
    assert table.take_due(10.0, 10) == ([2], [1])
    assert table.next_change() == 20.0
    ids, counts = table.take_due(30.0, 10)
    assert sorted(zip(ids, counts, strict=True)) == [(1, 1), (4, 2)]
    assert table.next_change() == 40.0
    assert table.take_due(40.0, 10) == ([3], [1])
    assert table.next_change() is None


def test_ids_leased_together_end_together_except_those_renewed_acked_or_released() -> None:
    table = LeaseTable()
    table.lease_all([1, 2, 3, 4], until=10.0, deliveries=1)
    table.extend([2], now=5.0, until=30.0)
    table.forget([3])
    table.release([4], visible_at=50.0)
    assert len(table) == 2
    assert table.take_due(10.0, 10) == ([1], [1])
    assert table.take_due(30.0, 10) == ([2], [1])
    assert table.take_due(50.0, 10) == ([4], [1])
    assert len(table) == 0


def test_extend_keeps_each_leases_deliveries() -> None:
    table = LeaseTable()
    table.lease_all([1, 2], until=10.0, deliveries=1)
    table.lease(3, until=10.0, deliveries=4)
    table.extend([1, 2, 3], now=5.0, until=20.0)
    assert table.take_due(20.0, 10) == ([1, 2, 3], [1, 1, 4])
