"""The Ledger the pipeline tells outcomes to: it only appends to a list there, and a task of
its own writes them in batches, so the ledger never delays settling or acknowledging.

A failed write is logged and dropped: the ledger answers questions about events, it is not
where they are kept (the input and the dead-letter store are).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from publisher.ledger.entry import DEAD_LETTERED, PENDING, PUBLISHED, LedgerRow
from publisher.ledger.store import LedgerStore

if TYPE_CHECKING:
    from publisher.aws.putevents import EntryResult
    from publisher.core.admission import Entry
    from publisher.engine.deadletter import DeadLetter
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)

FLUSH_AT = 5000
MAX_BUFFERED = 200_000
"""Outcomes waiting for a write beyond this are dropped (counted in `dropped`), not queued."""
EXPIRE_INTERVAL_S = 60.0


class Ledger:
    """Collects settled outcomes in memory; `run` writes them out until cancelled."""

    def __init__(
        self,
        store: LedgerStore,
        flush_interval_s: float,
        retention_s: float,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._flush_interval_s = flush_interval_s
        self._expire_interval_s = max(1.0, min(EXPIRE_INTERVAL_S, retention_s / 4))
        self._clock = clock
        # Rows as the stores write them, built once here: the write task passes them on as is.
        self._buffer: list[LedgerRow] = []
        self._full = asyncio.Event()
        self._stopping = False
        self.written = 0
        self.dropped = 0

    def published(
        self, entries: Sequence[Entry], results: Sequence[EntryResult], wall: float
    ) -> None:
        """The entries of one call whose result carries no error were published."""
        self._buffer.extend(
            [
                (
                    entry.event_id or "",  # admission gives every entry one
                    entry.tenant,
                    PUBLISHED,
                    entry.message.enqueued_at,
                    entry.attempts,
                    wall,
                    result.event_id,
                    wall,
                    None,
                    None,
                )
                for entry, result in zip(entries, results, strict=True)
                if result.error_code is None
            ]
        )
        self._check_size()

    def retrying(self, entry: Entry, wall: float) -> None:
        """An entry's first attempt failed and it waits for another: it is pending."""
        if entry.attempts == 1:
            event_id, received = entry.event_id or "", entry.message.enqueued_at
            self._buffer.append(
                (event_id, entry.tenant, PENDING, received, 1, wall, None, None, None, None)
            )
            self._check_size()

    def dead_lettered(self, letters: Sequence[DeadLetter], wall: float) -> None:
        for letter in letters:
            event_id, tenant = _identity(letter)
            if event_id is None:
                continue  # not even JSON with an id: the dead letter itself is all there is
            outcome: LedgerRow = (
                event_id,
                tenant,
                DEAD_LETTERED,
                letter.message.enqueued_at,
                letter.attempts,
                wall,
                None,
                wall,
                letter.reason,
                letter.dead_letter_id,
            )
            self._buffer.append(outcome)
        self._check_size()

    def _check_size(self) -> None:
        size = len(self._buffer)
        if size >= FLUSH_AT:
            self._full.set()
            if size > MAX_BUFFERED:
                self._count("dropped", size - MAX_BUFFERED)
                del self._buffer[MAX_BUFFERED:]

    async def run(self) -> None:
        """Write batches every flush interval (sooner when many wait) and expire old entries,
        until `stop`; then write what is left and return."""
        next_expiry = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._flush_interval_s)
            self._full.clear()
            await self.flush()
            if self._stopping:
                if not self._buffer:
                    return
                continue
            if time.monotonic() >= next_expiry:
                next_expiry = time.monotonic() + self._expire_interval_s
                await self._expire()

    def stop(self) -> None:
        """Let `run` finish the write under way and the last batch, then return."""
        self._stopping = True
        self._full.set()

    async def flush(self) -> None:
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        try:
            await self._store.write(rows)
        except Exception as exc:
            self._count("dropped", len(rows))
            log.warning("ledger_write_failed", entries=len(rows), error=repr(exc))
            return
        self._count("written", len(rows))

    def _count(self, outcome: str, entries: int) -> None:
        if outcome == "written":
            self.written += entries
        else:
            self.dropped += entries
        if self._metrics is not None:
            self._metrics.ledger_entries.labels(outcome=outcome).inc(entries)

    async def _expire(self) -> None:
        try:
            removed = await self._store.expire(self._clock())
        except Exception as exc:
            log.warning("ledger_expiry_failed", error=repr(exc))
            return
        if removed:
            log.info("ledger_expired", entries=removed)


def _identity(letter: DeadLetter) -> tuple[str | None, str]:
    """The id the dead letter's event is known by (its own, else the one given) and tenant."""
    try:
        event: Any = orjson.loads(letter.message.body)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        return None, ""
    own_id, tenant = event.get("id"), event.get("tenant")
    event_id = own_id if isinstance(own_id, str) else letter.event_id
    return event_id, tenant if isinstance(tenant, str) else ""
