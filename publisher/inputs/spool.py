"""The spool: a durable queue in one SQLite file, the embedded input that HTTP ingest fills."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import structlog

from publisher.errors import InputFull, InputUnavailable
from publisher.inputs.base import Message
from publisher.inputs.spool_db import SpoolDb, Synchronous
from publisher.inputs.spool_worker import SpoolWorker
from publisher.settings import SpoolInputSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")

# An empty fetch looks again at least this often, for messages put by another process (the
# in-process wake-up only sees our own puts); the interval grows while the spool stays empty.
_FIRST_POLL_S = 0.05
_MAX_POLL_S = 1.0
_MIN_SLEEP_S = 0.005


class SpoolInput:
    """Implements the Input protocol over SQLite in WAL mode.

    All SQLite work runs on one dedicated thread that owns the only connection, so the event
    loop never blocks on disk; operations that queue up meanwhile share one transaction.
    Leases are `visible_at` times on the wall clock (`clock`), so they survive a restart: a
    message leased before a crash comes back when its lease ends. A fetch cancelled while its
    statement runs leaves those messages leased until then.
    """

    def __init__(
        self,
        settings: SpoolInputSettings,
        clock: Callable[[], float] = time.time,
        *,
        synchronous: Synchronous = "NORMAL",
        consumer: bool = False,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._synchronous: Synchronous = synchronous
        self._consumer = consumer
        self._consumer_lock: int | None = None
        self._worker: SpoolWorker | None = None
        self._arrived = asyncio.Event()

    @property
    def _vt(self) -> float:
        return self._settings.visibility_timeout_s

    async def start(self) -> None:
        """Open (creating it and its directory if missing) the spool file."""
        if self._worker is not None:
            return
        settings = self._settings
        open_db = partial(
            SpoolDb.open, settings.path, settings.max_events, settings.max_bytes, self._synchronous
        )
        if self._consumer:
            self._lock_as_consumer()
        open_checkpointer = partial(SpoolDb.open_checkpointer, settings.path, self._synchronous)
        worker = SpoolWorker(open_db, self._translate, open_checkpointer)
        await worker.start()
        self._worker = worker
        recovered = 0
        if self._consumer:
            now = self._clock()
            recovered = await self._call(lambda db: db.release_all(now))
        log.info(
            "spool_opened",
            path=str(settings.path),
            backlog=await self.backlog(),
            recovered_leases=recovered,
        )

    def _lock_as_consumer(self) -> None:
        """One consumer per spool file: then leases left by a crashed one can be taken back
        at once instead of after the visibility timeout. Writers (dlq replay) need no lock."""
        path = self._settings.path
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".consumer.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputUnavailable(
                f"another process is already publishing from the spool {path}"
            ) from None
        self._consumer_lock = fd

    async def close(self) -> None:
        """Close the file; leased messages stay leased until their visibility timeout."""
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop()
        if self._consumer_lock is not None:
            os.close(self._consumer_lock)  # closing the descriptor drops the flock
            self._consumer_lock = None

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Store all bodies in one transaction, or none (InputFull over max_events/max_bytes)."""
        if not bodies:
            return
        now = self._clock()
        await self._call(lambda db: db.put(bodies, now))
        self._arrived.set()

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Lease up to max_messages, oldest first, waiting at most wait_s for the first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        poll_s = _FIRST_POLL_S
        while True:
            # Cleared before looking, so a put that lands while we look still wakes us.
            self._arrived.clear()
            now = self._clock()
            lease = partial(_lease_or_next, limit=max_messages, now=now, lease_until=now + self._vt)
            batch, next_visible_at = await self._call(lease)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or max_messages <= 0:
                return batch
            sleep_s = min(remaining, poll_s)
            if next_visible_at is not None:
                sleep_s = min(sleep_s, max(next_visible_at - self._clock(), _MIN_SLEEP_S))
            try:
                async with asyncio.timeout(sleep_s):
                    await self._arrived.wait()
            except TimeoutError:
                poll_s = min(poll_s * 2, _MAX_POLL_S)

    async def ack(self, messages: Sequence[Message]) -> None:
        """Delete the messages in one transaction; acking one twice is harmless."""
        if messages:
            ids = _ids(messages)
            await self._call(lambda db: db.ack(ids))

    async def extend(self, messages: Sequence[Message]) -> None:
        """Renew leases that are still held; an expired lease is not revived."""
        if messages:
            ids, now = _ids(messages), self._clock()
            await self._call(lambda db: db.extend(ids, now, now + self._vt))

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Make still-leased messages visible again after delay_s (at once if 0)."""
        if messages:
            ids, now = _ids(messages), self._clock()
            await self._call(lambda db: db.release(ids, now, now + max(delay_s, 0.0)))
            self._arrived.set()

    async def backlog(self) -> int:
        """Messages stored and not acknowledged, leased ones included (a counter, not a scan)."""
        return await self._call(SpoolDb.backlog)

    async def _call(self, operation: Callable[[SpoolDb], T]) -> T:
        if self._worker is None:
            raise InputUnavailable("the spool is not started")
        return await self._worker.submit(operation)

    def _translate(self, exc: Exception) -> Exception:
        where = f"spool {self._settings.path}"
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return InputFull(f"{where}: the disk is full")
        if isinstance(exc, sqlite3.Error | OSError):
            return InputUnavailable(f"{where}: {exc}")
        return exc


def _lease_or_next(
    db: SpoolDb, limit: int, now: float, lease_until: float
) -> tuple[list[Message], float | None]:
    """Lease what is visible; if nothing is, say when the next message becomes visible."""
    batch = db.lease(limit, now, lease_until)
    return batch, (None if batch else db.next_visible_at())


def _ids(messages: Sequence[Message]) -> str:
    """Message ids as the JSON array the statements expand with json_each."""
    return "[" + ",".join(str(int(message.id)) for message in messages) + "]"
