"""The Input protocol every queue adapter implements (spool, Redis Streams, SQS, memory)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import orjson

from publisher.core.event import Event
from publisher.core.fairness import ShareOf
from publisher.core.message import Message


class Input(Protocol):
    """A durable queue of event bodies with at-least-once, lease-based delivery.

    A fetched message stays leased (invisible to other fetches) for the input's visibility
    timeout; `extend` renews the lease, `ack` removes the message for good, `release` makes it
    visible again at once. A message whose lease runs out is delivered again.
    """

    @property
    def lease_renew_s(self) -> float | None:
        """How often the consumer should `extend` what it holds; None if leases never run out."""

    async def start(self) -> None:
        """Open connections and create what is missing (files, groups)."""

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Store bodies durably before returning; raise InputFull when over its bounds."""

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


@runtime_checkable
class ValidatedPuts(Protocol):
    """An optional fast lane: an input that can take events this process has already validated
    and hand them to its own consumer, which then need not decode them again (the spool)."""

    async def put_validated(self, bodies: Sequence[bytes], events: Sequence[Event]) -> None:
        """Store bodies as `put` does; `events` are the same bodies, validated, in order."""


Allowance = Callable[[str], float]
"""How many more of a tenant's events the consumer wants now (math.inf: as many as come)."""


@runtime_checkable
class TenantReads(Protocol):
    """An input that can choose whose events to read next (the spool; Redis and SQS lanes):
    fetches then share max_messages across the tenants with events stored, by weight."""

    def read_tenants_by(self, share_of: ShareOf, allowance: Allowance) -> None:
        """Use these weights and allowances for every later fetch."""


class Deadline:
    """The end of a fetch's wait: wait_s (none if negative) from now, on the loop's clock."""

    def __init__(self, wait_s: float) -> None:
        self._now = asyncio.get_running_loop().time
        self.at = self._now() + max(wait_s, 0.0)

    def remaining_s(self) -> float:
        return self.at - self._now()


def renew_interval_s(visibility_timeout_s: float) -> float:
    """A third of the visibility timeout: a renewal that fails still leaves a second chance."""
    return visibility_timeout_s / 3


def parses_as_json(body: bytes) -> bool:
    """Whether a queued body parses as JSON: queue inputs with a broker-side dead-letter route
    (AMQP dead-letter exchange, SQS redrive) leave the bodies that do not to that route."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True
