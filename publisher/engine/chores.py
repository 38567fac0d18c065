"""The pipeline's periodic chores on its input: renewing leases and reading the backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

import structlog

from publisher.core.message import Message
from publisher.errors import InputUnavailable
from publisher.inputs.base import Input

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

BACKLOG_INTERVAL_S = 2.0


async def renew_leases(
    input: Input, held: Callable[[], Collection[Message]], interval_s: float
) -> None:
    """Every interval_s, extend the leases of the messages `held` returns, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        messages = held()
        if messages:
            try:
                await input.extend(list(messages))
            except InputUnavailable as exc:
                # A lease that runs out means a duplicate later, not a loss.
                log.warning("lease_renewal_failed", error=str(exc))


async def report_backlog(input: Input, metrics: Metrics) -> None:
    """Keep the backlog gauges current, until cancelled."""
    while True:
        try:
            backlog = await input.backlog()
        except InputUnavailable as exc:
            log.warning("backlog_unavailable", error=str(exc))
        else:
            metrics.backlog_events.set(backlog)
            metrics.input_lag_events.set(backlog)
        await asyncio.sleep(BACKLOG_INTERVAL_S)
