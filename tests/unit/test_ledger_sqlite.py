"""The SQLite ledger's writes: many rows per statement, and rows without a reason skip binding
the columns they leave empty; every row is written whole and in order."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from publisher.ledger.entry import DEAD_LETTERED, PUBLISHED, LedgerRow
from publisher.ledger.sqlite import (
    ROW,
    ROW_WITHOUT_REASON,
    ROWS_PER_INSERT,
    SqliteLedger,
    insert_of,
)


def published(event_id: str, now: float) -> LedgerRow:
    return (event_id, "acme", PUBLISHED, now - 1, 1, now, f"aws-{event_id}", now, None, None)


def dead_lettered(event_id: str, now: float) -> LedgerRow:
    return (event_id, "acme", DEAD_LETTERED, now - 1, 3, now, None, now, "rejected", "d" * 32)


class RecordingConnection:
    """A connection that notes the statements given to executemany."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.statements: list[str] = []

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        self.statements.append(sql)
        return self.db.executemany(sql, rows)

    def __enter__(self) -> sqlite3.Connection:
        return self.db.__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        return self.db.__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


async def written(rows: list[LedgerRow], path: Path) -> tuple[list[str], list[tuple[object, ...]]]:
    """The statements the store inserted `rows` with, and the table afterwards in rowid order."""
    store = SqliteLedger(path, retention_s=3600, max_events=1000)
    await store.start()
    recording = RecordingConnection(store.db)
    store._db = recording  # type: ignore[assignment]
    await store.write(rows)
    table = recording.db.execute("SELECT * FROM ledger ORDER BY rowid").fetchall()
    await store.close()
    return recording.statements, table


async def test_published_rows_are_written_without_binding_reason_columns(tmp_path: Path) -> None:
    now = time.time()
    rows = [published(f"ord-{n}", now) for n in range(3)]

    inserts, table = await written(rows, tmp_path / "ledger.db")

    assert inserts == [insert_of(ROW_WITHOUT_REASON, 1)]
    assert table == rows


async def test_a_slice_with_a_dead_letter_keeps_every_field_and_the_order(tmp_path: Path) -> None:
    now = time.time()
    rows = [published("ord-1", now), dead_lettered("ord-2", now), published("ord-3", now)]

    inserts, table = await written(rows, tmp_path / "ledger.db")

    assert inserts == [insert_of(ROW, 1)]
    assert table == rows


async def test_many_rows_go_a_statement_of_many_at_a_time_in_order(tmp_path: Path) -> None:
    now = time.time()
    rows = [published(f"ord-{n}", now) for n in range(2 * ROWS_PER_INSERT + 3)]
    rows[ROWS_PER_INSERT + 1] = dead_lettered("ord-dead", now)

    inserts, table = await written(rows, tmp_path / "ledger.db")

    assert inserts == [insert_of(ROW, ROWS_PER_INSERT), insert_of(ROW, 1)]
    assert table == rows


async def test_many_published_rows_leave_their_reason_columns_unbound(tmp_path: Path) -> None:
    now = time.time()
    rows = [published(f"ord-{n}", now) for n in range(ROWS_PER_INSERT)]

    inserts, table = await written(rows, tmp_path / "ledger.db")

    assert inserts == [insert_of(ROW_WITHOUT_REASON, ROWS_PER_INSERT)]
    assert table == rows
