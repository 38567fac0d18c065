"""The spool's SQLite file: schema, pragmas and every statement; synchronous, a thread each."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import structlog

from publisher.errors import InputFull, SpoolDamaged, StartRefused
from publisher.inputs import dedupe_sql
from publisher.inputs.dedupe import DedupeLimits
from publisher.inputs.spool import integrity
from publisher.inputs.spool.inserts import insert_rows
from publisher.inputs.spool.reclaim import SpaceReclaimer
from publisher.inputs.spool.runs import split_runs
from publisher.inputs.spool.upgrade import COUNT_TENANTS, add_tenants, visible_at_without_default

log = structlog.get_logger(__name__)

Synchronous = Literal["NORMAL", "FULL"]
Row = tuple[int, bytes, float]
"""id, body, enqueued_at"""

# identity: a random id per spool file, also kept in the mark beside it (spool.mark), so that a
# replaced or truncated file is told apart from the one that held the pending events.
# AUTOINCREMENT: ids are never reused, so a late ack of an old lease can never delete a newer
# message that happened to get the same rowid.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0,
    tenant TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS totals (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (singleton, events, bytes) VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    spool_id TEXT NOT NULL
);
"""
# A tenant's count changes in the same transaction as its rows (see spool.upgrade).
_COUNT = (
    "INSERT INTO tenant_backlog (tenant, events) VALUES (?, ?) "
    "ON CONFLICT (tenant) DO UPDATE SET events = events + excluded.events"
)
_TENANT_OF_BODY = (
    "CASE WHEN json_valid(CAST(?2 AS TEXT)) "
    "THEN coalesce(json_extract(CAST(?2 AS TEXT), '$.tenant'), '') ELSE '' END"
)
# Nothing reads or writes `visible_at` and `deliveries`: leases live in the consuming process
# (see SpoolInput). The columns stay, with defaults (a zero costs no bytes in a row), so that
# an earlier version can still open a file this one created; the index on visible_at would
# cost every insert and delete a b-tree update, so it goes.
_DROP_OLD_INDEX = "DROP INDEX IF EXISTS messages_by_visible_at"
# Files created by those earlier versions declare visible_at without a default: it must be
# given, and gets the put time.
_INSERT_INTO_OLD_FILE = (
    "INSERT INTO messages (body, enqueued_at, visible_at, tenant) VALUES (?, ?, ?, ?)"
)
_READ_AFTER = "SELECT id, body, enqueued_at FROM messages WHERE id > ? ORDER BY id LIMIT ?"
_READ_TENANT_AFTER = (
    "SELECT id, body, enqueued_at FROM messages WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?"
)
_TENANTS_WITH_ROWS = "SELECT tenant, events FROM tenant_backlog WHERE events > 0"
_OLDEST_OF_TENANT = "SELECT enqueued_at FROM messages WHERE tenant = ? ORDER BY id LIMIT 1"
_LAST_ID = "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'"
# One constant statement per operation whatever the batch size, so each stays prepared.
_IDS = "SELECT value FROM json_each(:ids)"
_READ_IDS = f"SELECT id, body, enqueued_at FROM messages WHERE id IN ({_IDS}) ORDER BY id"
# What an ack takes away, summed per tenant by SQLite: RETURNING would hand every deleted
# row to Python to be summed there.
_ACKED_BY_TENANT = (
    f"SELECT tenant, count(*), sum(length(body)) FROM messages WHERE id IN ({_IDS}) GROUP BY tenant"
)
_DELETE = f"DELETE FROM messages WHERE id IN ({_IDS})"
_ACKED_IN_RUN = (
    "SELECT tenant, count(*), sum(length(body)) FROM messages "
    "WHERE id BETWEEN ? AND ? GROUP BY tenant"
)
# The usual run is one tenant's: asked first without GROUP BY, which sorts every row.
_ONE_TENANT_IN_RUN = (
    "SELECT min(tenant), max(tenant), count(*), sum(length(body)) FROM messages "
    "WHERE id BETWEEN ? AND ?"
)
_DELETE_RUN = "DELETE FROM messages WHERE id BETWEEN ? AND ?"
_ADD_TOTALS = "UPDATE totals SET events = events + ?, bytes = bytes + ? RETURNING bytes"

_JOURNAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
# Checkpoints normally run on a connection of their own (open_checkpointer), off the thread
# that answers puts and fetches: a checkpoint copies many pages, and every operation queued
# behind it on that thread would wait. The commit-time checkpoint stays as a backstop, with
# a threshold well above SQLite's default, that bounds the WAL should those fall behind.
_BACKSTOP_AUTOCHECKPOINT_PAGES = 8192


class SpoolDb:
    """One connection to the spool file; every method must run on the thread that opened it.

    The operations do not commit: the caller wraps one or more of them in `transaction()`.
    """

    def __init__(self, conn: sqlite3.Connection, max_events: int, max_bytes: int) -> None:
        self._conn = conn
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._reclaimer = SpaceReclaimer(conn)
        # Loaded on the first keyed put: processes that only enqueue never need it.
        self._remembered = dedupe_sql.RememberedKeys()
        self._old_file = visible_at_without_default(conn)
        self._known_top = self.last_id()
        """The highest id the consumer has been told about (every row at or below was there
        when it opened, or put through this connection, or seen by tenants_with_rows)."""

    @classmethod
    def open(
        cls,
        path: Path,
        max_events: int,
        max_bytes: int,
        synchronous: Synchronous,
        check_integrity: bool = False,
    ) -> SpoolDb:
        """Open or create the file; raise SpoolDamaged for a file SQLite finds corrupt
        (checked in full, as far as PRAGMA quick_check goes, with check_integrity)."""
        require_sqlite_version()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        try:
            if check_integrity:
                integrity.check_integrity(conn, path)
            cls._prepare(conn, path, synchronous)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if integrity.is_corruption(exc):
                raise SpoolDamaged(integrity.damage_report(path, str(exc))) from None
            raise
        except BaseException:
            conn.close()
            raise
        return cls(conn, max_events, max_bytes)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, path: Path, synchronous: Synchronous) -> None:
        # auto_vacuum only takes effect before the first table exists, so it comes first.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a commit is written to the WAL file (the OS page cache) before
        # COMMIT returns, and only checkpoints fsync. A killed process loses nothing the
        # kernel already holds, so an acknowledged put survives SIGKILL; only an OS crash
        # or power loss may roll back the last commits. FULL (an fsync per commit) also
        # covers those, at the cost of an fsync per commit (bench/spool_rate.py).
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT_BYTES}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {_BACKSTOP_AUTOCHECKPOINT_PAGES}")
        conn.executescript(_SCHEMA)
        dedupe_sql.create(conn)
        conn.execute(_DROP_OLD_INDEX)
        add_tenants(conn)
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            log.warning("spool_without_incremental_vacuum", path=str(path))

    def close(self) -> None:
        self._conn.close()

    @staticmethod
    def open_checkpointer(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
        """A second connection to an open spool, only for `checkpoint`, on a thread of its own."""
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            # The connection that checkpoints decides the fsyncs: the same level as the writer.
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT_BYTES}")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def checkpoint(conn: sqlite3.Connection) -> None:
        """Copy committed WAL frames into the file without waiting for or blocking anyone."""
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction around any number of the operations below."""
        # IMMEDIATE takes the write lock up front: a bound check and its insert see one state.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            self._remembered.rollback()
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._remembered.commit()

    def after_commit(self) -> None:
        """Housekeeping that must run outside a transaction (spool.reclaim)."""
        self._reclaimer.after_commit()

    def put(self, bodies: Sequence[bytes], tenants: Sequence[str], now: float) -> tuple[int, bool]:
        """Insert all bodies, or raise InputFull before writing anything; returns the first id
        and whether another process put rows since this connection last looked.

        The ids are consecutive: the transaction holds the write lock, and AUTOINCREMENT
        hands out the next id to each row in turn.
        """
        size = sum(map(len, bodies))
        events, used = self._totals()
        if events + len(bodies) > self._max_events:
            raise InputFull(f"the spool holds at most {self._max_events} events")
        if used + size > self._max_bytes:
            raise InputFull(f"the spool holds at most {self._max_bytes} bytes of events")
        if self._old_file or not bodies:  # else the last INSERT's cursor tells the last id
            rows = zip(map(bytearray, bodies), tenants, strict=True)
            self._conn.executemany(_INSERT_INTO_OLD_FILE, [(b, now, now, t) for b, t in rows])
            (last_id,) = self._conn.execute("SELECT last_insert_rowid()").fetchone()
        else:
            last_id = insert_rows(self._conn, bodies, tenants, now)
        self._reclaimer.stored(self._add_totals(len(bodies), size))
        self._count_tenants(tenants, 1)
        first_id = int(last_id) - len(bodies) + 1
        others_put = first_id != self._known_top + 1
        self._known_top = int(last_id)
        return first_id, others_put

    def put_once(
        self,
        keys: Sequence[str | None],
        bodies: Sequence[bytes],
        tenants: Sequence[str],
        now: float,
        limits: DedupeLimits,
    ) -> tuple[int, bool, list[bool]]:
        """Like put for the bodies whose key is not remembered, remembering their keys in the
        same transaction; returns the first id (0 if none was new), whether another process
        put rows (as put), and which were duplicates."""
        self._remembered.load_once(self._conn, now)
        remembered = self._remembered.known(keys, now) if any(keys) else None
        if not remembered:  # no duplicate: every body goes in as it came
            first_id, others_put = self.put(bodies, tenants, now)
            new_keys = [key for key in keys if key]
            dedupe_sql.remember(self._conn, self._remembered, new_keys, now, limits)
            return first_id, others_put, [False] * len(keys)
        duplicates = [key is not None and key in remembered for key in keys]
        new = [i for i, dup in enumerate(duplicates) if not dup]
        first_id, others_put = (
            self.put([bodies[i] for i in new], [tenants[i] for i in new], now)
            if new
            else (0, False)
        )
        new_keys = [key for key, dup in zip(keys, duplicates, strict=True) if key and not dup]
        dedupe_sql.remember(self._conn, self._remembered, new_keys, now, limits)
        return first_id, others_put, duplicates

    def read_after(self, after_id: int, limit: int) -> list[Row]:
        """Up to `limit` messages with ids above `after_id`, oldest first."""
        return self._conn.execute(_READ_AFTER, (after_id, limit)).fetchall()

    def read_tenant_after(self, tenant: str, after_id: int, limit: int) -> list[Row]:
        """Up to `limit` of the tenant's messages with ids above `after_id`, oldest first."""
        return self._conn.execute(_READ_TENANT_AFTER, (tenant, after_id, limit)).fetchall()

    def rows_by_tenant(self) -> dict[str, int]:
        """Rows stored per tenant, leased ones included."""
        return dict(self._conn.execute(_TENANTS_WITH_ROWS).fetchall())

    def tenants_with_rows(self) -> tuple[dict[str, int], int, bool]:
        """Rows stored per tenant (leased ones included), the last id handed out, and whether
        another process put rows since this connection last looked."""
        counts = self.rows_by_tenant()
        last_id = self.last_id()
        others_put = last_id > self._known_top
        self._known_top = max(self._known_top, last_id)
        return counts, last_id, others_put

    def oldest_of(self, tenant: str) -> float | None:
        row = self._conn.execute(_OLDEST_OF_TENANT, (tenant,)).fetchone()
        return None if row is None else float(row[0])

    def last_id(self) -> int:
        return int(self._conn.execute(_LAST_ID).fetchone()[0])

    def read_ids(self, ids: str) -> list[Row]:
        """The messages with these ids (a JSON array) that are still stored, oldest first."""
        return self._conn.execute(_READ_IDS, {"ids": ids}).fetchall()

    def ack(self, ids: Iterable[int]) -> None:
        """Delete the rows with these ids that are still stored."""
        runs, others = split_runs(ids)
        acked: dict[str, tuple[int, int]] = {}
        for first, last in runs:
            ((low, high, count, size),) = self._conn.execute(_ONE_TENANT_IN_RUN, (first, last))
            if low == high and count:
                _add_up(acked, [(low, count, size)])
            elif count:
                _add_up(acked, self._conn.execute(_ACKED_IN_RUN, (first, last)))
        params = {"ids": json_ids(others)}
        if others:
            _add_up(acked, self._conn.execute(_ACKED_BY_TENANT, params))
        if not acked:
            return
        self._conn.executemany(_DELETE_RUN, runs)
        if others:
            self._conn.execute(_DELETE, params)
        left = self._add_totals(
            -sum(n for n, _ in acked.values()), -sum(s for _, s in acked.values())
        )
        self._conn.executemany(_COUNT, [(tenant, -n) for tenant, (n, _) in acked.items()])
        self._reclaimer.acked(left)

    def backlog(self) -> int:
        return self._totals()[0]

    def insert_exact(self, rows: Sequence[Row]) -> None:
        """Insert rows with their own ids and receive times (salvage); totals via recount()."""
        self._conn.executemany(
            "INSERT INTO messages (id, body, enqueued_at, visible_at, tenant) "
            f"VALUES (?1, ?2, ?3, ?3, {_TENANT_OF_BODY})",
            [(message_id, body, at) for message_id, body, at in rows],
        )

    def recount(self) -> None:
        """Set the totals row and the per-tenant counts from the rows themselves."""
        self._conn.execute(
            "UPDATE totals SET events = (SELECT count(*) FROM messages), "
            "bytes = (SELECT coalesce(sum(length(body)), 0) FROM messages)"
        )
        self._conn.execute("DELETE FROM tenant_backlog")
        self._conn.execute(COUNT_TENANTS)

    def identity(self) -> str | None:
        row = self._conn.execute("SELECT spool_id FROM identity").fetchone()
        return str(row[0]) if row else None

    def new_identity(self) -> str:
        spool_id = uuid.uuid4().hex
        self._conn.execute("INSERT OR REPLACE INTO identity VALUES (0, ?)", (spool_id,))
        return spool_id

    def high_water(self) -> int:
        """The highest message id ever handed out (AUTOINCREMENT's record)."""
        row = self._conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'messages'"
        ).fetchone()
        return int(row[0]) if row else 0

    def _totals(self) -> tuple[int, int]:
        events, used = self._conn.execute("SELECT events, bytes FROM totals").fetchone()
        return int(events), int(used)

    def _count_tenants(self, tenants: Sequence[str], sign: int) -> None:
        counts: dict[str, int] = {}
        for tenant in tenants:
            counts[tenant] = counts.get(tenant, 0) + sign
        self._conn.executemany(_COUNT, list(counts.items()))

    def _add_totals(self, events: int, size: int) -> int:
        """Add to the totals; the bytes stored after."""
        # A counter row updated in the same transaction as the rows it counts stays exact even
        # when another process (the `enqueue` command) writes to the same file.
        ((stored,),) = self._conn.execute(_ADD_TOTALS, (events, size)).fetchall()
        return int(stored)


def _add_up(acked: dict[str, tuple[int, int]], rows: Iterable[tuple[str, int, int]]) -> None:
    """Sum (rows, bytes) per tenant over the answers of several statements."""
    for tenant, count, size in rows:
        before, before_size = acked.get(tenant, (0, 0))
        acked[tenant] = (before + count, before_size + size)


MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING (the totals after a put or an ack)


def require_sqlite_version(found: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """StartRefused naming both versions when Python's SQLite library is older than MIN_SQLITE."""
    if found < MIN_SQLITE:
        raise StartRefused(
            f"the spool needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; "
            f"this Python has {'.'.join(map(str, found))}"
        )


def json_ids(ids: Sequence[int]) -> str:
    """Message ids as the JSON array the statements expand with json_each."""
    return "[" + ",".join(map(str, ids)) + "]"
