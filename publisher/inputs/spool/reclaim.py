"""When the spool file gives disk space back: once, after a large backlog has drained.

Acknowledged rows leave free pages behind, which later puts reuse. Giving them back to the
disk costs CPU and pauses the spool's thread, and growing the file again costs more, so it
happens only when a backlog of at least MIN_PEAK_BYTES has fallen to 1/DRAINED_SHARE of its
peak (a daemon keeping up with a flood holds less; one falling behind gets there when the
flood ends) and at least MIN_FREE_BYTES are free. One pass then gives back every free page
(what is still stored at that moment is freed later and kept for reuse). VACUUM copies the
rows left into a new file: its cost follows what is kept, where incremental_vacuum's follows
the pages given back, several times more per page. When much is kept (a large dedupe log),
incremental_vacuum is used instead, a bounded number of pages a pass.
"""

from __future__ import annotations

import sqlite3

import structlog

log = structlog.get_logger(__name__)

MIN_PEAK_BYTES = 8 * 1024 * 1024
DRAINED_SHARE = 32
MIN_FREE_BYTES = MIN_PEAK_BYTES // 2
_VACUUM_MAX_KEPT_PAGES = 4096
_INCREMENTAL_MAX_PAGES = 4096


class SpaceReclaimer:
    """Follows the bytes stored (as put and ack see them) and reclaims after a drain."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        self._peak: int | None = None
        """The most bytes stored since the last look; None: look at the first ack (a file
        opened may hold free pages from before)."""
        self._look = False
        self._backlog = 0
        self._failing = False

    def stored(self, backlog_bytes: int) -> None:
        """Note the bytes stored after a put."""
        if self._peak is not None and backlog_bytes > self._peak:
            self._peak = backlog_bytes

    def acked(self, backlog_bytes: int) -> None:
        """Note the bytes stored after an ack; looks at the file after the commit if drained."""
        peak = self._peak
        if peak is None or (peak >= MIN_PEAK_BYTES and backlog_bytes * DRAINED_SHARE <= peak):
            self._look = True
        self._backlog = backlog_bytes

    def after_commit(self) -> None:
        """Reclaim if a drain was seen and enough of the file is free; outside a transaction."""
        if not self._look:
            return
        self._look = False
        try:
            self._reclaim()
        except sqlite3.Error as exc:
            # A lock held too long, no room for VACUUM's copy: look again at the next ack,
            # saying so once per run of failures.
            self._peak = None
            if not self._failing:
                log.warning("spool_reclaim_failed", error=str(exc))
            self._failing = True
            raise
        self._failing = False

    def _reclaim(self) -> None:
        self._peak = self._backlog
        free = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
        if free * self._page_size < MIN_FREE_BYTES:
            return
        kept = int(self._conn.execute("PRAGMA page_count").fetchone()[0]) - free
        if kept * 2 <= free and kept <= _VACUUM_MAX_KEPT_PAGES:
            self._conn.execute("VACUUM")
            how, pages = "vacuum", free
        else:
            # execute() would step this pragma once, freeing one page; executescript runs it
            # through.
            self._conn.executescript(f"PRAGMA incremental_vacuum({_INCREMENTAL_MAX_PAGES})")
            how, pages = "incremental", min(free, _INCREMENTAL_MAX_PAGES)
            if free > _INCREMENTAL_MAX_PAGES:
                self._peak = None  # more to give back: look again at the next ack
        # The main file only shrinks when the WAL is checkpointed; TRUNCATE also empties the WAL.
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        log.info("spool_space_reclaimed", pages=pages, how=how)
