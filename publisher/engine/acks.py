"""Acknowledgements the input could not store (a full disk, Redis down), kept and retried.

A settled message whose ack fails stays held by the pipeline: its lease keeps being renewed,
so the input does not hand it out again, and nothing new is fetched or sent until the acks
are stored. At most what was in flight when the first ack failed can then be published
twice, and only if the process dies before the retry succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from publisher.core.backoff import Doubling
from publisher.core.message import Message
from publisher.observe.health import Health

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

CHECK = "input_acks"
RETRY = Doubling(first_s=0.1, max_s=5.0)

Settled = Callable[[list[Message], int, int], None]
"""Called with (messages, published, dead_lettered) once their ack is stored."""


class PendingAcks:
    """Acks waiting to be stored; `clear` is set while none wait."""

    def __init__(
        self, ack: Callable[[list[Message]], Awaitable[None]], health: Health, metrics: Metrics
    ) -> None:
        self._ack = ack
        self._health = health
        self._metrics = metrics
        self._waiting: list[tuple[list[Message], int, int]] = []
        self._arrived = asyncio.Event()
        self.clear = asyncio.Event()
        self.clear.set()

    @property
    def blocked(self) -> bool:
        return bool(self._waiting)

    def __len__(self) -> int:
        return sum(len(messages) for messages, _, _ in self._waiting)

    def defer(self, messages: list[Message], published: int, dead: int, error: Exception) -> None:
        """Keep these for the retry loop and report why."""
        self._waiting.append((messages, published, dead))
        self._failed(error)
        self.clear.clear()
        self._arrived.set()

    async def retry_forever(self, settled: Settled) -> None:
        delay_s = RETRY.first_s
        while True:
            await self._arrived.wait()
            await asyncio.sleep(delay_s)
            waiting = list(self._waiting)
            try:
                await self._ack([m for messages, _, _ in waiting for m in messages])
            except Exception as exc:
                self._failed(exc)
                delay_s = RETRY.after(delay_s)
                continue
            delay_s = RETRY.first_s
            self._waiting = self._waiting[len(waiting) :]  # defers that came in meanwhile
            for messages, published, dead in waiting:
                settled(messages, published, dead)
            log.info("acks_recovered", messages=sum(len(m) for m, _, _ in waiting))
            if not self._waiting:
                self._arrived.clear()
                self._health.ok(CHECK)
                self.clear.set()
            self._metrics.acks_pending.set(len(self))

    async def last_try(self, settled: Settled, timeout_s: float) -> None:
        """At shutdown: one more attempt; what still fails is released and sent again later."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self._ack([m for messages, _, _ in waiting for m in messages])
        except Exception as exc:
            count = sum(len(m) for m, _, _ in waiting)
            log.error("acks_lost_at_stop", error=str(exc), messages=count, effect="resent")
            return
        for messages, published, dead in waiting:
            settled(messages, published, dead)

    def _failed(self, error: Exception) -> None:
        self._metrics.ack_failures.inc()
        self._metrics.acks_pending.set(len(self))
        self._health.fail(CHECK, f"acknowledgements cannot be stored: {error}")
        log.error("ack_failed", error=str(error), messages_waiting=len(self))
