"""Remembered idempotency keys: a log table in SQLite (durable) and an index in memory (fast).

The log is only ever appended to at its tail and trimmed at its head, so remembering a key
writes about its own 40 bytes; a table indexed by the keys themselves dirtied one random
b-tree page (4 KiB) per key and measured ten times slower per put (bench/dedupe_cost.py).
Membership is answered from memory: a 128-bit hash of each key (a collision, which would
drop an event as a duplicate, is as likely as 1 in 10^26 at a million keys), loaded from the
log when the file is opened.

Keys added inside a transaction are staged and become remembered only when it commits, so a
rolled-back put leaves nothing behind (the spool retries a failed group one put at a time).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache

from publisher.inputs.dedupe import DedupeLimits

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedupe_log (
    seq INTEGER PRIMARY KEY,
    key_hash BLOB NOT NULL,
    expires_at REAL NOT NULL
);
"""
_APPEND = "INSERT INTO dedupe_log (key_hash, expires_at) VALUES "
# Rows appended many to a statement, in chunks of powers of two up to this: executemany's
# bind, step and reset per row cost more than the insert itself (as for the spool's rows).
_APPEND_MAX_ROWS = 64
_LOAD = "SELECT key_hash, expires_at FROM dedupe_log WHERE expires_at > ? ORDER BY seq"
# Rows are in the order they expire (one window for all), so forgetting walks the head.
_FORGET_EXPIRED = (
    "DELETE FROM dedupe_log WHERE seq IN (SELECT seq FROM dedupe_log ORDER BY seq LIMIT :limit)"
    " AND expires_at <= :now"
)
_FORGET_OVER_CAP = (
    "DELETE FROM dedupe_log WHERE seq <= (SELECT max(seq) FROM dedupe_log) - :max_ids"
)
# Each append also forgets up to this many expired rows besides as many as it adds, so the
# log keeps pace without a sweep of its own.
_EXTRA_FORGET = 16


def key_hash(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


class RememberedKeys:
    """The keys of the log in memory, oldest first; owned by the log's connection's thread."""

    def __init__(self) -> None:
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._staged: dict[bytes, float] = {}
        self._max_ids: int | None = None
        self._staged_at = 0.0
        self._loaded = False

    def __len__(self) -> int:
        return len(self._expiry)

    def known(self, keys: Sequence[str | None], now: float) -> set[str]:
        """Which keys are remembered (or staged) and not expired."""
        found: set[str] = set()
        for key in keys:
            if key is None:
                continue
            digest = key_hash(key)
            expires_at = self._staged.get(digest) or self._expiry.get(digest)
            if expires_at is not None and expires_at > now:
                found.add(key)
        return found

    def stage(self, hashes: Sequence[bytes], expires_at: float, now: float, max_ids: int) -> None:
        for digest in hashes:
            self._staged[digest] = expires_at
        self._max_ids = max_ids
        self._staged_at = max(self._staged_at, now)

    def commit(self) -> None:
        """The staged keys are remembered; forget what expired or is over the cap."""
        now = self._staged_at
        expiry = self._expiry
        for digest, expires_at in self._staged.items():
            expiry.pop(digest, None)
            expiry[digest] = expires_at  # the newest at the end: the dict stays in expiry order
        self._staged.clear()
        max_ids = self._max_ids
        while expiry and (
            (max_ids is not None and len(expiry) > max_ids) or next(iter(expiry.values())) <= now
        ):
            expiry.popitem(last=False)

    def rollback(self) -> None:
        self._staged.clear()

    def load_once(self, conn: sqlite3.Connection, now: float) -> None:
        """Read the log's unexpired keys, the first time only."""
        if self._loaded:
            return
        self._loaded = True
        for digest, expires_at in conn.execute(_LOAD, (now,)):
            self._expiry.pop(digest, None)
            self._expiry[digest] = expires_at


def create(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def remember(
    conn: sqlite3.Connection,
    memory: RememberedKeys,
    keys: Sequence[str],
    now: float,
    limits: DedupeLimits,
) -> None:
    """Append the keys (until now + window) inside the caller's transaction and stage them in
    memory; trim what expired or is over the cap. Call memory.commit() once committed."""
    conn.execute(_FORGET_EXPIRED, {"limit": len(keys) + _EXTRA_FORGET, "now": now})
    if not keys:
        return
    expires_at = now + limits.window_s
    hashes = [key_hash(key) for key in keys]
    _append(conn, hashes, expires_at)
    conn.execute(_FORGET_OVER_CAP, {"max_ids": limits.max_ids})
    memory.stage(hashes, expires_at, now, limits.max_ids)


def _append(conn: sqlite3.Connection, hashes: Sequence[bytes], expires_at: float) -> None:
    start, left = 0, len(hashes)
    while left:
        size = min(1 << (left.bit_length() - 1), _APPEND_MAX_ROWS)
        chunk = map(bytearray, hashes[start : start + size])  # a BLOB at once (spool.inserts)
        conn.execute(_append_sql(size), [*chunk, expires_at])
        start, left = start + size, left - size


@cache
def _append_sql(rows: int) -> str:
    """?1..?rows are the hashes, then their expiry."""
    return _APPEND + ",".join(f"(?{i}, ?{rows + 1})" for i in range(1, rows + 1))


def count(conn: sqlite3.Connection) -> int:
    """Rows in the log (a key remembered again after it expired may have two)."""
    low, high = conn.execute("SELECT min(seq), max(seq) FROM dedupe_log").fetchone()
    return 0 if low is None else int(high) - int(low) + 1
