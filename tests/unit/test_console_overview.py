"""The overview's rates: per-second differences of the daemon's counters over the window."""

from __future__ import annotations

from publisher.http.console.html import chart
from publisher.http.console.overview import WINDOW_S, Throughput
from publisher.observe.metrics import Metrics


def test_rates_are_counter_differences_per_second_and_the_window_is_bounded() -> None:
    metrics = Metrics()
    now = [1000.0]
    throughput = Throughput(metrics, every_s=5.0, clock=lambda: now[0])
    throughput.sample()
    metrics.events_published.inc(50)
    metrics.events_dead_lettered.labels(reason="rejected").inc(5)
    metrics.put_requests.labels(outcome="throttled").inc(10)
    metrics.put_requests.labels(outcome="ok").inc(99)
    now[0] += 5.0
    throughput.sample()
    rates = throughput.rates()
    assert rates["published"] == [(0.0, 10.0)]
    assert rates["dead_lettered"] == [(0.0, 1.0)]
    assert rates["put_errors"] == [(0.0, 2.0)]  # every outcome but ok
    for _ in range(400):
        now[0] += 5.0
        throughput.sample()
    assert len(throughput.rates()["published"]) == int(WINDOW_S / 5.0)


def test_a_chart_reports_now_and_peak() -> None:
    svg = chart("events published /s", [(10.0, 4.0), (5.0, 8.0), (0.0, 2.0)], WINDOW_S)
    assert "now 2.0, peak 8.0" in svg
    assert svg.count("<polyline") == 1
