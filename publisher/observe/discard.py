"""Metrics that go nowhere, for `send`: nothing scrapes a one-shot command, so it need not
import prometheus_client (4% of a one-event `send`'s instructions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics


class _Discarded:
    """Any metric, or any label child of one: every call (inc, set, observe, labels,
    set_function...) is taken and dropped. The engine only writes metrics, never reads them."""

    __slots__ = ()

    def __getattr__(self, name: str) -> _Discarded:
        return self

    def __call__(self, *args: object, **kwargs: object) -> _Discarded:
        return self


def discarded_metrics() -> Metrics:
    """A stand-in for Metrics whose every metric discards what it is told."""
    return cast("Metrics", _Discarded())
