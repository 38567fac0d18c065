"""The remembered ids as a SQLite table, shared by the spool file and the stand-alone store.

Rows are numbered in the order they were remembered (`seq`); with one window for all keys
that is also the order they expire in, so forgetting walks from the smallest `seq` and the
count is max(seq) - min(seq) + 1 without a counter row. The caller runs each function inside
its own write transaction, so a check and the writes that follow it see one state.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from publisher.inputs.dedupe import DedupeLimits

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedupe (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    expires_at REAL NOT NULL
);
"""
_KNOWN = (
    "SELECT key FROM dedupe WHERE key IN (SELECT value FROM json_each(:keys)) AND expires_at > :now"
)
# REPLACE gives a key remembered again (its old row expired) a new, highest seq.
_REMEMBER = "INSERT OR REPLACE INTO dedupe (key, expires_at) VALUES (?, ?)"
_FORGET_EXPIRED = (
    "DELETE FROM dedupe WHERE seq IN (SELECT seq FROM dedupe ORDER BY seq LIMIT :limit)"
    " AND expires_at <= :now"
)
_FORGET_OVER_CAP = "DELETE FROM dedupe WHERE seq <= (SELECT max(seq) FROM dedupe) - :max_ids"
# Each put forgets up to this many expired keys besides as many as it adds, so forgetting
# keeps pace with remembering without a sweep of its own.
_EXTRA_FORGET = 16


def create(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def known(conn: sqlite3.Connection, keys: Sequence[str | None], now: float) -> set[str]:
    """Which of the keys are remembered and not expired."""
    wanted = [key for key in keys if key is not None]
    if not wanted:
        return set()
    rows = conn.execute(_KNOWN, {"keys": orjson.dumps(wanted).decode(), "now": now})
    return {key for (key,) in rows}


def remember(
    conn: sqlite3.Connection, keys: Sequence[str], now: float, limits: DedupeLimits
) -> None:
    """Remember the keys until now + window, and forget what expired or is over the cap."""
    conn.execute(_FORGET_EXPIRED, {"limit": len(keys) + _EXTRA_FORGET, "now": now})
    if keys:
        expires_at = now + limits.window_s
        conn.executemany(_REMEMBER, [(key, expires_at) for key in keys])
        conn.execute(_FORGET_OVER_CAP, {"max_ids": limits.max_ids})


def count(conn: sqlite3.Connection) -> int:
    low, high = conn.execute("SELECT min(seq), max(seq) FROM dedupe").fetchone()
    return 0 if low is None else int(high) - int(low) + 1
