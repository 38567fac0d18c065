"""A message: one event body as an input holds it, leased to this process until settled."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(slots=True)
class ValidatedMessage(Message):
    """A message whose body this process validated when it accepted it, handed out with the
    resulting event so that admission does not decode it a second time."""

    event: Event = field(kw_only=True)
