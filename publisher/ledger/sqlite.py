"""The SQLite ledger (spool and SQS inputs): one row per (tenant, id) in its own file.

Its own file, not the spool's: the spool's single writer lock is the hot path's, and the
ledger's batches must not queue behind it (or it behind them).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from publisher.ledger.entry import LedgerEntry

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    written_at REAL NOT NULL,
    aws_event_id TEXT,
    settled_at REAL,
    reason TEXT,
    dead_letter_id TEXT,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_by_id ON ledger (id);
CREATE INDEX IF NOT EXISTS ledger_by_age ON ledger (written_at);
"""
UPSERT = """
INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, id) DO UPDATE SET
    state = excluded.state, received_at = excluded.received_at, attempts = excluded.attempts,
    written_at = excluded.written_at, aws_event_id = excluded.aws_event_id,
    settled_at = excluded.settled_at, reason = excluded.reason,
    dead_letter_id = excluded.dead_letter_id
WHERE excluded.state != 'pending' OR ledger.state = 'pending'
"""
COLUMNS = "id, tenant, state, received_at, attempts, written_at, aws_event_id, settled_at, "
COLUMNS += "reason, dead_letter_id"


class SqliteLedger:
    def __init__(self, path: Path, retention_s: float, max_events: int) -> None:
        self.path = path
        self._retention_s = retention_s
        self._max_events = max_events
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

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

    async def write(self, entries: Sequence[LedgerEntry]) -> None:
        rows = [(e.tenant, e.id, *e.fields()) for e in entries]
        async with self._lock:
            await asyncio.to_thread(self._write, rows)

    def _write(self, rows: list[tuple[object, ...]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(UPSERT, rows)

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        query = f"SELECT {COLUMNS} FROM ledger WHERE id = ? AND written_at >= ?"
        params: tuple[object, ...] = (event_id, now - self._retention_s)
        if tenant is not None:
            query += " AND tenant = ?"
            params += (tenant,)
        async with self._lock:
            rows = await asyncio.to_thread(lambda: self.db.execute(query, params).fetchall())
        return [LedgerEntry.from_fields(row[0], row[1], list(row[2:])) for row in rows]

    async def expire(self, now: float) -> int:
        async with self._lock:
            return await asyncio.to_thread(self._expire, now)

    def _expire(self, now: float) -> int:
        with self.db:
            self.db.execute("BEGIN")
            cursor = self.db.execute(
                "DELETE FROM ledger WHERE written_at < ?", (now - self._retention_s,)
            )
            removed = cursor.rowcount
            (count,) = self.db.execute("SELECT count(*) FROM ledger").fetchone()
            if count > self._max_events:
                cursor = self.db.execute(
                    "DELETE FROM ledger WHERE (tenant, id) IN (SELECT tenant, id FROM ledger"
                    " ORDER BY written_at LIMIT ?)",
                    (count - self._max_events,),
                )
                removed += cursor.rowcount
        return int(removed)

    async def count(self, now: float) -> int:
        async with self._lock:
            row = await asyncio.to_thread(
                lambda: self.db.execute("SELECT count(*) FROM ledger").fetchone()
            )
        return int(row[0])

    async def close(self) -> None:
        if self._db is not None:
            async with self._lock:
                self._db.close()
                self._db = None
