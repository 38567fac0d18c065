"""The Input protocol every queue adapter implements (spool, Redis Streams, SQS, memory)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from publisher.core.event import Event


@dataclass(slots=True)
class Message:
    """One event as the input holds it, leased to this process until acked or released."""

    id: str
    """The input's handle for this message (spool row id, stream entry id, SQS receipt)."""
    body: bytes
    """The event JSON exactly as it was accepted."""
    enqueued_at: float
    """Epoch seconds when the input first accepted it: the start of the age budget."""
    deliveries: int = 1
    """How many times it has been fetched, this time included (more than 1 after a crash)."""
    event: Event | None = None
    """The body as already validated in this process (the spool's own puts), else None."""


class Input(Protocol):
    """A durable queue of event bodies with at-least-once, lease-based delivery.

    A fetched message stays leased (invisible to other fetches) for the input's visibility
    timeout; `extend` renews the lease, `ack` removes the message for good, `release` makes it
    visible again at once. A message whose lease runs out is delivered again.
    """

    async def start(self) -> None:
        """Open connections and create what is missing (files, groups)."""

    async def put(self, bodies: Sequence[bytes], events: Sequence[Event] | None = None) -> None:
        """Store bodies durably before returning; raise InputFull when over its bounds.

        events: the same bodies as validated Events when the caller has them (HTTP ingest).
        An input may hand them to this process's own consumer (the spool does); others
        ignore them.
        """

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Lease up to max_messages, waiting at most wait_s for the first one."""

    async def ack(self, messages: Sequence[Message]) -> None:
        """Remove settled messages for good."""

    async def extend(self, messages: Sequence[Message]) -> None:
        """Renew the leases of messages that are still being worked on."""

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Give unsettled messages back, to be fetched again after delay_s (at once if 0)."""

    async def backlog(self) -> int:
        """Messages stored and not yet acknowledged (leased ones included)."""

    async def close(self) -> None:
        """Release resources; leased messages stay leased until their timeout."""
