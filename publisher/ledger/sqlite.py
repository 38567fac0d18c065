"""The SQLite ledger (spool and SQS inputs), in its own file beside the spool.

Its own file, not the spool's: the spool's single writer lock is the hot path's, and the
ledger's batches must not queue behind it (or it behind them).

Rows are only appended, and there is no index: ids are often random (UUIDs), and an index on
them turns each batch into writes all over the file (measured: 9.4 us per event at 200,000
events against 2.3 without). A lookup scans instead (about 0.2 s at 1,000,000 events), which
suits a person asking about one event. A retried event leaves a pending row and a settled
one; lookups pick the settled. Append order is age order, so expiry and the max_events bound
delete a prefix of rowids.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from publisher.ledger.entry import LedgerEntry, LedgerRow, latest_per_tenant

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    written_at REAL NOT NULL,
    aws_event_id TEXT,
    settled_at REAL,
    reason TEXT,
    dead_letter_id TEXT
);
"""
INSERT = "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
FIRST_FRESH = "SELECT rowid FROM ledger WHERE written_at >= ? ORDER BY rowid LIMIT 1"


class SqliteLedger:
    def __init__(self, path: Path, retention_s: float, max_events: int) -> None:
        self.path = path
        self._retention_s = retention_s
        self._max_events = max_events
        self._db: sqlite3.Connection | None = None
        # One connection, used from worker threads one at a time: a call cancelled while its
        # thread runs must not let the next one in (sqlite3 connections are not re-entrant).
        self._lock = threading.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost last batch after a power cut is fine
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        self._db = db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("ledger is not started")
        return self._db

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        await asyncio.to_thread(self._write, rows)

    def _write(self, rows: Sequence[LedgerRow]) -> None:
        with self._lock, self.db:
            self.db.execute("BEGIN")
            self.db.executemany(INSERT, rows)

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        query = "SELECT * FROM ledger WHERE id = ? AND written_at >= ?"
        params: tuple[object, ...] = (event_id, now - self._retention_s)
        if tenant is not None:
            query += " AND tenant = ?"
            params += (tenant,)
        rows = await asyncio.to_thread(self._query, query, params)
        return latest_per_tenant(LedgerEntry.from_row(row) for row in rows)

    def _query(self, query: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            return self.db.execute(query, params).fetchall()

    async def expire(self, now: float) -> int:
        return await asyncio.to_thread(self._expire, now)

    def _expire(self, now: float) -> int:
        with self._lock, self.db:
            self.db.execute("BEGIN")
            first, last = self.db.execute("SELECT min(rowid), max(rowid) FROM ledger").fetchone()
            if first is None:
                return 0
            fresh = self.db.execute(FIRST_FRESH, (now - self._retention_s,)).fetchone()
            keep_from = last + 1 if fresh is None else fresh[0]
            keep_from = max(keep_from, last + 1 - self._max_events)
            removed = self.db.execute("DELETE FROM ledger WHERE rowid < ?", (keep_from,)).rowcount
        return int(removed)

    async def count(self, now: float) -> int:
        (row,) = await asyncio.to_thread(self._query, "SELECT count(*) FROM ledger", ())
        return int(str(row[0]))

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
