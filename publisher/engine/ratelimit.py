"""PutPartnerEvents rate limit: asyncio-throttle's sliding window, adapted by AIMD on throttling."""

from __future__ import annotations

import time
from collections.abc import Callable

from asyncio_throttle.throttler import Throttler

MIN_RPS = 1.0


class AdaptiveRateLimiter:
    """At most `rate` calls in any one-second window; `rate` halves on throttling, creeps back.

    Multiplicative decrease happens at most once per `cooldown_s`, so the many calls in flight
    when AWS starts throttling lower the rate once, not 32 times. Additive increase gives back
    `increase_rps` per successful call, never above the configured maximum.
    """

    def __init__(
        self,
        max_rps: float,
        *,
        decrease_factor: float = 0.5,
        increase_rps: float | None = None,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rps = max_rps
        self.decrease_factor = decrease_factor
        self.increase_rps = increase_rps if increase_rps is not None else max(max_rps / 200, 0.1)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._rate = max_rps
        self._last_decrease = float("-inf")
        self._throttler = Throttler(rate_limit=self._window_limit(), period=1.0)

    @property
    def rate(self) -> float:
        return self._rate

    async def acquire(self) -> None:
        await self._throttler.acquire()  # type: ignore[no-untyped-call]

    def on_throttled(self) -> bool:
        """Lower the rate unless it was just lowered; return whether it changed."""
        now = self._clock()
        if now - self._last_decrease < self.cooldown_s:
            return False
        self._last_decrease = now
        self._set_rate(max(MIN_RPS, self._rate * self.decrease_factor))
        return True

    def on_success(self) -> None:
        if self._rate < self.max_rps:
            self._set_rate(min(self.max_rps, self._rate + self.increase_rps))

    def _set_rate(self, rate: float) -> None:
        self._rate = rate
        self._throttler.rate_limit = self._window_limit()

    def _window_limit(self) -> int:
        return max(1, int(self._rate))
