"""The metrics `send` uses: every way the engine writes a metric is taken and dropped."""

from __future__ import annotations

from publisher.observe.discard import discarded_metrics
from publisher.observe.metrics import Metrics


def test_every_kind_of_write_on_every_metric_is_taken_without_error() -> None:
    metrics = discarded_metrics()
    names = [name for name in vars(Metrics()) if name != "registry"]
    assert len(names) > 20  # every metric the daemon exports, not an empty loop

    for name in names:
        metric = getattr(metrics, name)
        metric.inc()
        metric.inc(3)
        metric.set(5)
        metric.set_function(lambda: 1)
        metric.observe(0.02)
        metric.observe_many([0.01, 0.02])
        metric.labels(outcome="ok").inc()
        metric.labels("ThrottlingException").observe(1)
