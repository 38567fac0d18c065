"""The SQLite ledger (spool and SQS inputs), in its own file beside the spool.

Its own file, not the spool's: the spool's single writer lock is the hot path's, and the
ledger's batches must not queue behind it (or it behind them).

Rows are only appended, and there is no index: ids are often random (UUIDs), and an index on
them turns each batch into writes all over the file (measured: 9.4 us per event at 200,000
events against 2.3 without). A lookup scans instead (about 0.2 s at 1,000,000 events), which
suits a person asking about one event. A retried event leaves a pending row and a settled
one; lookups pick the settled. Append order is age order, so expiry and the max_events bound
delete a prefix of rowids.

Writes run on the event loop in slices of WRITE_SLICE rows (about a millisecond each), not in
a worker thread: sqlite3 releases the GIL around every row, and with the loop busy each row
then costs a thread hand-over (measured: 10-13% of the daemon's CPU per event that way).
Checkpoints, which fsync, and lookups run in a thread on a second connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from itertools import chain
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
ROWS_PER_INSERT = 50
"""Rows one INSERT writes: sqlite3 steps and resets a statement, and hands the GIL over
around it, once per statement rather than once per row."""
ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Most rows (every published event's) have no reason and no dead-letter id. sqlite3 binds a
# None through its adapter lookup, which raises and clears two AttributeErrors each time:
# written as literals, those columns cost nothing per row.
ROW_WITHOUT_REASON = "(?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)"


def insert_of(row: str, count: int) -> str:
    """An INSERT of `count` rows, each written as `row`."""
    return "INSERT INTO ledger VALUES " + ", ".join([row] * count)


INSERTS = {
    row: (insert_of(row, 1), insert_of(row, ROWS_PER_INSERT)) for row in (ROW, ROW_WITHOUT_REASON)
}
SEEK = "SELECT written_at FROM ledger WHERE rowid >= ? ORDER BY rowid LIMIT 1"
WRITE_SLICE = 500
DELETE_SLICE = 5000
CHECKPOINT_ROWS = 20_000
"""Rows written between checkpoints (about 2 MB of WAL)."""


class SqliteLedger:
    def __init__(self, path: Path, retention_s: float, max_events: int) -> None:
        self.path = path
        self._retention_s = retention_s
        self._max_events = max_events
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        # The reader is used from worker threads, one call at a time.
        self._reader_lock = threading.Lock()
        self._since_checkpoint = 0

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost last batch after a power cut is fine
        db.execute("PRAGMA busy_timeout=1000")
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints fsync: done in a thread
        db.executescript(SCHEMA)
        self._db = db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("ledger is not started")
        return self._db

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        for start in range(0, len(rows), WRITE_SLICE):
            if start:
                await asyncio.sleep(0)  # let the pipeline run between slices
            with self.db:
                self.db.execute("BEGIN")
                self._insert(rows[start : start + WRITE_SLICE])
        self._since_checkpoint += len(rows)
        if self._since_checkpoint >= CHECKPOINT_ROWS:
            self._since_checkpoint = 0
            await asyncio.to_thread(self._read, "PRAGMA wal_checkpoint(PASSIVE)", ())

    def _insert(self, rows: Sequence[LedgerRow]) -> None:
        """Insert rows in order; a slice with no reason or dead-letter id skips binding them."""
        short = [row[:8] for row in rows if row[8] is None and row[9] is None]
        if len(short) == len(rows):
            self._insert_as(ROW_WITHOUT_REASON, short)
        else:
            self._insert_as(ROW, rows)

    def _insert_as(self, row: str, rows: Sequence[tuple[object, ...]]) -> None:
        """ROWS_PER_INSERT rows per statement, then the rest one per statement, in order."""
        one, many = INSERTS[row]
        whole = len(rows) - len(rows) % ROWS_PER_INSERT
        if whole:
            values = chain.from_iterable(rows[:whole])
            # zip over one iterator: consecutive groups of one statement's values each.
            width = row.count("?") * ROWS_PER_INSERT
            self.db.executemany(many, zip(*[values] * width, strict=False))
        if whole < len(rows):
            self.db.executemany(one, rows[whole:])

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        query = "SELECT * FROM ledger WHERE id = ? AND written_at >= ?"
        params: tuple[object, ...] = (event_id, now - self._retention_s)
        if tenant is not None:
            query += " AND tenant = ?"
            params += (tenant,)
        rows = await asyncio.to_thread(self._read, query, params)
        return latest_per_tenant(LedgerEntry.from_row(row) for row in rows)

    def _read(self, query: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._reader_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, check_same_thread=False)
            return self._reader.execute(query, params).fetchall()

    async def expire(self, now: float) -> int:
        """Delete the expired prefix and what is over max_events, a slice at a time."""
        first, last = self.db.execute("SELECT min(rowid), max(rowid) FROM ledger").fetchone()
        if first is None:
            return 0
        keep_from = max(self._first_fresh(first, last, now), last + 1 - self._max_events)
        removed = 0
        while first < keep_from:
            end = min(keep_from, first + DELETE_SLICE)
            removed += self.db.execute("DELETE FROM ledger WHERE rowid < ?", (end,)).rowcount
            first = end
            await asyncio.sleep(0)  # let the pipeline run between slices
        return removed

    def _first_fresh(self, first: int, last: int, now: float) -> int:
        """The first rowid written within the retention (last + 1 if none): rows are appended
        in time order, so a binary search over rowids finds it in a few seeks."""
        cutoff, low, high = now - self._retention_s, first, last + 1
        while low < high:
            middle = (low + high) // 2
            (written,) = self.db.execute(SEEK, (middle,)).fetchone()
            if written >= cutoff:
                high = middle
            else:
                low = middle + 1
        return low

    async def count(self, now: float) -> int:
        (row,) = await asyncio.to_thread(self._read, "SELECT count(*) FROM ledger", ())
        return int(str(row[0]))

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        await asyncio.to_thread(self._close_reader)

    def _close_reader(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
