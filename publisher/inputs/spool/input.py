"""The spool: a durable queue in one SQLite file, the embedded input that HTTP ingest fills."""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import structlog

from publisher.core.clock import steady_time
from publisher.core.event import Event
from publisher.core.fairness import EQUAL_SHARE, ShareOf, split_fairly
from publisher.core.message import Message
from publisher.errors import DiskFull, InputUnavailable
from publisher.inputs.base import Allowance, renew_interval_s
from publisher.inputs.coalesce import ACK_INTERVAL_S, Coalescer
from publisher.inputs.dedupe import DedupeLimits, KeyedBodies
from publisher.inputs.leases import LeaseTable
from publisher.inputs.spool.db import Row, SpoolDb, Synchronous
from publisher.inputs.spool.fresh import FreshRows
from publisher.inputs.spool.keeper import MarkKeeper, lock_as_consumer
from publisher.inputs.spool.tenant_reads import (
    MAX_READ,
    Plan,
    backlog_by_tenant,
    delivery_counts,
    first_delivery,
    held_event,
    read_again_and_new,
    tenants_of,
)
from publisher.inputs.spool.worker import SpoolWorker
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

    Only the consumer (`consumer=True`, one process per file, held by a file lock) fetches,
    and its leases live in its memory, not in the file: fetching reads rows past a cursor
    and writes nothing, so a lease costs no write to disk, only an ack does. A restart
    therefore delivers everything unacknowledged again at once, counting deliveries afresh.
    Other processes (`enqueue`, `dlq replay`) only put.

    Each tenant's rows are read on their own, past a cursor of its own, and a fetch shares
    its room among the tenants with rows stored (by weight, within what the consumer allows
    each: `read_tenants_by`), so that one tenant's backlog never stands in front of another's.

    What its own process puts with `put_validated` (HTTP ingest) is also kept in memory once
    committed, validated (spool/fresh.py): the consumer need not read it back and decode it.
    """

    def __init__(
        self,
        settings: SpoolInputSettings,
        clock: Callable[[], float] = steady_time,
        *,
        synchronous: Synchronous = "NORMAL",
        consumer: bool = False,
        fresh: FreshRows | None = None,
        accept_empty: bool = False,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._synchronous: Synchronous = synchronous
        self._consumer = consumer
        self._consumer_lock: int | None = None
        self._worker: SpoolWorker | None = None
        self._arrived = asyncio.Event()
        self._leases = LeaseTable()
        self._reading = asyncio.Lock()  # two fetches at once must not read past one cursor
        # Acks within ACK_INTERVAL_S share a DELETE and a round trip to the SQLite thread.
        self._acks: Coalescer[int] = Coalescer(self._delete, ACK_INTERVAL_S)
        self._cursors: dict[str, int] = {}
        """Per tenant, the highest id delivered from the file or memory; rows of that tenant
        above it never were."""
        self._trusted: set[str] = set()
        """Tenants whose every row not yet delivered is held in memory (self._fresh)."""
        self._unheld_top = 0
        """Older rows, others' puts and puts over memory's budget are at or below this id (a put
        cancelled after its commit is not: read after a restart): a read past it is trusted."""
        self._scan_needed = True
        """Whether the file may hold rows of tenants that are not trusted (see _plan)."""
        self._read_blank = True
        """Whether to read the tenant '' whatever its count: an earlier version's rows are
        there and counted nowhere."""
        self._fresh = fresh if fresh is not None else FreshRows()
        self._accept_empty = accept_empty
        self._keeper = MarkKeeper(settings.path, self._call)
        self._share_of: ShareOf = lambda tenant: EQUAL_SHARE
        self._allowance: Allowance = lambda tenant: math.inf
        self._turn = 0

    def read_tenants_by(self, share_of: ShareOf, allowance: Allowance) -> None:
        """Share each fetch among tenants by these weights, within these allowances."""
        self._share_of = share_of
        self._allowance = allowance

    @property
    def lease_renew_s(self) -> float:
        return renew_interval_s(self._vt)

    @property
    def _vt(self) -> float:
        return self._settings.visibility_timeout_s

    async def start(self) -> None:
        """Open (creating it and its directory if missing) the spool file."""
        if self._worker is not None:
            return
        settings = self._settings
        open_db = partial(
            SpoolDb.open,
            settings.path,
            settings.max_events,
            settings.max_bytes,
            self._synchronous,
            check_integrity=self._consumer,
        )
        if self._consumer:
            self._consumer_lock = lock_as_consumer(settings.path)
        open_checkpointer = partial(SpoolDb.open_checkpointer, settings.path, self._synchronous)
        worker = SpoolWorker(open_db, self._translate, open_checkpointer)
        try:
            await worker.start()
            self._worker = worker
            if self._consumer:
                await self._keeper.start(self._accept_empty)
                self._unheld_top = await self._call(SpoolDb.last_id)
        except BaseException:
            await self.close()
            raise
        log.info("spool_opened", path=str(settings.path), backlog=await self.backlog())

    async def close(self) -> None:
        """Close the file. Leases end with this object: a new consumer gets them at once."""
        await self._keeper.stop()
        await self._acks.drain()
        if self._worker is not None:
            await self._keeper.update()
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop()
        if self._consumer_lock is not None:
            os.close(self._consumer_lock)  # closing the descriptor drops the flock
            self._consumer_lock = None

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Store all bodies in one transaction, or none (InputFull over max_events/max_bytes)."""
        await self._put(bodies, None)

    async def put_validated(self, bodies: Sequence[bytes], events: Sequence[Event]) -> None:
        """Store as `put` does; the consumer's own process also keeps the events for it."""
        await self._put(bodies, events)

    async def _put(self, bodies: Sequence[bytes], events: Sequence[Event] | None) -> None:
        if not bodies:
            return
        now = self._clock()
        tenants = tenants_of(bodies, events)
        first_id, others_put = await self._call(lambda db: db.put(bodies, tenants, now))
        self._hold_fresh(first_id, bodies, tenants, now, events, others_put)

    def _hold_fresh(
        self,
        first_id: int,
        bodies: Sequence[bytes],
        tenants: Sequence[str],
        now: float,
        events: Sequence[Event] | None,
        others_put: bool,
    ) -> None:
        """Keep committed rows for our own consumer; trust memory less where it cannot."""
        if self._consumer:
            if others_put:
                self._trusted.clear()  # their rows are in the file only, tenants unknown
                self._scan_needed = True
                self._read_blank = True
                self._unheld_top = max(self._unheld_top, first_id - 1)
            if not self._fresh.add(first_id, bodies, tenants, now, events, self._cursors):
                self._trusted.difference_update(tenants)
                self._scan_needed = True
                self._unheld_top = max(self._unheld_top, first_id + len(bodies) - 1)
        self._arrived.set()

    async def put_once(self, batch: KeyedBodies, limits: DedupeLimits) -> list[bool]:
        """Like put, skipping bodies whose key the file remembers (publisher.inputs.dedupe):
        the keys are written in the same transaction as the rows, so both or neither are."""
        keys, bodies, events = batch.keys, batch.bodies, batch.events
        if not bodies:
            return []
        now = self._clock()
        tenants = tenants_of(bodies, events)
        first_id, others_put, duplicates = await self._call(
            lambda db: db.put_once(keys, bodies, tenants, now, limits)
        )
        if first_id and not any(duplicates):
            self._hold_fresh(first_id, bodies, tenants, now, events, others_put)
        elif first_id:
            new = [i for i, duplicate in enumerate(duplicates) if not duplicate]
            new_events = [events[i] for i in new] if events is not None else None
            new_bodies, new_tenants = [bodies[i] for i in new], [tenants[i] for i in new]
            self._hold_fresh(first_id, new_bodies, new_tenants, now, new_events, others_put)
        return duplicates

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Lease up to max_messages, oldest first, waiting at most wait_s for the first."""
        self._require_consumer()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        poll_s = _FIRST_POLL_S
        while True:
            # Cleared before looking, so a put that lands while we look still wakes us.
            self._arrived.clear()
            async with self._reading:
                batch = await self._lease(max_messages)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or max_messages <= 0:
                return batch
            sleep_s = min(remaining, poll_s)
            next_change = self._leases.next_change()
            if next_change is not None:
                sleep_s = min(sleep_s, max(next_change - self._clock(), _MIN_SLEEP_S))
            try:
                async with asyncio.timeout(sleep_s):
                    await self._arrived.wait()
            except TimeoutError:
                poll_s = min(poll_s * 2, _MAX_POLL_S)

    async def _lease(self, limit: int) -> list[Message]:
        """Messages due again first (oldest first), then rows never delivered, tenants sharing
        the room: from memory for a tenant whose unread rows it all holds, else from the file."""
        now = self._clock()
        again, counts = self._leases.take_due(now, limit)
        held: list[tuple[str, list[tuple[int, Message]]]] = []
        try:
            plan, spare, tenants = await self._plan(limit - len(again), held)
            old_rows, new_rows = await self._read(again, plan, spare)
        except BaseException:
            # Or they would never come due again (this process reads past its cursors).
            self._leases.put_back(again, counts, now)
            for tenant, rows in held:
                self._fresh.put_back(tenant, rows)
            raise
        until = now + self._vt
        lease = self._leases.lease
        batch: list[Message] = []
        for (message_id, body, enqueued_at), count in zip(
            old_rows, delivery_counts(again, counts, old_rows), strict=True
        ):
            lease(message_id, until, count)
            batch.append(Message(str(message_id), body, enqueued_at, count))
        for tenant, taken in held:
            self._cursors[tenant] = taken[-1][0]
            self._leases.lease_all([message_id for message_id, _ in taken], until, 1)
            batch.extend(message for _, message in taken)
        for tenant, (file_rows, quota) in new_rows.items():
            batch.extend(self._from_file(tenant, file_rows, quota, until))
        # A put meanwhile that calls for a scan also cleared the trust, so this stays True.
        self._scan_needed = not self._trusted.issuperset(tenants)
        return batch

    async def _plan(
        self, room: int, held: list[tuple[str, list[tuple[int, Message]]]]
    ) -> tuple[Plan, int, list[str]]:
        """Share `room` among the tenants with rows; take what memory holds for the trusted
        ones (into `held`); return the file reads left, the room they leave unused, and the
        tenants with rows.

        Which tenants have rows in the file is asked of the file only when memory may not
        hold them all: at start, after another process put rows, when memory ran out of
        room or holds nothing (an idle consumer so notices other processes' puts)."""
        if room <= 0:
            return {}, 0, []
        held_tenants = set(self._fresh.tenants())
        if self._scan_needed or not held_tenants or not self._trusted.issuperset(held_tenants):
            stored, last_id, others_put = await self._call(SpoolDb.tenants_with_rows)
            if others_put:
                self._trusted.clear()
                self._read_blank = True
                self._unheld_top = max(self._unheld_top, last_id)
            held_tenants.update(stored)
            if self._read_blank and "" in self._cursors and "" not in self._trusted:
                held_tenants.add("")  # the probe found rows: read it as any tenant
        tenants = sorted(held_tenants)
        self._turn = (self._turn + 1) % max(1, len(tenants))
        tenants = tenants[self._turn :] + tenants[: self._turn]
        plan: Plan = {}
        spare = room
        if self._read_blank and "" not in held_tenants:
            # A probe of one row: a full answer makes '' a tenant like the others next time.
            plan[""] = (self._cursors.get("", 0), 1, MAX_READ)
            spare -= 1
            room -= 1
        for tenant, quota in split_fairly(room, tenants, self._share_of, self._allowance).items():
            if tenant in self._trusted:
                rows = self._fresh.take(tenant, quota)
                if rows:
                    held.append((tenant, rows))
                spare -= len(rows)
            else:
                cap = self._allowance(tenant)
                plan[tenant] = (
                    self._cursors.get(tenant, 0),
                    quota,
                    MAX_READ if cap == math.inf else int(cap),
                )
                spare -= quota
        return plan, spare, tenants

    async def _read(
        self, again: list[int], plan: Plan, spare: int
    ) -> tuple[list[Row], dict[str, tuple[list[Row], int]]]:
        if not again and not plan:
            return [], {}
        return await self._call(partial(read_again_and_new, again=again, plan=plan, spare=spare))

    def _from_file(self, tenant: str, rows: list[Row], quota: int, until: float) -> list[Message]:
        """Lease a tenant's rows read from the file; a short read, or one past the last row
        memory may lack, means memory now holds every later row of this tenant (until another
        process puts some)."""
        if rows:
            self._cursors[tenant] = rows[-1][0]
        if len(rows) < quota or (tenant and self._cursors.get(tenant, 0) >= self._unheld_top):
            self._trusted.add(tenant)
            if tenant == "":
                self._read_blank = False
        # Held rows the file answered for still bring their events along.
        read_too = self._fresh.discard_read(tenant, self._cursors.get(tenant, 0))
        self._leases.lease_all([row[0] for row in rows], until, 1)
        messages = []
        for message_id, body, enqueued_at in rows:
            event = held_event(read_too.get(message_id))
            messages.append(first_delivery(message_id, body, enqueued_at, event))
        return messages

    async def backlog_by_tenant(self) -> dict[str, tuple[int, float | None]]:
        """Per tenant: rows stored (leased ones included) and the oldest one's enqueued_at."""
        return await self._call(backlog_by_tenant)

    async def ack(self, messages: Sequence[Message]) -> None:
        """Delete the messages; returns once that is committed. Acking twice is harmless."""
        await self._acks.submit([int(message.id) for message in messages])

    async def _delete(self, ids: list[int]) -> None:
        await self._call(lambda db: db.ack(ids))
        self._leases.forget(ids)

    async def extend(self, messages: Sequence[Message]) -> None:
        """Renew leases that are still held; an expired lease is not revived."""
        now = self._clock()
        self._leases.extend((int(m.id) for m in messages), now, now + self._vt)

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Make still-leased messages visible again after delay_s (at once if 0)."""
        if messages:
            visible_at = self._clock() + max(delay_s, 0.0)
            self._leases.release((int(m.id) for m in messages), visible_at)
            self._arrived.set()

    async def backlog(self) -> int:
        """Messages stored and not acknowledged, leased ones included (a counter, not a scan)."""
        return await self._call(SpoolDb.backlog)

    def _require_consumer(self) -> None:
        if not self._consumer:
            raise InputUnavailable("only the spool's consumer (consumer=True) fetches from it")

    async def _call(self, operation: Callable[[SpoolDb], T]) -> T:
        if self._worker is None:
            raise InputUnavailable("the spool is not started")
        return await self._worker.submit(operation)

    def _translate(self, exc: Exception) -> Exception:
        where = f"spool {self._settings.path}"
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return DiskFull(f"{where}: the disk is full")
        if isinstance(exc, sqlite3.Error | OSError):
            return InputUnavailable(f"{where}: {exc}")
        return exc
