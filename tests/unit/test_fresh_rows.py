"""FreshRows: what the spool's consumer takes from memory, and when it must read the file."""

from __future__ import annotations

import pytest

from publisher.core.event import decode_event
from publisher.inputs.spool.fresh import FreshRows

EVENT = decode_event(b'{"tenant": "acme", "detail_type": "T", "detail": {}}')


def ids(taken: list[tuple[int, object]]) -> list[int]:
    return [row_id for row_id, _ in taken]


def test_takes_the_run_that_follows_the_cursor_and_stops_at_the_first_gap() -> None:
    fresh = FreshRows()
    assert fresh.add(1, [b"a", b"b"], 10.0, [EVENT, EVENT], cursor=0)
    assert fresh.add(4, [b"d"], 11.0, None, cursor=0)  # id 3: another process's row
    taken = fresh.take(0, limit=10)
    assert ids(taken) == [1, 2]
    assert taken[0][1].body == b"a"
    assert taken[0][1].event is EVENT
    assert taken[0][1].enqueued_at == 10.0
    assert fresh.take(2, limit=10) == []  # 3 is not here: the file has it
    assert ids(fresh.take(3, limit=10)) == [4]
    assert len(fresh) == 0
    assert fresh.held_bytes == 0


def test_takes_at_most_the_limit_and_keeps_the_rest() -> None:
    fresh = FreshRows()
    fresh.add(1, [b"a", b"b", b"c"], 0.0, None, cursor=0)
    assert ids(fresh.take(0, limit=2)) == [1, 2]
    assert ids(fresh.take(2, limit=2)) == [3]


def test_rows_at_or_below_the_cursor_are_not_held() -> None:
    fresh = FreshRows()
    fresh.add(5, [b"e", b"f", b"g"], 0.0, None, cursor=6)  # the file already gave 5 and 6
    assert len(fresh) == 1
    assert ids(fresh.take(6, limit=10)) == [7]


def test_a_put_over_the_budget_is_left_to_the_file_whole() -> None:
    by_rows = FreshRows(max_rows=3, max_bytes=1000)
    assert by_rows.add(1, [b"a", b"b"], 0.0, None, cursor=0)
    assert not by_rows.add(3, [b"c", b"d"], 0.0, None, cursor=0)
    assert len(by_rows) == 2
    by_bytes = FreshRows(max_rows=100, max_bytes=10)
    assert not by_bytes.add(1, [b"x" * 6, b"y" * 6], 0.0, None, cursor=0)
    assert len(by_bytes) == 0
    assert by_bytes.held_bytes == 0


def test_rows_read_from_the_file_are_forgotten_however_far_the_cursor_jumps() -> None:
    fresh = FreshRows()
    fresh.add(1, [b"a", b"b", b"c"], 0.0, None, cursor=0)
    fresh.add(1_000_000, [b"z"], 0.0, None, cursor=0)
    assert list(fresh.discard_read(0, 2)) == [1, 2]  # a short read: the ids read looked up
    assert ids(fresh.take(2, limit=10)) == [3]
    # A jump past a long gap: the held ids are scanned.
    assert list(fresh.discard_read(3, 2_000_000)) == [1_000_000]
    assert len(fresh) == 0
    assert fresh.held_bytes == 0


def test_rows_put_back_are_taken_again() -> None:
    fresh = FreshRows()
    fresh.add(1, [b"a", b"b"], 0.0, None, cursor=0)
    taken = fresh.take(0, limit=10)
    assert fresh.held_bytes == 0
    fresh.put_back(taken)
    assert fresh.held_bytes == 2
    assert ids(fresh.take(0, limit=10)) == [1, 2]


def test_events_must_match_the_bodies_one_for_one() -> None:
    with pytest.raises(ValueError, match="1 events for 2 bodies"):
        FreshRows().add(1, [b"a", b"b"], 0.0, [EVENT], cursor=0)
