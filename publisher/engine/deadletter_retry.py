"""A dead-letter store that is never given up on: a failed write is retried until it lands.

The pipeline acknowledges a dead-lettered message only after its record is stored, so while
the store fails (a full or read-only disk) the message is kept and its write retried; the
failure is surfaced at once (an error log, `publisher_dead_letter_write_failures_total`,
/readyz 503 on the `dead_letters` check) rather than crashing or dropping the event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from publisher.core.backoff import Doubling
from publisher.engine.deadletter import DeadLetter, DeadLetterSink
from publisher.observe.health import Health

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

CHECK = "dead_letters"
RETRY = Doubling(first_s=0.1, max_s=5.0)


class RetryingDeadLetters:
    """Wraps a store: `write` returns only once the letters are stored, however long it takes."""

    def __init__(self, store: DeadLetterSink, health: Health, metrics: Metrics) -> None:
        self._store = store
        self._health = health
        self._metrics = metrics

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        delay_s = RETRY.first_s
        while True:
            try:
                await self._store.write(letters)
            except Exception as exc:
                self._metrics.dead_letter_write_failures.inc()
                self._health.fail(CHECK, f"the dead-letter store cannot be written: {exc}")
                log.error(
                    "dead_letter_write_failed",
                    error=str(exc),
                    letters=len(letters),
                    retry_in_s=delay_s,
                )
                await asyncio.sleep(delay_s)
                delay_s = RETRY.after(delay_s)
                continue
            if self._health.reason(CHECK) is not None:
                self._health.ok(CHECK)
                log.info("dead_letter_store_recovered", letters=len(letters))
            return
