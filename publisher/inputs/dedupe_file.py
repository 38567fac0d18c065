"""Idempotent puts for inputs that cannot remember keys themselves (SQS, the memory fake).

SQS has no conditional write, and a FIFO queue's deduplication lasts five minutes, not a
day; so the keys live in a SQLite file beside the daemon (`ingest.dedupe_path`), written
after the input took the bodies. A crash between the two forgets those keys (a retry is then
stored again: at least once, never lost), and replicas on one queue each remember only what
they stored themselves. Within this process, a put waits for an earlier put of the same key
to finish, so two requests racing with one id store it once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from publisher.core.event import Event
from publisher.inputs import dedupe_sql
from publisher.inputs.base import Input, ValidatedPuts
from publisher.inputs.dedupe import DedupeLimits, KeyedBodies


async def put_validated_if_able(
    sink: Input, bodies: Sequence[bytes], events: Sequence[Event] | None
) -> None:
    """Put through the ValidatedPuts fast lane when the input has one and events are known."""
    if events is not None and isinstance(sink, ValidatedPuts):
        await sink.put_validated(bodies, events)
    else:
        await sink.put(bodies)


class KeyFile:
    """The remembered keys in their own SQLite file; each call is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        dedupe_sql.create(self._conn)
        self._memory = dedupe_sql.RememberedKeys()
        self._memory.load_once(self._conn, time.time())
        self._lock = threading.Lock()

    def known(self, keys: Sequence[str | None], now: float) -> set[str]:
        with self._lock:
            return self._memory.known(keys, now)

    def remember(self, keys: Sequence[str], now: float, limits: DedupeLimits) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                dedupe_sql.remember(self._conn, self._memory, keys, now, limits)
                self._conn.execute("COMMIT")
            except BaseException:
                self._memory.rollback()
                self._conn.execute("ROLLBACK")
                raise
            self._memory.commit()

    def count(self) -> int:
        with self._lock:
            return dedupe_sql.count(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class RememberingInput:
    """Gives any Input `put_once` (publisher.inputs.dedupe.PutsOnce) with a KeyFile."""

    def __init__(self, inner: Input, keys: KeyFile, clock: Callable[[], float] = time.time):
        self._inner = inner
        self._keys = keys
        self._clock = clock
        self._pending: dict[str, asyncio.Future[None]] = {}

    async def put_once(self, batch: KeyedBodies, limits: DedupeLimits) -> list[bool]:
        keys, bodies, events = batch.keys, batch.bodies, batch.events
        mine = await self._claim([key for key in keys if key is not None])
        try:
            now = self._clock()
            remembered = await asyncio.to_thread(self._keys.known, keys, now)
            duplicates = [key is not None and key in remembered for key in keys]
            new = [i for i, duplicate in enumerate(duplicates) if not duplicate]
            if new:
                new_events = [events[i] for i in new] if events is not None else None
                await put_validated_if_able(self._inner, [bodies[i] for i in new], new_events)
            new_keys = [key for i in new if (key := keys[i]) is not None]
            await asyncio.to_thread(self._keys.remember, new_keys, now, limits)
            return duplicates
        finally:
            for key in mine:
                self._pending.pop(key).set_result(None)

    async def _claim(self, keys: list[str]) -> list[str]:
        """Wait until no other put holds any of the keys, then hold them all."""
        while busy := [self._pending[key] for key in keys if key in self._pending]:
            await asyncio.gather(*busy)
        loop = asyncio.get_running_loop()
        for key in keys:
            self._pending[key] = loop.create_future()
        return keys
