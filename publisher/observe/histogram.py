"""A Prometheus histogram that takes many observations in one call.

prometheus-client's Histogram takes a lock and walks its buckets for every observation;
delivery latency is observed once per event, so on the hot path we count a whole batch with
bisect and publish the same exposition (`_bucket`, `_count`, `_sum`) through a collector.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class BatchHistogram(Collector):
    """Cumulative buckets with `le` bounds, like prometheus_client.Histogram, no labels."""

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        self._counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self._sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self.bounds, value)] += 1
        self._sum += value

    def observe_many(self, values: Iterable[float]) -> None:
        counts = self._counts
        bounds = self.bounds
        total = 0.0
        for value in values:
            counts[bisect.bisect_left(bounds, value)] += 1
            total += value
        self._sum += total

    def collect(self) -> Iterator[Metric]:
        cumulative = []
        running = 0
        for bound, count in zip([*self.bounds, math.inf], self._counts, strict=True):
            running += count
            cumulative.append((_label(bound), running))
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=cumulative, sum_value=self._sum
        )

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation)


def _label(bound: float) -> str:
    """As prometheus_client writes `le` (1048576 is "1.048576e+06")."""
    label: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return label
