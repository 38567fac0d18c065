"""The spool file gives disk space back once a large backlog has drained, not while it flows."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.reclaim import MIN_FREE_BYTES, MIN_PEAK_BYTES

BODY = 1000
ACK = 80  # about what a daemon under load deletes at once


class Spool:
    """A spool file with the statements that give space back recorded."""

    def __init__(self, path: Path) -> None:
        self.db = SpoolDb.open(path, max_events=1_000_000, max_bytes=1 << 34, synchronous="NORMAL")
        self.reclaims: list[str] = []
        self.db._conn.set_trace_callback(self._trace)
        self.next_id = 1
        self.top = 0

    def _trace(self, sql: str) -> None:
        if sql == "VACUUM" or sql.startswith("PRAGMA incremental_vacuum"):
            self.reclaims.append(sql)

    def put(self, total_bytes: int) -> None:
        for _ in range(0, total_bytes, 500 * BODY):
            with self.db.transaction():
                first, _ = self.db.put([os.urandom(BODY) for _ in range(500)], ["acme"] * 500, 0.0)
            self.top = first + 499

    def drain(self) -> None:
        while self.next_id <= self.top:
            with self.db.transaction():
                self.db.ack(range(self.next_id, min(self.next_id + ACK, self.top + 1)))
            self.db.after_commit()
            self.next_id += ACK

    def pages(self) -> tuple[int, int]:
        """(pages in the file, free pages)"""
        conn = self.db._conn
        count = conn.execute("PRAGMA page_count").fetchone()[0]
        return int(count), int(conn.execute("PRAGMA freelist_count").fetchone()[0])


def test_backlogs_a_daemon_keeps_up_with_are_not_given_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    for _ in range(10):  # in all far more than MIN_PEAK_BYTES, each backlog below it
        spool.put(MIN_PEAK_BYTES // 3)
        spool.drain()
    pages, free = spool.pages()
    spool.db.close()
    assert spool.reclaims == []
    # Kept for reuse: the file is about one backlog large, not ten.
    assert free * 4096 >= MIN_PEAK_BYTES // 4
    assert pages * 4096 < MIN_PEAK_BYTES


def test_a_large_backlog_is_given_back_in_one_pass(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put(4 * MIN_PEAK_BYTES)
    full, _ = spool.pages()
    spool.drain()
    pages, free = spool.pages()
    spool.db.close()
    assert spool.reclaims == ["VACUUM"]
    assert full * 4096 > 4 * MIN_PEAK_BYTES
    assert pages * 4096 < 4 * MIN_PEAK_BYTES // 16
    assert free * 4096 < MIN_FREE_BYTES  # what was left at the pass, kept for reuse


def test_pages_move_a_bounded_number_at_a_time_when_much_is_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    with spool.db.transaction():  # a large dedupe log that stays
        spool.db._conn.executemany(
            "INSERT INTO dedupe_log (key_hash, expires_at) VALUES (?, 1e12)",
            [(os.urandom(600),) for _ in range(2 * MIN_PEAK_BYTES // 600)],
        )
    spool.put(2 * MIN_PEAK_BYTES)
    full, _ = spool.pages()
    spool.drain()
    pages, _ = spool.pages()
    spool.db.close()
    assert spool.reclaims
    assert all(sql.startswith("PRAGMA incremental") for sql in spool.reclaims)
    assert pages * 4096 < full * 4096 - MIN_PEAK_BYTES


def test_a_reclaim_that_fails_is_tried_again_after_the_next_ack(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.db._conn.execute("PRAGMA busy_timeout = 50")  # fail fast on the held lock below
    spool.put(4 * MIN_PEAK_BYTES)
    with spool.db.transaction():
        spool.db.ack(range(1, spool.top))  # all but the last row: a backlog drained
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer (the enqueue command) holds the lock
    with pytest.raises(sqlite3.OperationalError):
        spool.db.after_commit()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert spool.reclaims == ["VACUUM"]
    full, _ = spool.pages()

    with spool.db.transaction():
        spool.db.ack([spool.top])
    spool.db.after_commit()
    pages, _ = spool.pages()
    spool.db.close()
    assert spool.reclaims == ["VACUUM", "VACUUM"]
    assert pages * 4096 < full * 4096 // 16
