"""A wall clock that a step of the system clock does not move: epoch seconds for ages.

Ages (the retry.max_age_s budget, delivery latency) and spool leases compare times taken in
this process. Read from time.time(), a clock stepped forward by a day would age every pending
event by a day and dead-letter the whole backlog as too old; stepped back, leases would last
for ever. steady_time() reads the wall clock once, at import, and advances it with the
monotonic clock, so within a process it only moves forward at the rate time passes. Times
persisted by another process (or before a restart) are compared with it as they are; a time
in the future counts as now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_WALL_AT_START = time.time()
_MONOTONIC_AT_START = time.monotonic()


def steady_time() -> float:
    """Epoch seconds, anchored to the wall clock at start, advanced by the monotonic clock."""
    return _WALL_AT_START + (time.monotonic() - _MONOTONIC_AT_START)


@dataclass(frozen=True, slots=True)
class Clocks:
    """The engine's two clocks: `monotonic` for deadlines, waits and rates; `wall` (epoch
    seconds) for event ages and the times written to records."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = steady_time


SYSTEM_CLOCKS = Clocks()
