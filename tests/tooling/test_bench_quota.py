"""When daemon_quota calls the quota carried: delivery, backlog growth and CPU to spare."""

from __future__ import annotations

from typing import Any

import pytest

from bench.quota import carried


def _figures(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "offered_events_per_s": 28_000.0,
        "carried_share": 0.99,
        "backlog_growth_events_per_s": 100.0,
        "cpu_share": 0.80,
    }
    return figures | changes


def test_delivering_the_offered_rate_with_a_flat_backlog_and_cpu_to_spare_carries() -> None:
    assert carried(_figures())


@pytest.mark.parametrize(
    "changes",
    [
        {"carried_share": 0.97},  # under 98% delivered
        {"backlog_growth_events_per_s": 600.0},  # backlog growing by over 2% of the rate
        {"backlog_growth_events_per_s": None},  # backlog not readable: not shown to be flat
        {"cpu_share": 0.96},  # the daemon's core saturated
    ],
)
def test_any_missing_condition_means_not_carried(changes: dict[str, Any]) -> None:
    assert not carried(_figures(**changes))
