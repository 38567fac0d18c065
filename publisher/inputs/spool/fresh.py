"""Rows this process has just put into the spool, kept for its own consumer.

HTTP ingest stores each event in the spool file before it answers, and the pipeline in the
same process then fetched it back: an SQLite read of what was just written, and a second
decode of an event ingest had already validated. Rows put here (committed first) wait in
memory, with their validated events, until the consumer's cursor reaches them; the file
stays the record, and what any other process puts is still read from it.

Only a run of ids that follows the cursor without a gap is taken from memory: an id that is
missing there (a row another process put, or one left out because the budget was spent)
sends the consumer to the file, which returns every row in id order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from publisher.core.event import Event

# Rows and bytes of bodies held at most; a row's event and bookkeeping take about 400 bytes
# more. Past either, rows are read back from the file as before: a consumer that is far
# behind its producers gains nothing from memory, and the pipeline fetches 500 at a time.
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class FreshRow:
    body: bytes
    enqueued_at: float
    event: Event | None


class FreshRows:
    """Committed rows by id, above the consumer's cursor, within a budget of rows and bytes."""

    def __init__(
        self, max_rows: int = DEFAULT_MAX_ROWS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._rows: dict[int, FreshRow] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def add(
        self,
        first_id: int,
        bodies: Sequence[bytes],
        enqueued_at: float,
        events: Sequence[Event] | None,
        cursor: int,
    ) -> bool:
        """Hold rows first_id, first_id + 1, ... (one committed put); False when over budget.

        Ids at or below `cursor` were already read from the file and are not held.
        """
        if events is not None and len(events) != len(bodies):
            raise ValueError(f"{len(events)} events for {len(bodies)} bodies")
        size = sum(map(len, bodies))
        if len(self._rows) + len(bodies) > self.max_rows or self._bytes + size > self.max_bytes:
            return False
        rows = self._rows
        for offset, body in enumerate(bodies):
            row_id = first_id + offset
            if row_id > cursor:
                rows[row_id] = FreshRow(body, enqueued_at, events[offset] if events else None)
                self._bytes += len(body)
        return True

    def take(self, cursor: int, limit: int) -> list[tuple[int, FreshRow]]:
        """Rows cursor + 1, cursor + 2, ..., up to `limit`, stopping at the first id not held."""
        rows = self._rows
        taken: list[tuple[int, FreshRow]] = []
        row_id = cursor + 1
        while len(taken) < limit:
            row = rows.pop(row_id, None)
            if row is None:
                break
            self._bytes -= len(row.body)
            taken.append((row_id, row))
            row_id += 1
        return taken

    def put_back(self, taken: Sequence[tuple[int, FreshRow]]) -> None:
        """Hold again rows that take() handed out but could not be delivered."""
        for row_id, row in taken:
            self._rows[row_id] = row
            self._bytes += len(row.body)

    def discard_read(self, previous_cursor: int, cursor: int) -> dict[int, FreshRow]:
        """Forget rows the consumer has read from the file (ids up to `cursor`); return them,
        so that their events still spare a decode."""
        rows = self._rows
        discarded: dict[int, FreshRow] = {}
        if not rows:
            return discarded
        # Rows at or below previous_cursor are never held, so only the ids read are looked up,
        # or the held ones when fewer (the file's ids may jump past a long gap).
        if cursor - previous_cursor <= len(rows):
            candidates: Sequence[int] = range(previous_cursor + 1, cursor + 1)
        else:
            candidates = [row_id for row_id in rows if row_id <= cursor]
        for row_id in candidates:
            row = rows.pop(row_id, None)
            if row is not None:
                self._bytes -= len(row.body)
                discarded[row_id] = row
        return discarded
