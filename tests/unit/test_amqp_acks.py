"""The ack plan of a channel's deliveries: `multiple` for the settled front, singles behind."""

from __future__ import annotations

from publisher.inputs.amqp_acks import AckPlan, AckWindow


def window(*tags: int) -> AckWindow:
    acks = AckWindow()
    acks.delivered(tags)
    return acks


def test_a_settled_front_is_one_multiple_ack() -> None:
    acks = window(1, 2, 3, 4)
    assert acks.ack([2, 1, 3]) == AckPlan(3, [])
    assert len(acks) == 1
    assert acks.ack([4]) == AckPlan(4, [])
    assert len(acks) == 0


def test_tags_behind_an_unsettled_one_are_acked_singly_and_never_twice() -> None:
    acks = window(1, 2, 3, 4, 5)
    assert acks.ack([2, 4]) == AckPlan(None, [2, 4])
    # 1 settles: the front now runs to 2, already acked, so the multiple ack stops at 1...
    assert acks.ack([1]) == AckPlan(1, [])
    # ...and 3 covers 2 again harmlessly (multiple acks only what is still unacked).
    assert acks.ack([3]) == AckPlan(3, [])
    assert acks.ack([5]) == AckPlan(5, [])
    assert len(acks) == 0


def test_nacked_and_rejected_tags_leave_the_window_without_an_ack() -> None:
    acks = window(1, 2, 3)
    acks.answered([1])
    assert len(acks) == 2
    assert acks.ack([2]) == AckPlan(2, [])
    acks.answered([3])
    assert len(acks) == 0


def test_a_multiple_ack_never_ends_on_a_tag_answered_before() -> None:
    acks = window(1, 2, 3)
    acks.answered([2])  # nacked: acking it (even through `multiple` ending on it) would fail
    assert acks.ack([1]) == AckPlan(1, [])
    assert acks.ack([3]) == AckPlan(3, [])
