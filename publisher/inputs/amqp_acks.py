"""Which acks to send for a channel's deliveries: one `multiple` ack for the settled run at the
front of the window, single acks for the rest. Pure bookkeeping by delivery tag; no I/O.

Each basic.ack is a frame and, through aiormq's writer, a socket write: acking a batch of 20
one by one costs 20 writes, while deliveries are mostly settled in the order they came, so
one ack with `multiple` covers most of them. A delivery held back (a delayed release, a slow
tenant) must not hold up the acks behind it, or the prefetch window would fill: those are
acked singly at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class AckPlan:
    multiple_up_to: int | None
    """Send basic.ack(this tag, multiple=True), covering every outstanding tag up to it."""
    singles: list[int]
    """Send basic.ack(tag) for each."""


@dataclass(slots=True)
class AckWindow:
    """Delivery tags of one channel not yet acked, nacked or rejected, in delivery order."""

    _order: deque[int] = field(default_factory=deque)
    _done: set[int] = field(default_factory=set)
    """Tags in _order already answered singly (ack, nack, reject): skipped when reached."""

    def __len__(self) -> int:
        return len(self._order) - len(self._done)

    def delivered(self, tags: Iterable[int]) -> None:
        """New deliveries; tags grow along a channel."""
        self._order.extend(tags)

    def answered(self, tags: Iterable[int]) -> None:
        """Tags nacked or rejected: they leave the window without an ack."""
        self._done.update(tags)
        self._trim()

    def ack(self, tags: Iterable[int]) -> AckPlan:
        """The frames that acknowledge `tags` (outstanding tags of this window)."""
        settled = set(tags)
        last: int | None = None
        order, done = self._order, self._done
        while order and (order[0] in settled or order[0] in done):
            tag = order.popleft()
            if tag in settled:
                last = tag
                settled.discard(tag)
            else:
                done.discard(tag)
        singles = sorted(settled)
        done.update(singles)
        return AckPlan(last, singles)

    def _trim(self) -> None:
        order, done = self._order, self._done
        while order and order[0] in done:
            done.discard(order.popleft())
