"""MemoryInput beyond the shared suite: a fake clock, and 100k messages in order."""

from __future__ import annotations

from publisher.inputs.memory import MemoryInput


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_leases_follow_the_injected_clock() -> None:
    clock = FakeClock()
    memory = MemoryInput(visibility_timeout_s=30, clock=clock, wall_clock=lambda: 42.0)
    await memory.put([b"a", b"b"])
    first = await memory.fetch(10, wait_s=0)

    clock.now += 20
    await memory.extend(first[:1])
    clock.now += 15  # a's lease was renewed to 50 s, b's ran out at 30 s

    back = await memory.fetch(10, wait_s=0)
    assert [(m.body, m.deliveries, m.enqueued_at) for m in back] == [(b"b", 2, 42.0)]

    clock.now += 20
    assert [m.body for m in await memory.fetch(10, wait_s=0)] == [b"a"]


async def test_an_expired_lease_is_not_revived_by_extend() -> None:
    clock = FakeClock()
    memory = MemoryInput(visibility_timeout_s=30, clock=clock)
    await memory.put([b"a"])
    first = await memory.fetch(10, wait_s=0)
    clock.now += 31

    await memory.extend(first)

    assert [m.deliveries for m in await memory.fetch(10, wait_s=0)] == [2]


async def test_hundred_thousand_messages_round_trip_in_order() -> None:
    memory = MemoryInput()
    bodies = [b"%d" % i for i in range(100_000)]

    for start in range(0, len(bodies), 500):
        await memory.put(bodies[start : start + 500])
    seen: list[bytes] = []
    while messages := await memory.fetch(500, wait_s=0):
        seen += [m.body for m in messages]
        await memory.ack(messages)

    assert seen == bodies
    assert await memory.backlog() == 0
