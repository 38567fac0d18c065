"""PutPartnerEvents rate limit: asyncio-throttle's sliding window, adapted by AIMD on throttling.

AWS meters PutPartnerEvents with a token bucket (docs/aws-contract.md, Quotas and delivery:
1,400 calls/s sustained, 3,600 at once). A window of one second forfeits every call that the
event loop starts late, for good; a longer window lets a busy moment be made up within it while
the average stays at `rate`. At most rate x window calls pass in any window, so keeping that
product at or under the bucket's size keeps every burst within it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from asyncio_throttle.throttler import Throttler

MIN_RPS = 1.0


class AdaptiveRateLimiter:
    """At most rate x window_s calls in any window of window_s seconds; `rate` halves on
    throttling, creeps back.

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
        window_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rps = max_rps
        self.decrease_factor = decrease_factor
        self.increase_rps = increase_rps if increase_rps is not None else max(max_rps / 200, 0.1)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._window_s = window_s
        self._rate = max_rps
        self._last_decrease = float("-inf")
        self._throttler = Throttler(rate_limit=self._window_limit(), period=window_s)

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
        return max(1, int(self._rate * self._window_s))
