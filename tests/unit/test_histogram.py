"""BatchHistogram exposes exactly what prometheus-client's Histogram would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from publisher.observe.histogram import BatchHistogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 1, 10)


def exposition(values: list[float], batch: bool) -> str:
    registry = CollectorRegistry()
    if batch:
        BatchHistogram("x_seconds", "doc", BUCKETS, registry).observe_many(values)
    else:
        histogram = Histogram("x_seconds", "doc", buckets=BUCKETS, registry=registry)
        for value in values:
            histogram.observe(value)
    return without_created(registry)


def without_created(registry: CollectorRegistry) -> str:
    return "\n".join(
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    )


@given(
    st.lists(
        st.sampled_from([0.0, 0.005, 0.0050001, 0.01, 1.0, 9.99, 10.0, 11.5]) | st.floats(0, 100)
    )
)
def test_same_exposition_as_prometheus_client(values: list[float]) -> None:
    assert exposition(values, batch=True) == exposition(values, batch=False)


def test_observe_and_observe_many_agree() -> None:
    one, many = CollectorRegistry(), CollectorRegistry()
    single = BatchHistogram("y_seconds", "doc", BUCKETS, one)
    for value in (0.001, 0.5, 20.0):
        single.observe(value)
    BatchHistogram("y_seconds", "doc", BUCKETS, many).observe_many([0.001, 0.5, 20.0])
    assert generate_latest(one) == generate_latest(many)
    assert one.get_sample_value("y_seconds_count") == 3
    assert one.get_sample_value("y_seconds_bucket", {"le": "1.0"}) == 2


def test_large_bounds_are_written_as_prometheus_client_writes_them() -> None:
    bounds = (1024, 524288, 1048576, 1e9)
    batch, plain = CollectorRegistry(), CollectorRegistry()
    BatchHistogram("z_bytes", "doc", bounds, batch).observe(2_000_000)
    Histogram("z_bytes", "doc", buckets=bounds, registry=plain).observe(2_000_000)
    assert without_created(batch) == without_created(plain)
    assert batch.get_sample_value("z_bytes_bucket", {"le": "1.048576e+06"}) == 0
