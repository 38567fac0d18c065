"""The overview's charts: the daemon's own counters, sampled in memory every few seconds.

Nothing is stored: a restart starts the charts afresh. 15 minutes at one sample every 5 s is
180 points per series, a few kilobytes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from publisher.observe.metrics import Metrics

SAMPLE_EVERY_S = 5.0
WINDOW_S = 15 * 60.0

SERIES = {
    "received": "events received /s",
    "published": "events published /s",
    "retried": "events retried /s",
    "dead_lettered": "events dead-lettered /s",
    "put_errors": "PutPartnerEvents calls not ok /s",
}


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    totals: dict[str, float]


def counter_totals(registry: CollectorRegistry) -> dict[str, float]:
    """Each series' counter summed over its labels (put_errors: every outcome but ok)."""
    totals = dict.fromkeys(SERIES, 0.0)
    names = {
        "publisher_events_received_total": "received",
        "publisher_events_published_total": "published",
        "publisher_events_retried_total": "retried",
        "publisher_events_dead_lettered_total": "dead_lettered",
    }
    for family in registry.collect():
        for sample in family.samples:
            if sample.name in names:
                totals[names[sample.name]] += sample.value
            elif sample.name == "publisher_put_requests_total" and (
                sample.labels.get("outcome") != "ok"
            ):
                totals["put_errors"] += sample.value
    return totals


class Throughput:
    """Keeps the last WINDOW_S of samples; `rates` turns them into per-second series."""

    def __init__(
        self,
        metrics: Metrics,
        every_s: float = SAMPLE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = metrics.registry
        self._every_s = every_s
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=int(WINDOW_S / every_s) + 1)

    def sample(self) -> None:
        self._samples.append(Sample(self._clock(), counter_totals(self._registry)))

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(self._every_s)

    def rates(self) -> dict[str, list[tuple[float, float]]]:
        """Per series: (seconds before now, rate over the interval ending then), oldest first."""
        now = self._clock()
        points = list(self._samples)
        series: dict[str, list[tuple[float, float]]] = {name: [] for name in SERIES}
        for before, after in itertools.pairwise(points):
            span = after.at - before.at
            if span <= 0:
                continue
            for name in SERIES:
                rate = max(0.0, after.totals[name] - before.totals[name]) / span
                series[name].append((now - after.at, rate))
        return series
