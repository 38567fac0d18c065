"""The adaptive PutPartnerEvents rate limit: AIMD on a fake clock (real time: integration)."""

from __future__ import annotations

import pytest

from publisher.engine.ratelimit import AdaptiveRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def window_limit(limiter: AdaptiveRateLimiter) -> int:
    """How many calls the sliding window admits right now."""
    return int(limiter._throttler.rate_limit)


def test_starts_at_the_configured_maximum() -> None:
    limiter = AdaptiveRateLimiter(1400, clock=FakeClock())
    assert limiter.rate == 1400
    assert window_limit(limiter) == 1400


def test_throttling_halves_the_rate_and_the_window() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, clock=clock)
    assert limiter.on_throttled() is True
    assert limiter.rate == 50
    assert window_limit(limiter) == 50


def test_throttling_lowers_the_rate_at_most_once_per_cooldown() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, cooldown_s=1.0, clock=clock)
    assert limiter.on_throttled() is True
    for _ in range(31):  # the other calls in flight when throttling started
        assert limiter.on_throttled() is False
    clock.now += 0.999
    assert limiter.on_throttled() is False
    assert limiter.rate == 50
    clock.now += 0.001
    assert limiter.on_throttled() is True
    assert limiter.rate == 25
    assert window_limit(limiter) == 25


def test_rate_never_drops_below_one() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(10, clock=clock)
    for _ in range(20):
        limiter.on_throttled()
        clock.now += 1.0
    assert limiter.rate == 1.0
    assert window_limit(limiter) == 1


def test_custom_decrease_factor() -> None:
    limiter = AdaptiveRateLimiter(100, decrease_factor=0.8, clock=FakeClock())
    limiter.on_throttled()
    assert limiter.rate == pytest.approx(80)


def test_success_increases_additively_and_the_window_follows() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, increase_rps=2.5, clock=clock)
    limiter.on_throttled()  # 50
    limiter.on_success()
    assert limiter.rate == pytest.approx(52.5)
    assert window_limit(limiter) == 52  # whole calls per one-second window
    limiter.on_success()
    assert limiter.rate == pytest.approx(55)
    assert window_limit(limiter) == 55


def test_default_increase_is_a_two_hundredth_of_the_maximum() -> None:
    limiter = AdaptiveRateLimiter(1400, clock=FakeClock())
    limiter.on_throttled()
    limiter.on_success()
    assert limiter.rate == pytest.approx(707)


def test_default_increase_has_a_floor_for_small_maximums() -> None:
    limiter = AdaptiveRateLimiter(4, clock=FakeClock())
    limiter.on_throttled()
    limiter.on_success()
    assert limiter.rate == pytest.approx(2.1)


def test_success_never_raises_the_rate_above_the_maximum() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, increase_rps=7, clock=clock)
    limiter.on_success()
    assert limiter.rate == 100
    limiter.on_throttled()
    for _ in range(100):
        limiter.on_success()
    assert limiter.rate == 100
    assert window_limit(limiter) == 100


def test_rate_recovers_after_throttling_stops() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, increase_rps=1, clock=clock)
    limiter.on_throttled()
    clock.now += 5
    limiter.on_throttled()
    assert limiter.rate == 25
    for _ in range(75):
        limiter.on_success()
    assert limiter.rate == pytest.approx(100)


def test_a_longer_window_admits_rate_times_window_calls_and_follows_throttling() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(1400, window_s=2.5, clock=clock)
    assert window_limit(limiter) == 3500  # within AWS's burst of 3,600
    assert limiter._throttler.period == 2.5
    limiter.on_throttled()
    assert limiter.rate == 700
    assert window_limit(limiter) == 1750
