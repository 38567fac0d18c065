"""The spool inserts a put's rows with a few multi-row statements, exactly as given."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.inserts import MAX_ROWS, insert_rows


def open_db(path: Path) -> SpoolDb:
    return SpoolDb.open(path, max_events=100_000, max_bytes=1 << 30, synchronous="NORMAL")


def stored(path: Path) -> list[tuple[int, bytes, float, str]]:
    with sqlite3.connect(path) as conn:
        query = "SELECT id, body, enqueued_at, tenant FROM messages ORDER BY id"
        return conn.execute(query).fetchall()


@pytest.mark.parametrize("count", [1, 2, 3, MAX_ROWS - 1, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 7])
@pytest.mark.parametrize("mixed", [False, True])
def test_rows_go_in_as_given_with_consecutive_ids(tmp_path: Path, count: int, mixed: bool) -> None:
    path = tmp_path / "spool.db"
    db = open_db(path)
    bodies = [b'{"n": %d, "tenant": "t"}' % n for n in range(count)]
    tenants = [f"t{n % 3}" if mixed else "acme" for n in range(count)]
    with db.transaction():
        db.put([b"{}"], ["first"], 1.0)
    with db.transaction():
        first_id, others_put = db.put(bodies, tenants, 2.5)
    db.close()
    assert (first_id, others_put) == (2, False)
    rows = stored(path)[1:]
    assert rows == [(first_id + i, bodies[i], 2.5, tenants[i]) for i in range(count)]


def test_a_put_takes_a_statement_per_chunk_not_per_row(tmp_path: Path) -> None:
    db = open_db(tmp_path / "spool.db")
    inserts: list[str] = []
    db._conn.set_trace_callback(
        lambda sql: inserts.append(sql) if sql.startswith("INSERT INTO messages") else None
    )
    count = 2 * MAX_ROWS + 3
    with db.transaction():
        db.put([b"{}"] * count, ["acme"] * count, 1.0)
        db.put([b"{}"] * count, ["acme", "globex"] * MAX_ROWS + ["acme"] * 3, 1.0)
    db.close()
    assert len(inserts) == 2 * 4  # 64 + 64 + 2 + 1, twice


def test_bodies_and_tenants_must_pair_up(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(ValueError, match="1 tenants for 2 bodies"):
        insert_rows(conn, [b"{}", b"{}"], ["acme"], 1.0)
