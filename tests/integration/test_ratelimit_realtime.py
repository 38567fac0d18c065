"""The adaptive rate limit in real time: asyncio-throttle's sliding window, about 1 s each."""

from __future__ import annotations

import asyncio
import time

from publisher.engine.ratelimit import AdaptiveRateLimiter


async def test_realtime_acquire_admits_at_most_rate_calls_per_second() -> None:
    """REAL TIME (about 1 s): 40 acquires at rate 20 need a second window."""
    limiter = AdaptiveRateLimiter(20)
    admitted: list[float] = []
    start = time.monotonic()
    for _ in range(40):
        await limiter.acquire()
        admitted.append(time.monotonic())
    elapsed = time.monotonic() - start
    assert elapsed >= 0.98
    assert elapsed < 3.0  # it waits for the window, not much longer
    # Sliding window: the 21st call after any call comes more than a second later.
    for earlier, later in zip(admitted, admitted[20:], strict=False):
        assert later - earlier >= 0.98
    assert admitted[19] - start < 0.5  # the first 20 go through at once


async def test_realtime_concurrent_acquires_follow_a_lowered_rate() -> None:
    """REAL TIME (about 1 s): after throttling, rate 20 becomes 10 calls per second."""
    limiter = AdaptiveRateLimiter(20)
    assert limiter.on_throttled() is True
    start = time.monotonic()
    finished: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        finished.append(time.monotonic() - start)

    await asyncio.gather(*(one() for _ in range(15)))
    finished.sort()
    assert finished[9] < 0.5
    assert finished[10] >= 0.98


async def test_realtime_a_two_second_window_lets_a_late_second_be_made_up() -> None:
    """REAL TIME (about 2 s): rate 20 over a 2 s window: 40 calls at once, the 41st 2 s later."""
    limiter = AdaptiveRateLimiter(20, window_s=2.0)
    admitted: list[float] = []
    start = time.monotonic()
    for _ in range(41):
        await limiter.acquire()
        admitted.append(time.monotonic() - start)
    assert admitted[39] < 0.5  # a one-second window would have held the 21st for a second
    assert admitted[40] >= 1.98
